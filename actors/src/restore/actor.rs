//! `RestoreActor`: consumes the `OpenBaoRestore` requests of one cluster, one at a time, oldest first.
//!
//! A request goes Pending → Validating (a dry-run Job pins the snapshot; no lock, nothing destructive) → the lock
//! (waits visibly behind a backup or an upgrade) → a durable receipt (phase `Running`, `jobName`, epoch, a
//! finalizer) written before the restore Job exists → the Job's report → Completed or Failed, and only then the
//! lock is released. The actor keeps its own copy of every request's status (it is the only writer); the watch
//! cache only tells it which requests exist.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openbao_crds::conditions::RestoreConditionType;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, OpenBaoRestoreStatus, Operation, RestorePhase};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr};

use super::effects::{
    RestoreEffects, RestoreEventReason, RestoreJobKind, RestoreJobRequest, RestoreMetricOutcome,
};
use super::messages::{RestoreArgs, RestoreMsg};
use super::plan::{self, PreflightVerdict, RestoreVerdict};
use super::status::{condition_reason, set_condition};
use crate::backup::effects::JobCreation;
use crate::child::ResumedWork;
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, ConditionUpdate, EventReason, JobObservation, JobState};
use crate::holder::HolderId;
use crate::lock_client::{LockClient, LockReply, OperationReport, Preempted};
use crate::metrics::{ActorKind, MailboxGauge};
use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};

const RETRY_AFTER_ERROR: Duration = Duration::from_secs(10);
/// Bound on steps per message; each step moves a request forward, so this only guards against a bug looping.
const MAX_STEPS: usize = 32;
const RESTORE_KIND: ActorKind = ActorKind::Child(Operation::Restore);

type Timer = JoinHandle<Result<(), MessagingErr<RestoreMsg>>>;

/// What the actor knows of one request beyond its persisted status.
#[derive(Default)]
struct Known {
    status: OpenBaoRestoreStatus,
    /// This incarnation created (or found) the preflight Job and read its state once.
    preflight_checked: bool,
    /// This incarnation created the restore Job, or adopted it after reading its state.
    restore_job_seen: bool,
    /// The receipt is written but the Job's creation failed: retry it (same name, so never a second Job).
    restore_job_pending: bool,
    /// The audit message when the grant displaced another holder.
    overridden: Option<String>,
    /// This incarnation added the finalizer (the cached object may not show it yet).
    finalizer_added: bool,
    epoch: Option<u64>,
}

pub struct RestoreState {
    key: ClusterKey,
    cluster: Arc<OpenBaoCluster>,
    effects: ClusterEffects,
    restore: RestoreEffects,
    lock: LockClient,
    mailbox: MailboxGauge,
    known: HashMap<String, Known>,
    resumed: Option<ResumedWork>,
    retry_timer: Option<Timer>,
}

/// What one step did, i.e. whether stepping again now makes sense.
enum Step {
    /// Waiting for a message (a Job event, a lock release).
    Wait,
    Again,
    RetryLater,
}

fn uid_of(request: &OpenBaoRestore) -> Option<&str> {
    request.metadata.uid.as_deref()
}

fn name_of(request: &OpenBaoRestore) -> &str {
    request.metadata.name.as_deref().unwrap_or_default()
}

fn has_finalizer(request: &OpenBaoRestore) -> bool {
    request
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == super::FINALIZER)
}

impl RestoreState {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.effects.clock.now()
    }

    fn known_mut(&mut self, request: &OpenBaoRestore) -> &mut Known {
        let uid = uid_of(request).unwrap_or_default().to_string();
        self.known.entry(uid).or_insert_with(|| Known {
            status: request.status.clone().unwrap_or_default(),
            ..Known::default()
        })
    }

    fn phase(&mut self, request: &OpenBaoRestore) -> Option<RestorePhase> {
        self.known_mut(request).status.phase
    }

    async fn write(&mut self, request: &OpenBaoRestore) -> bool {
        let generation = request.metadata.generation;
        let status = {
            let known = self.known_mut(request);
            known.status.observed_generation = generation;
            known.status.clone()
        };
        match self.restore.writer.write_status(request, &status).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(cluster = %self.key, restore = name_of(request), %error,
                    "could not write the OpenBaoRestore status");
                false
            }
        }
    }

    async fn event(&self, request: &OpenBaoRestore, reason: RestoreEventReason, message: String) {
        if let Err(error) = self
            .restore
            .writer
            .record_event(request, reason, message)
            .await
        {
            tracing::warn!(cluster = %self.key, restore = name_of(request), event = reason.as_str(), %error,
                "could not record event");
        }
    }

    async fn cluster_restoring(&self, restoring: bool, message: String) {
        let condition = ConditionUpdate {
            type_: ClusterConditionType::Restoring,
            status: if restoring {
                ConditionStatus::True
            } else {
                ConditionStatus::False
            },
            reason: if restoring {
                ClusterConditionReason::RestoreInProgress.into()
            } else {
                ClusterConditionReason::NoRestore.into()
            },
            message,
        };
        if let Err(error) = self
            .restore
            .cluster_conditions
            .write_cluster_conditions(&self.key, &[condition])
            .await
        {
            tracing::warn!(cluster = %self.key, %error, "could not write the Restoring condition");
        }
    }

    /// Decide and act until the actor has to wait for something.
    async fn evaluate(&mut self, myself: &ActorRef<RestoreMsg>) {
        for _ in 0..MAX_STEPS {
            match self.step().await {
                Step::Again => continue,
                Step::Wait => return,
                Step::RetryLater => {
                    self.arm_retry(myself);
                    return;
                }
            }
        }
        tracing::error!(cluster = %self.key, "restore decisions did not settle; waiting for the next message");
    }

    fn arm_retry(&mut self, myself: &ActorRef<RestoreMsg>) {
        if self
            .retry_timer
            .as_ref()
            .is_none_or(|timer| timer.is_finished())
        {
            self.retry_timer = Some(myself.send_after(RETRY_AFTER_ERROR, || RestoreMsg::Retry));
        }
    }

    async fn step(&mut self) -> Step {
        let all = self.restore.requests.requests_for(&self.key);
        let live: HashSet<&str> = all.iter().filter_map(|r| uid_of(r)).collect();
        self.known.retain(|uid, _| live.contains(uid.as_str()));
        // A request that ended keeps no finalizer (one is left behind when the operator stopped in between).
        for request in &all {
            if has_finalizer(request) && self.phase(request).is_some_and(RestorePhase::is_terminal)
            {
                self.drop_finalizer(request).await;
            }
        }
        let mut waiting = Vec::new();
        for request in plan::queue(all) {
            if uid_of(&request).is_none() {
                continue;
            }
            let phase = self.phase(&request);
            if phase.is_some_and(RestorePhase::is_terminal) {
                continue;
            }
            waiting.push((phase, request));
        }
        // A request already being worked on stays first, also ahead of one created in the same second (creation
        // times have a resolution of one second) that sorts before it by name.
        waiting.sort_by_key(|(phase, _)| {
            !matches!(
                phase,
                Some(RestorePhase::Validating | RestorePhase::Running)
            )
        });
        let Some(((_, head), behind)) = waiting.split_first() else {
            return Step::Wait;
        };
        for (_, request) in behind {
            self.note_queued(request, name_of(head)).await;
        }
        self.step_head(head).await
    }

    /// A request behind another one: `Pending`, with a condition that names the one ahead.
    async fn note_queued(&mut self, request: &OpenBaoRestore, ahead: &str) {
        let now = self.now();
        let first_seen = self.phase(request).is_none();
        let message =
            format!("queued behind OpenBaoRestore {ahead}: one restore runs at a time per cluster");
        let known = self.known_mut(request);
        let mut changed = known.status.phase != Some(RestorePhase::Pending);
        known.status.phase = Some(RestorePhase::Pending);
        changed |= set_condition(
            &mut known.status,
            RestoreConditionType::Validated,
            false,
            "Queued",
            &message,
            now,
        );
        if known.status.message.as_deref() != Some(message.as_str()) {
            known.status.message = Some(message.clone());
            changed = true;
        }
        if changed {
            self.write(request).await;
        }
        if first_seen {
            self.event(request, RestoreEventReason::RestoreQueued, message)
                .await;
        }
    }

    async fn step_head(&mut self, request: &OpenBaoRestore) -> Step {
        match self.phase(request).unwrap_or(RestorePhase::Pending) {
            RestorePhase::Pending => self.begin_validation(request).await,
            RestorePhase::Validating => {
                if self.known_mut(request).status.snapshot.is_some() && self.is_validated(request) {
                    self.take_lock(request).await
                } else {
                    self.check_preflight(request).await
                }
            }
            RestorePhase::Running => self.follow_restore_job(request).await,
            RestorePhase::Completed | RestorePhase::Failed => Step::Again,
        }
    }

    fn is_validated(&mut self, request: &OpenBaoRestore) -> bool {
        self.known_mut(request)
            .status
            .conditions
            .iter()
            .any(|c| c.type_ == RestoreConditionType::Validated.as_str() && c.status == "True")
    }

    async fn begin_validation(&mut self, request: &OpenBaoRestore) -> Step {
        let now = self.now();
        let first_seen = self.known_mut(request).status.phase.is_none();
        if first_seen {
            self.event(
                request,
                RestoreEventReason::RestoreQueued,
                format!("restore into OpenBaoCluster {} accepted", self.key.name),
            )
            .await;
        }
        if let Err(refusal) = plan::admit(&self.cluster, request) {
            return self
                .fail_validation(request, refusal.reason, &refusal.message)
                .await;
        }
        let known = self.known_mut(request);
        known.status.phase = Some(RestorePhase::Validating);
        known.status.start_time.get_or_insert(now);
        known.status.message =
            Some("validating: resolving, downloading and verifying the snapshot (no lock, nothing changed)".into());
        set_condition(
            &mut known.status,
            RestoreConditionType::Validated,
            false,
            "Validating",
            "a dry-run Job resolves and verifies the snapshot",
            now,
        );
        if !self.write(request).await {
            return Step::RetryLater;
        }
        Step::Again
    }

    /// Creates the preflight Job (again after a restart: the same name, so never a second one) and reads its state
    /// once, in case it ended while nobody watched.
    async fn check_preflight(&mut self, request: &OpenBaoRestore) -> Step {
        if self.known_mut(request).preflight_checked {
            return Step::Wait;
        }
        let uid = uid_of(request).unwrap_or_default();
        let job_name = plan::preflight_job_name(&self.key.name, uid);
        let job = RestoreJobRequest {
            job_name: job_name.clone(),
            kind: RestoreJobKind::Preflight,
        };
        match self
            .restore
            .jobs
            .create_restore_job(&self.cluster, request, &job)
            .await
        {
            Ok(JobCreation::Created) => {
                tracing::info!(cluster = %self.key, restore = name_of(request), job = %job_name, "validation Job created");
                self.known_mut(request).preflight_checked = true;
                return Step::Wait;
            }
            Ok(JobCreation::AlreadyExisted) => {}
            Err(error) => {
                tracing::warn!(cluster = %self.key, restore = name_of(request), %error, "could not create the validation Job");
                if matches!(
                    error,
                    crate::effects::EffectError::Build { .. }
                        | crate::effects::EffectError::NotOwned(_)
                ) {
                    return self
                        .fail_validation(request, error.reason(), &error.to_string())
                        .await;
                }
                return Step::RetryLater;
            }
        }
        match self
            .restore
            .job_reader
            .job_state(&self.key.namespace, &job_name)
            .await
        {
            Ok(state) => {
                self.known_mut(request).preflight_checked = true;
                match plan::preflight_verdict(&state) {
                    Some(verdict) => self.preflight_ended(request, verdict).await,
                    None => Step::Wait,
                }
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, job = %job_name, %error, "could not read the validation Job");
                Step::RetryLater
            }
        }
    }

    async fn preflight_ended(
        &mut self,
        request: &OpenBaoRestore,
        verdict: PreflightVerdict,
    ) -> Step {
        let now = self.now();
        match verdict {
            PreflightVerdict::Refused { reason, message } => {
                let reason = condition_reason(&reason, "ValidationFailed");
                self.fail_validation(request, &reason, &message).await
            }
            PreflightVerdict::Pinned(snapshot) => {
                let pinned = format!(
                    "pinned {} ({}, {} bytes, from cluster {})",
                    snapshot.key,
                    snapshot.digest.as_deref().unwrap_or("no digest"),
                    snapshot.size.unwrap_or_default(),
                    snapshot.source_cluster_id.as_deref().unwrap_or("unknown"),
                );
                let dry_run = request.spec.dry_run;
                let known = self.known_mut(request);
                known.status.snapshot = Some(snapshot);
                set_condition(
                    &mut known.status,
                    RestoreConditionType::Validated,
                    true,
                    "ValidationSucceeded",
                    &pinned,
                    now,
                );
                self.event(
                    request,
                    RestoreEventReason::RestoreValidated,
                    pinned.clone(),
                )
                .await;
                if dry_run {
                    let known = self.known_mut(request);
                    set_condition(
                        &mut known.status,
                        RestoreConditionType::LockAcquired,
                        false,
                        "DryRun",
                        "a dry run never takes the operation lock",
                        now,
                    );
                    let message = format!(
                        "dry run: {pinned}; the snapshot verified and the cluster accepted the login; nothing was changed"
                    );
                    return self
                        .end(
                            request,
                            RestorePhase::Completed,
                            "DryRun",
                            &message,
                            RestoreMetricOutcome::DryRun,
                        )
                        .await;
                }
                self.known_mut(request).status.message = Some(format!(
                    "validated: {pinned}; waiting for the operation lock"
                ));
                self.write(request).await;
                Step::Again
            }
        }
    }

    async fn fail_validation(
        &mut self,
        request: &OpenBaoRestore,
        reason: &str,
        message: &str,
    ) -> Step {
        let now = self.now();
        let known = self.known_mut(request);
        set_condition(
            &mut known.status,
            RestoreConditionType::Validated,
            false,
            reason,
            message,
            now,
        );
        self.end(
            request,
            RestorePhase::Failed,
            reason,
            message,
            RestoreMetricOutcome::Failed,
        )
        .await
    }

    fn holder(request: &OpenBaoRestore) -> HolderId {
        HolderId::new(Operation::Restore, name_of(request))
    }

    async fn take_lock(&mut self, request: &OpenBaoRestore) -> Step {
        let now = self.now();
        let holder = Self::holder(request);
        let key = self
            .known_mut(request)
            .status
            .snapshot
            .as_ref()
            .map(|s| s.key.clone())
            .unwrap_or_default();
        let overriding = request.spec.override_operation_lock && request.spec.force;
        let reply = self
            .lock
            .acquire(
                &holder,
                format!("restore {} of {key}", name_of(request)),
                overriding,
            )
            .await;
        match reply {
            Ok(LockReply::Granted { epoch, preempted }) => {
                if let Some(preempted) = preempted {
                    self.overridden(request, &preempted).await;
                }
                self.commit(request, epoch).await
            }
            Ok(LockReply::Denied {
                operation,
                held_by,
                since,
            }) => {
                let message = format!(
                    "waiting for the operation lock: {operation} {held_by} holds it since {}",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                let known = self.known_mut(request);
                let changed = set_condition(
                    &mut known.status,
                    RestoreConditionType::LockAcquired,
                    false,
                    "WaitingForLock",
                    &message,
                    now,
                );
                if changed {
                    known.status.message = Some(message.clone());
                    self.write(request).await;
                    self.event(request, RestoreEventReason::RestoreWaitingForLock, message)
                        .await;
                }
                Step::Wait
            }
            Ok(LockReply::Unavailable { reason }) => {
                tracing::warn!(cluster = %self.key, restore = name_of(request), %reason, "operation lock unavailable");
                Step::RetryLater
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, restore = name_of(request), %error, "no answer from the supervisor");
                Step::RetryLater
            }
        }
    }

    /// The audit of an override: a Warning event on the request (the cluster's event is the supervisor's); the
    /// `LockAcquired` condition says it too.
    async fn overridden(&mut self, request: &OpenBaoRestore, preempted: &Preempted) {
        let message = format!(
            "took the operation lock from {} {} with overrideOperationLock; that operation was stopped",
            preempted.operation, preempted.holder
        );
        self.known_mut(request).overridden = Some(message.clone());
        self.event(
            request,
            RestoreEventReason::OperationLockOverridden,
            message,
        )
        .await;
    }

    /// The durable receipt before the destructive Job: a finalizer, then phase `Running` with the Job's name and
    /// the epoch. A restart that finds the receipt but no Job never creates it again.
    async fn commit(&mut self, request: &OpenBaoRestore, epoch: u64) -> Step {
        let now = self.now();
        if !has_finalizer(request)
            && let Err(error) = self.restore.writer.set_finalizer(request, true).await
        {
            tracing::warn!(cluster = %self.key, restore = name_of(request), %error, "could not add the finalizer");
            return Step::RetryLater;
        }
        self.known_mut(request).finalizer_added = true;
        let uid = uid_of(request).unwrap_or_default();
        let job_name = plan::restore_job_name(&self.key.name, uid);
        let overridden = self.known_mut(request).overridden.clone();
        let key = self
            .known_mut(request)
            .status
            .snapshot
            .as_ref()
            .map(|s| s.key.clone())
            .unwrap_or_default();
        let message = format!("restoring {key} with Job {job_name} under lock epoch {epoch}");
        let known = self.known_mut(request);
        known.epoch = Some(epoch);
        known.status.phase = Some(RestorePhase::Running);
        known.status.job_name = Some(job_name.clone());
        known.status.message = Some(message.clone());
        set_condition(
            &mut known.status,
            RestoreConditionType::LockAcquired,
            true,
            if overridden.is_some() {
                "LockOverridden"
            } else {
                "LockGranted"
            },
            &match &overridden {
                Some(audit) => format!("granted with epoch {epoch}; {audit}"),
                None => format!("granted with epoch {epoch}"),
            },
            now,
        );
        if !self.write(request).await {
            // Without the receipt no Job may exist: give the lock back and try again later.
            let _ = self.lock.release(&Self::holder(request), epoch);
            let known = self.known_mut(request);
            known.status.phase = Some(RestorePhase::Validating);
            known.status.job_name = None;
            return Step::RetryLater;
        }
        self.known_mut(request).restore_job_pending = true;
        self.event(request, RestoreEventReason::RestoreStarted, message.clone())
            .await;
        self.effects
            .emit(
                &self.key,
                EventReason::RestoreStarted,
                format!("OpenBaoRestore {}: {message}", name_of(request)),
            )
            .await;
        self.cluster_restoring(
            true,
            format!("OpenBaoRestore {} is restoring {key}", name_of(request)),
        )
        .await;
        self.restore.metrics.restore_running(&self.key, true);
        self.create_restore_job(request).await
    }

    async fn create_restore_job(&mut self, request: &OpenBaoRestore) -> Step {
        let known = self.known_mut(request);
        let (Some(job_name), Some(epoch), Some(snapshot)) = (
            known.status.job_name.clone(),
            known.epoch,
            known.status.snapshot.clone(),
        ) else {
            return Step::Wait;
        };
        let job = RestoreJobRequest {
            job_name: job_name.clone(),
            kind: RestoreJobKind::Restore { epoch, snapshot },
        };
        match self
            .restore
            .jobs
            .create_restore_job(&self.cluster, request, &job)
            .await
        {
            Ok(_) => {
                tracing::info!(cluster = %self.key, restore = name_of(request), job = %job_name, epoch, "restore Job created");
                let known = self.known_mut(request);
                known.restore_job_pending = false;
                known.restore_job_seen = true;
                Step::Wait
            }
            Err(crate::effects::EffectError::Fenced(message)) => {
                let verdict = RestoreVerdict {
                    phase: RestorePhase::Failed,
                    reason: "Fenced".into(),
                    message: format!("the restore did not start: {message}"),
                    sealed: false,
                };
                self.finish(request, verdict).await
            }
            Err(
                error @ (crate::effects::EffectError::Build { .. }
                | crate::effects::EffectError::NotOwned(_)),
            ) => {
                let verdict = RestoreVerdict {
                    phase: RestorePhase::Failed,
                    reason: error.reason().into(),
                    message: format!("the restore Job cannot be created: {error}"),
                    sealed: false,
                };
                self.finish(request, verdict).await
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, job = %job_name, %error, "could not create the restore Job; retrying");
                Step::RetryLater
            }
        }
    }

    /// A `Running` request: create its Job if this incarnation wrote the receipt and the create failed; adopt it
    /// after a restart (a committed request whose Job is gone ends `RestoreJobLost`).
    async fn follow_restore_job(&mut self, request: &OpenBaoRestore) -> Step {
        let resumed_epoch = self
            .resumed
            .as_ref()
            .filter(|work| work.holder == Self::holder(request))
            .map(|work| work.epoch);
        let known = self.known_mut(request);
        if known.restore_job_pending {
            return self.create_restore_job(request).await;
        }
        if known.restore_job_seen {
            return Step::Wait;
        }
        let Some(job_name) = known.status.job_name.clone() else {
            let verdict = plan::restore_verdict(&JobState::Missing).expect("terminal");
            return self.finish(request, verdict).await;
        };
        if known.epoch.is_none() {
            known.epoch = resumed_epoch;
        }
        match self
            .restore
            .job_reader
            .job_state(&self.key.namespace, &job_name)
            .await
        {
            Ok(state) => {
                self.known_mut(request).restore_job_seen = true;
                match plan::restore_verdict(&state) {
                    Some(verdict) => self.finish(request, verdict).await,
                    None => {
                        tracing::info!(cluster = %self.key, restore = name_of(request), job = %job_name, "adopted the running restore Job");
                        self.restore.metrics.restore_running(&self.key, true);
                        Step::Wait
                    }
                }
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, job = %job_name, %error, "could not read the restore Job");
                Step::RetryLater
            }
        }
    }

    async fn job_observed(&mut self, job: JobObservation) {
        let requests = self.restore.requests.requests_for(&self.key);
        for request in requests {
            let Some(uid) = uid_of(&request) else {
                continue;
            };
            let phase = self.phase(&request);
            if job.job_name == plan::preflight_job_name(&self.key.name, uid)
                && phase == Some(RestorePhase::Validating)
                && self.known_mut(&request).status.snapshot.is_none()
            {
                if let Some(verdict) = plan::preflight_verdict(&job.state) {
                    self.preflight_ended(&request, verdict).await;
                }
                return;
            }
            if self.known_mut(&request).status.job_name.as_deref() == Some(job.job_name.as_str())
                && phase == Some(RestorePhase::Running)
            {
                if let Some(verdict) = plan::restore_verdict(&job.state) {
                    self.known_mut(&request).restore_job_seen = true;
                    self.finish(&request, verdict).await;
                }
                return;
            }
        }
    }

    /// The restore Job ended: record it, release the lock, drop the finalizer, tell the cluster.
    async fn finish(&mut self, request: &OpenBaoRestore, verdict: RestoreVerdict) -> Step {
        let outcome = match (verdict.phase, verdict.sealed) {
            (RestorePhase::Completed, true) => RestoreMetricOutcome::SucceededSealed,
            (RestorePhase::Completed, false) => RestoreMetricOutcome::Succeeded,
            _ => RestoreMetricOutcome::Failed,
        };
        let reason = condition_reason(&verdict.reason, "RestoreFailed");
        let step = self
            .end(request, verdict.phase, &reason, &verdict.message, outcome)
            .await;
        let epoch = self.known_mut(request).epoch;
        if let Some(epoch) = epoch
            && let Err(error) = self.lock.release(&Self::holder(request), epoch)
        {
            tracing::warn!(cluster = %self.key, restore = name_of(request), %error, "could not release the operation lock");
        }
        self.lock.report(OperationReport {
            holder: Self::holder(request),
            detail: reason.clone(),
            succeeded: verdict.phase == RestorePhase::Completed,
        });
        self.restore.metrics.restore_running(&self.key, false);
        let cluster_reason = if verdict.phase == RestorePhase::Completed {
            EventReason::RestoreCompleted
        } else {
            EventReason::RestoreFailed
        };
        self.effects
            .emit(
                &self.key,
                cluster_reason,
                format!("OpenBaoRestore {}: {}", name_of(request), verdict.message),
            )
            .await;
        self.cluster_restoring(
            false,
            format!(
                "OpenBaoRestore {} ended {}: {reason}",
                name_of(request),
                verdict.phase
            ),
        )
        .await;
        step
    }

    /// A terminal phase: status, event, metric, and no finalizer.
    async fn end(
        &mut self,
        request: &OpenBaoRestore,
        phase: RestorePhase,
        reason: &str,
        message: &str,
        outcome: RestoreMetricOutcome,
    ) -> Step {
        let now = self.now();
        let known = self.known_mut(request);
        known.status.phase = Some(phase);
        known.status.start_time.get_or_insert(now);
        known.status.completion_time = Some(now);
        known.status.message = Some(message.to_string());
        set_condition(
            &mut known.status,
            RestoreConditionType::RestoreComplete,
            phase == RestorePhase::Completed,
            reason,
            message,
            now,
        );
        let started = known.status.start_time;
        self.write(request).await;
        let event = if phase == RestorePhase::Completed {
            RestoreEventReason::RestoreCompleted
        } else {
            RestoreEventReason::RestoreFailed
        };
        tracing::info!(cluster = %self.key, restore = name_of(request), %phase, reason, "restore request ended");
        self.event(request, event, format!("{reason}: {message}"))
            .await;
        self.restore.metrics.restore_finished(
            &self.key,
            outcome,
            plan::elapsed_since(started, now),
        );
        if has_finalizer(request) || self.known_mut(request).finalizer_added {
            self.drop_finalizer(request).await;
        }
        Step::Again
    }

    async fn drop_finalizer(&self, request: &OpenBaoRestore) {
        if let Err(error) = self.restore.writer.set_finalizer(request, false).await {
            tracing::warn!(cluster = %self.key, restore = name_of(request), %error, "could not remove the finalizer");
        }
    }
}

pub struct RestoreActor;

impl Actor for RestoreActor {
    type Msg = RestoreMsg;
    type State = RestoreState;
    type Arguments = RestoreArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: RestoreArgs,
    ) -> Result<RestoreState, ActorProcessingErr> {
        Ok(RestoreState {
            key: args.key,
            cluster: args.cluster,
            effects: args.effects,
            restore: args.restore_effects,
            lock: args.lock,
            mailbox: args.mailbox,
            known: HashMap::new(),
            resumed: args.resume,
            retry_timer: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut RestoreState,
    ) -> Result<(), ActorProcessingErr> {
        state.evaluate(&myself).await;
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut RestoreState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(timer) = state.retry_timer.take() {
            timer.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: RestoreMsg,
        state: &mut RestoreState,
    ) -> Result<(), ActorProcessingErr> {
        let started = Instant::now();
        match message {
            RestoreMsg::ClusterObserved(cluster) => state.cluster = cluster,
            RestoreMsg::JobObserved(job) => state.job_observed(job).await,
            RestoreMsg::RequestsChanged
            | RestoreMsg::LockReleased
            | RestoreMsg::Retry
            | RestoreMsg::Ignored => {}
        }
        state.evaluate(&myself).await;
        let metrics = &state.effects.metrics;
        metrics.message_handled(&state.key, RESTORE_KIND, started.elapsed());
        metrics.mailbox_depth(&state.key, RESTORE_KIND, state.mailbox.handled());
        Ok(())
    }
}

//! `RestoreActor`: consumes the `OpenBaoRestore` requests of one cluster, one at a time, oldest first.
//!
//! A request goes Pending → Validating (a dry-run Job pins the snapshot; no lock, nothing destructive) → the lock
//! (waits visibly behind a backup or an upgrade) → a durable receipt (phase `Running`, `jobName`, epoch, a
//! finalizer) written before the restore Job exists → the Job's report → Completed or Failed, and only then the
//! lock is released. The actor keeps its own copy of every request's status (it is the only writer); the watch
//! cache only tells it which requests exist.

mod running;
mod validation;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openbao_crds::conditions::RestoreConditionType;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, OpenBaoRestoreStatus, Operation, RestorePhase};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr};

use super::effects::{RestoreEffects, RestoreEventReason, RestoreMetricOutcome};
use super::messages::{RestoreArgs, RestoreMsg};
use super::plan;
use super::status::set_condition;
use crate::child::ResumedWork;
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, ConditionUpdate};
use crate::holder::HolderId;
use crate::lock_client::LockClient;
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
    name: String,
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
            name: name_of(request).to_string(),
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
            let mailbox = self.mailbox.clone();
            self.retry_timer = Some(myself.send_after(RETRY_AFTER_ERROR, move || {
                mailbox.sent();
                RestoreMsg::Retry
            }));
        }
    }

    async fn step(&mut self) -> Step {
        let all = self.restore.requests.requests_for(&self.key);
        let live: HashSet<&str> = all.iter().filter_map(|r| uid_of(r)).collect();
        // A request gone from the API while this actor held the lock for it gives the lock back (a running one
        // cannot go: its finalizer keeps it until its Job ended).
        let vanished: Vec<(String, u64)> = self
            .known
            .iter()
            .filter(|(uid, known)| {
                !live.contains(uid.as_str())
                    && !known.status.phase.is_some_and(RestorePhase::is_terminal)
            })
            .filter_map(|(_, known)| Some((known.name.clone(), known.epoch?)))
            .collect();
        for (name, epoch) in vanished {
            tracing::warn!(cluster = %self.key, restore = %name, "request gone while holding the lock; releasing it");
            let _ = self
                .lock
                .release(&HolderId::new(Operation::Restore, &name), epoch);
        }
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

    fn holder(request: &OpenBaoRestore) -> HolderId {
        HolderId::new(Operation::Restore, name_of(request))
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

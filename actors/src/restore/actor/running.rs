//! A validated request under the lock: the grant (or the wait for it), the receipt before the destructive Job,
//! following that Job (also after a restart), and the end that releases the lock.

use openbao_crds::conditions::RestoreConditionType;
use openbao_crds::{OpenBaoRestore, RestorePhase};

use super::{RestoreState, Step, has_finalizer, name_of, uid_of};
use crate::effects::{EffectError, EventReason, JobObservation, JobState};
use crate::lock_client::{LockReply, OperationReport, Preempted, lock_wait_message};
use crate::restore::effects::{
    RestoreEventReason, RestoreJobKind, RestoreJobRequest, RestoreMetricOutcome,
};
use crate::restore::plan::{self, RestoreVerdict};
use crate::restore::status::{condition_reason, set_condition};

impl RestoreState {
    pub(super) async fn take_lock(&mut self, request: &OpenBaoRestore) -> Step {
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
                let message = lock_wait_message(operation, &held_by, since);
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
    pub(super) async fn overridden(&mut self, request: &OpenBaoRestore, preempted: &Preempted) {
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
    pub(super) async fn commit(&mut self, request: &OpenBaoRestore, epoch: u64) -> Step {
        let now = self.now();
        self.known_mut(request).epoch = Some(epoch);
        if !has_finalizer(request)
            && let Err(error) = self.restore.writer.set_finalizer(request, true).await
        {
            // No finalizer, no lock: a request deleted now must not take the lock with it.
            tracing::warn!(cluster = %self.key, restore = name_of(request), %error,
                "could not add the finalizer; giving the lock back");
            let _ = self.lock.release(&Self::holder(request), epoch);
            self.known_mut(request).epoch = None;
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
            known.epoch = None;
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

    pub(super) async fn create_restore_job(&mut self, request: &OpenBaoRestore) -> Step {
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
            Err(EffectError::Fenced(message)) => {
                let verdict = RestoreVerdict {
                    phase: RestorePhase::Failed,
                    reason: "Fenced".into(),
                    message: format!("the restore did not start: {message}"),
                    sealed: false,
                };
                self.finish(request, verdict).await
            }
            Err(error @ (EffectError::Build { .. } | EffectError::NotOwned(_))) => {
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
    pub(super) async fn follow_restore_job(&mut self, request: &OpenBaoRestore) -> Step {
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

    pub(super) async fn job_observed(&mut self, job: JobObservation) {
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
    pub(super) async fn finish(
        &mut self,
        request: &OpenBaoRestore,
        verdict: RestoreVerdict,
    ) -> Step {
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
}

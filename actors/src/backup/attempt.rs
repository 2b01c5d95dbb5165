//! One backup attempt of the [`BackupActor`](super::BackupActor): take the lock, create the Job, and record how
//! it ended (status, events, lock release, the pre-upgrade caller's answer).

use ractor::ActorRef;

use openbao_crds::{BackupKind, Operation};

use super::decide::{BackupOrigin, DeniedAction, next_scheduled_backup, on_lock_denied};
use super::effects::{BackupJobRequest, JobCreation};
use super::outcome::{self, BackupOutcome, FailureReason, apply_outcome, outcome_of};
use super::{BackupMsg, BackupState, RunningBackup, StartResult, backup_holder};
use crate::child::PreUpgradeResult;
use crate::effects::{EffectError, EventReason, JobObservation, JobState};
use crate::lock_client::{LockCallError, LockReply, OperationReport};

impl BackupState {
    pub(super) async fn request_lock(
        &self,
        kind: BackupKind,
        job_name: &str,
    ) -> Result<LockReply, LockCallError> {
        self.lock
            .acquire(
                &backup_holder(job_name),
                format!("{kind} backup Job {job_name}"),
                false,
            )
            .await
    }

    pub(super) async fn start(
        &mut self,
        myself: &ActorRef<BackupMsg>,
        kind: BackupKind,
        origin: BackupOrigin,
        job_name: String,
    ) -> StartResult {
        let now = self.effects.clock.now();
        let (epoch, holds_lock, pre_upgrade_reply) = match &origin {
            BackupOrigin::PreUpgrade { .. } => match self.pre_upgrades.pop_front() {
                Some(pending) => (pending.epoch, false, Some(pending.reply)),
                None => return StartResult::DecideAgain,
            },
            BackupOrigin::Window { .. } | BackupOrigin::Trigger { .. } => {
                match self.request_lock(kind, &job_name).await {
                    Ok(LockReply::Granted { epoch, .. }) => (epoch, true, None),
                    Ok(LockReply::Denied {
                        operation, held_by, ..
                    }) => {
                        self.lock_denied(&origin, operation, &held_by).await;
                        return StartResult::DecideAgain;
                    }
                    Ok(LockReply::Unavailable { reason }) => {
                        tracing::warn!(cluster = %self.key, job = %job_name, %reason, "lock unavailable; retrying");
                        self.arm_retry(myself);
                        return StartResult::RetryLater;
                    }
                    Err(error) => {
                        tracing::warn!(cluster = %self.key, job = %job_name, %error, "lock unavailable; retrying");
                        self.arm_retry(myself);
                        return StartResult::RetryLater;
                    }
                }
            }
        };
        let request = BackupJobRequest {
            job_name: job_name.clone(),
            kind,
            epoch,
            scheduled_time: match &origin {
                BackupOrigin::Window { scheduled } => Some(*scheduled),
                _ => None,
            },
            trigger: match &origin {
                BackupOrigin::Trigger { token } => Some(token.clone()),
                _ => None,
            },
        };
        let created = self
            .backup_effects
            .jobs
            .create_backup_job(&self.cluster, &request)
            .await;
        let already_existed = matches!(created, Ok(JobCreation::AlreadyExisted));
        if let Err(error) = created {
            if holds_lock {
                self.release_lock(&job_name, epoch);
            }
            let message = format!("could not create backup Job {job_name}: {error}");
            tracing::warn!(cluster = %self.key, %message);
            let reason = match error {
                EffectError::NotOwned(_) => outcome::FailureReason::ServiceAccountNotOwned,
                _ => outcome::FailureReason::JobNotCreated,
            };
            return match origin {
                BackupOrigin::Window { scheduled } => {
                    self.last_handled_window = Some(scheduled);
                    self.record_outcome(
                        &job_name,
                        kind,
                        &BackupOutcome::Failed {
                            finished_at: now,
                            reason: reason.into(),
                            message,
                        },
                    )
                    .await;
                    StartResult::DecideAgain
                }
                BackupOrigin::Trigger { .. } => {
                    // The trigger stays queued and is retried; a person must see why it does not start (repeats
                    // of one message fold into one Event series).
                    self.emit_about_job(
                        EventReason::BackupFailed,
                        &job_name,
                        format!(
                            "{reason}: {message}; the manual backup stays queued and is retried"
                        ),
                    )
                    .await;
                    self.arm_retry(myself);
                    StartResult::RetryLater
                }
                BackupOrigin::PreUpgrade { .. } => {
                    if let Some(reply) = pre_upgrade_reply {
                        let _ = reply.send(PreUpgradeResult::Failed {
                            reason: reason.into(),
                            message,
                        });
                    }
                    StartResult::DecideAgain
                }
            };
        }

        self.status.last_attempt_time = Some(now);
        let mut trigger = None;
        match &origin {
            BackupOrigin::Window { scheduled } => {
                self.last_handled_window = Some(*scheduled);
                self.status.last_attempt_scheduled_time = Some(*scheduled);
            }
            BackupOrigin::Trigger { token } => {
                self.triggers.mark_started(token);
                self.sync_pending_triggers();
                self.status.last_handled_trigger = Some(token.clone());
                trigger = Some(token.clone());
            }
            BackupOrigin::PreUpgrade { .. } => {}
        }
        self.status.next_scheduled_backup = next_scheduled_backup(&self.observation(now));
        self.running = Some(RunningBackup {
            job_name: job_name.clone(),
            kind,
            epoch,
            holds_lock,
            trigger,
            pre_upgrade_reply,
        });
        self.write_status(&outcome::started_conditions(kind, &job_name))
            .await;
        self.emit_about_job(
            EventReason::BackupStarted,
            &job_name,
            format!("{kind} backup Job {job_name} created (lock epoch {epoch})"),
        )
        .await;
        if already_existed {
            self.catch_up_existing_job(&job_name).await;
            if self.running.is_none() {
                return StartResult::DecideAgain;
            }
        }
        StartResult::Started
    }

    /// A Job found under the deterministic name was created before an operator restart and may have ended
    /// already; the watch does not report its end again, so record it now instead of holding the lock forever.
    pub(super) async fn catch_up_existing_job(&mut self, job_name: &str) {
        let read = self
            .backup_effects
            .job_reader
            .job_state(&self.key.namespace, job_name)
            .await;
        match read {
            Ok(state) if state.is_terminal() && state != JobState::Missing => {
                self.job_observed(JobObservation {
                    job_name: job_name.to_string(),
                    state,
                })
                .await;
            }
            Ok(_) => {}
            Err(error) => {
                // The Job's next watch event, or the next supervisor start's adoption, still records it.
                tracing::warn!(cluster = %self.key, job = job_name, %error, "could not read the existing Job");
            }
        }
    }

    pub(super) async fn lock_denied(
        &mut self,
        origin: &BackupOrigin,
        operation: Operation,
        held_by: &str,
    ) {
        self.emit(
            EventReason::OperationLockBlocked,
            format!(
                "{} backup waits: the cluster is locked by {operation} ({held_by})",
                origin.kind()
            ),
        )
        .await;
        match on_lock_denied(origin, operation, held_by) {
            DeniedAction::SkipWindow { scheduled, reason } => {
                self.skip_window(scheduled, reason).await
            }
            DeniedAction::KeepTriggerQueued => {
                self.trigger_waits_for_lock = true;
                let message = format!(
                    "manual backup queued until {operation} ({held_by}) releases the operation lock"
                );
                self.write_status(&[outcome::waiting_for_lock_condition(message)])
                    .await;
            }
        }
    }

    pub(super) fn release_lock(&self, job_name: &str, epoch: u64) {
        if self.lock.release(&backup_holder(job_name), epoch).is_err() {
            tracing::warn!(cluster = %self.key, job = job_name, "supervisor gone; lock release left to adoption");
        }
    }

    /// Applies an outcome to `status.backup`; events only when it changed something (a replay stays quiet).
    pub(super) async fn record_outcome(
        &mut self,
        job_name: &str,
        kind: BackupKind,
        outcome: &BackupOutcome,
    ) {
        let (status, changed) = apply_outcome(&self.status, outcome);
        self.status = status;
        self.write_status(&outcome::finished_conditions(outcome, &self.status))
            .await;
        if !changed {
            return;
        }
        match outcome {
            BackupOutcome::Succeeded { point, .. } => {
                self.emit_about_job(
                    EventReason::BackupCompleted,
                    job_name,
                    format!(
                        "{kind} backup Job {job_name} stored {} ({} bytes, {})",
                        point.key, point.size, point.digest
                    ),
                )
                .await;
            }
            BackupOutcome::Failed {
                reason, message, ..
            } => {
                self.emit_about_job(
                    EventReason::BackupFailed,
                    job_name,
                    format!("{kind} backup Job {job_name} failed: {reason}: {message}"),
                )
                .await;
            }
        }
    }

    /// A restore took the lock from the running backup with `overrideOperationLock`: stop its Job and record it as
    /// failed. The lock is the restore's now, so nothing is released.
    pub(super) async fn preempted(&mut self, holder: &str, by: &str) {
        let Some(running) = &self.running else {
            return;
        };
        if !running.holds_lock || backup_holder(&running.job_name).to_string() != holder {
            return;
        }
        let Some(running) = self.running.take() else {
            return;
        };
        if let Err(error) = self
            .backup_effects
            .jobs
            .stop_backup_job(&self.key, &running.job_name)
            .await
        {
            tracing::warn!(cluster = %self.key, job = %running.job_name, %error, "could not stop the preempted backup Job");
        }
        let message = format!(
            "stopped: {by} took the operation lock with overrideOperationLock; trigger a new backup once it ends"
        );
        tracing::warn!(cluster = %self.key, job = %running.job_name, %by, "backup preempted");
        let outcome = BackupOutcome::Failed {
            finished_at: self.effects.clock.now(),
            reason: FailureReason::Preempted.into(),
            message: message.clone(),
        };
        self.record_outcome(&running.job_name, running.kind, &outcome)
            .await;
        if let Some(reply) = running.pre_upgrade_reply {
            let _ = reply.send(PreUpgradeResult::Failed {
                reason: FailureReason::Preempted.into(),
                message,
            });
        }
        self.lock.report(OperationReport {
            holder: backup_holder(&running.job_name),
            detail: format!("{} backup preempted", running.kind),
            succeeded: false,
        });
    }

    pub(super) async fn job_observed(&mut self, job: JobObservation) {
        let Some(running) = &self.running else {
            return;
        };
        if running.job_name != job.job_name {
            return;
        }
        let Some(outcome) = outcome_of(&job, running.kind, self.effects.clock.now()) else {
            return;
        };
        let Some(running) = self.running.take() else {
            return;
        };
        self.record_outcome(&running.job_name, running.kind, &outcome)
            .await;
        if running.holds_lock {
            self.release_lock(&running.job_name, running.epoch);
        }
        if let Some(reply) = running.pre_upgrade_reply {
            let _ = reply.send(match &outcome {
                BackupOutcome::Succeeded { point, .. } => PreUpgradeResult::Succeeded {
                    job_name: running.job_name.clone(),
                    key: point.key.clone(),
                },
                BackupOutcome::Failed {
                    reason, message, ..
                } => PreUpgradeResult::Failed {
                    reason: reason.clone(),
                    message: message.clone(),
                },
            });
        }
        self.lock.report(OperationReport {
            holder: backup_holder(&running.job_name),
            detail: format!("{} backup", running.kind),
            succeeded: outcome.is_success(),
        });
    }
}

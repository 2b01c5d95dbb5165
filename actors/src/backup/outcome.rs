//! From a finished backup Job to `status.backup` and conditions: pure, so a Job observed twice (watch re-lists,
//! operator restarts) changes the status once and counts a failure once.

use chrono::{DateTime, Duration, Utc};
use openbao_crds::cluster_status::RECOVERY_POINTS_IN_STATUS;
use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};
use openbao_crds::{BackupFailure, BackupKind, BackupStatus, RecoveryPoint};

use crate::effects::{ConditionUpdate, JobObservation, JobState};
use openbao_crds::executor_report::{ExecutorReport, ReportOutcome};

/// Failure reasons the actor assigns itself (the executor's own reasons pass through unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::Display)]
pub enum FailureReason {
    /// The Job ended but its termination message is not a report.
    ReportUnreadable,
    /// The Job vanished before it reported.
    JobMissing,
    /// The Job failed without a report that names a reason.
    JobFailed,
    /// The Job could not be created.
    #[strum(serialize = "JobCreateFailed")]
    JobNotCreated,
    /// The backup ServiceAccount's name is taken by one the operator did not create.
    ServiceAccountNotOwned,
    /// A restore took the operation lock with `overrideOperationLock`; the Job was stopped.
    Preempted,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl From<FailureReason> for String {
    fn from(reason: FailureReason) -> Self {
        reason.as_str().to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOutcome {
    Succeeded {
        point: RecoveryPoint,
        finished_at: DateTime<Utc>,
        duration: Option<Duration>,
    },
    Failed {
        finished_at: DateTime<Utc>,
        reason: String,
        message: String,
    },
}

impl BackupOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Succeeded { .. })
    }
}

/// The outcome of a finished Job; `None` while it runs. A Job that succeeded without a usable report is a
/// failure: without key and digest there is no recovery point to show.
pub fn outcome_of(
    job: &JobObservation,
    kind: BackupKind,
    now: DateTime<Utc>,
) -> Option<BackupOutcome> {
    match &job.state {
        JobState::Active => None,
        JobState::Missing => Some(BackupOutcome::Failed {
            finished_at: now,
            reason: FailureReason::JobMissing.into(),
            message: format!(
                "backup Job {} disappeared before it reported; check who deleted it",
                job.job_name
            ),
        }),
        JobState::Succeeded {
            finished_at,
            termination_message,
        } => Some(success_from_report(
            &job.job_name,
            kind,
            *finished_at,
            termination_message.as_deref(),
        )),
        JobState::Failed {
            finished_at,
            job_reason,
            termination_message,
        } => {
            let report = termination_message
                .as_deref()
                .and_then(|text| ExecutorReport::parse(text).ok())
                .unwrap_or_default();
            let reason = report
                .reason
                .clone()
                .or_else(|| job_reason.clone())
                .unwrap_or_else(|| FailureReason::JobFailed.into());
            let message = match (report.stage.as_deref(), report.message.as_deref()) {
                (Some(stage), Some(message)) => format!("{stage} stage failed: {message}"),
                (None, Some(message)) => message.to_string(),
                _ => format!(
                    "backup Job {} failed ({reason}); see its Pod logs",
                    job.job_name
                ),
            };
            Some(BackupOutcome::Failed {
                finished_at: *finished_at,
                reason,
                message,
            })
        }
    }
}

fn success_from_report(
    job_name: &str,
    kind: BackupKind,
    finished_at: DateTime<Utc>,
    termination_message: Option<&str>,
) -> BackupOutcome {
    let unreadable = |detail: String| BackupOutcome::Failed {
        finished_at,
        reason: FailureReason::ReportUnreadable.into(),
        message: format!(
            "backup Job {job_name} succeeded but {detail}; the snapshot is not listed as a recovery point"
        ),
    };
    let report = match termination_message.map(ExecutorReport::parse) {
        None => return unreadable("wrote no report".into()),
        Some(Err(error)) => return unreadable(error.to_string()),
        Some(Ok(report)) => report,
    };
    if matches!(
        report.outcome,
        Some(ReportOutcome::Failed | ReportOutcome::Unrecognized)
    ) {
        return BackupOutcome::Failed {
            finished_at,
            reason: report
                .reason
                .unwrap_or_else(|| FailureReason::JobFailed.into()),
            message: report.message.unwrap_or_default(),
        };
    }
    let created = report.created_at();
    let duration = report.duration();
    let (Some(key), Some(size), Some(digest)) = (report.key, report.size, report.digest) else {
        return unreadable("its report lacks key, size or digest".into());
    };
    BackupOutcome::Succeeded {
        point: RecoveryPoint {
            key,
            time: created.unwrap_or(finished_at),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            digest,
            kind,
        },
        finished_at,
        duration,
    }
}

fn recency(point: &RecoveryPoint) -> (DateTime<Utc>, &str) {
    (point.time, point.key.as_str())
}

/// The status after `outcome`. Applying the same outcome again returns the status unchanged (`changed: false`).
pub fn apply_outcome(status: &BackupStatus, outcome: &BackupOutcome) -> (BackupStatus, bool) {
    let mut next = status.clone();
    match outcome {
        BackupOutcome::Succeeded {
            point,
            finished_at,
            duration,
        } => {
            if status.recovery_points.iter().any(|p| p.key == point.key)
                || status.last_backup_key.as_deref() == Some(point.key.as_str())
            {
                return (next, false);
            }
            // Newest first by (time, key): the order a `source.latest` restore uses to pick the newest manifest,
            // so the first recovery point is always what `latest` would restore, even for two backups in the
            // same millisecond. A late report of an older snapshot joins the list but does not pose as newest.
            let is_newest = status
                .recovery_points
                .first()
                .is_none_or(|newest| recency(point) > recency(newest));
            if is_newest {
                next.last_success_time = Some(*finished_at);
                next.last_backup_key = Some(point.key.clone());
                next.last_backup_size = Some(point.size);
                next.last_backup_digest = Some(point.digest.clone());
                next.last_backup_duration = duration.map(format_duration);
            }
            next.consecutive_failures = 0;
            next.recovery_points.push(point.clone());
            next.recovery_points
                .sort_by(|a, b| recency(b).cmp(&recency(a)));
            next.recovery_points.truncate(RECOVERY_POINTS_IN_STATUS);
        }
        BackupOutcome::Failed {
            finished_at,
            reason,
            message,
        } => {
            if status
                .last_failure
                .as_ref()
                .is_some_and(|f| f.time == *finished_at && &f.reason == reason)
            {
                return (next, false);
            }
            next.consecutive_failures = status.consecutive_failures.saturating_add(1);
            next.last_failure = Some(BackupFailure {
                time: *finished_at,
                reason: reason.clone(),
                message: message.clone(),
            });
        }
    }
    (next, true)
}

/// `42s`, `3m5s`, `1h0m7s`: what `status.backup.lastBackupDuration` shows.
pub fn format_duration(duration: Duration) -> String {
    let total = duration.num_seconds().max(0);
    let (hours, minutes, seconds) = (total / 3600, (total % 3600) / 60, total % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

fn condition(
    type_: ClusterConditionType,
    status: ConditionStatus,
    reason: ClusterConditionReason,
    message: String,
) -> ConditionUpdate {
    ConditionUpdate {
        type_,
        status,
        reason: reason.into(),
        message,
    }
}

pub fn started_conditions(kind: BackupKind, job_name: &str) -> Vec<ConditionUpdate> {
    vec![condition(
        ClusterConditionType::BackingUp,
        ConditionStatus::True,
        ClusterConditionReason::BackupRunning,
        format!("{kind} backup Job {job_name} is running"),
    )]
}

pub fn finished_conditions(outcome: &BackupOutcome, status: &BackupStatus) -> Vec<ConditionUpdate> {
    let idle = condition(
        ClusterConditionType::BackingUp,
        ConditionStatus::False,
        ClusterConditionReason::Idle,
        "no backup is running".into(),
    );
    let health = match outcome {
        BackupOutcome::Succeeded { point, .. } => condition(
            ClusterConditionType::BackupHealthy,
            ConditionStatus::True,
            ClusterConditionReason::BackupSucceeded,
            format!(
                "newest backup {} ({} bytes) was verified",
                point.key, point.size
            ),
        ),
        BackupOutcome::Failed {
            reason, message, ..
        } => condition(
            ClusterConditionType::BackupHealthy,
            ConditionStatus::False,
            ClusterConditionReason::BackupFailed,
            format!(
                "{reason}: {message} ({} failure(s) in a row)",
                status.consecutive_failures
            ),
        ),
    };
    vec![idle, health]
}

pub fn missed_window_condition(message: String) -> ConditionUpdate {
    condition(
        ClusterConditionType::BackupHealthy,
        ConditionStatus::False,
        ClusterConditionReason::ScheduleMissed,
        message,
    )
}

pub fn waiting_for_lock_condition(message: String) -> ConditionUpdate {
    condition(
        ClusterConditionType::BackingUp,
        ConditionStatus::False,
        ClusterConditionReason::WaitingForLock,
        message,
    )
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;

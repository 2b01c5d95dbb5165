//! The backup actor's pure core: from what it knows now to the one thing it should do next.
//!
//! Order of precedence when idle: a pre-upgrade snapshot (its upgrade already holds the lock and waits), then the
//! scheduled window (it has a deadline), then the oldest queued manual trigger. While a backup runs, everything
//! waits for its Job to end (`Busy`); the window is decided again then, so a window that stayed due within its
//! starting deadline still runs and one that did not is recorded as missed.

use chrono::{DateTime, Duration, Utc};
use openbao_crds::schedule::{BackupSchedule, WindowDecision, WindowInput, decide_window};
use openbao_crds::validation::ValidatedBackupConfig;
use openbao_crds::{BackupKind, Operation};

use super::naming;

/// `spec.backup`'s schedule fields, parsed once per observed spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSettings {
    pub schedule: BackupSchedule,
    pub jitter: Duration,
    pub starting_deadline: Duration,
    pub suspend: bool,
}

impl ScheduleSettings {
    /// The schedule of a spec that passed validation (which parsed the cron expression and time zone already).
    pub fn from_validated(namespace: &str, name: &str, config: &ValidatedBackupConfig) -> Self {
        Self {
            schedule: config.schedule.clone(),
            jitter: config.jitter_for(namespace, name),
            starting_deadline: config.starting_deadline,
            suspend: config.suspend,
        }
    }
}

/// What the backup actor knows when it decides.
#[derive(Debug, Clone)]
pub struct BackupObservation<'a> {
    pub cluster_name: &'a str,
    pub now: DateTime<Utc>,
    /// `spec.backup` is set. Without it nothing starts; manual triggers stay queued until it is.
    pub backup_configured: bool,
    /// `None`: no `spec.backup`, or a schedule that does not parse (reported by validation, not here).
    pub schedule: Option<&'a ScheduleSettings>,
    /// When the schedule took effect: the cluster's creation time.
    pub effective_since: DateTime<Utc>,
    /// Scheduled time of the newest window started or skipped.
    pub last_handled_window: Option<DateTime<Utc>>,
    /// A backup Job of this cluster is running.
    pub running: bool,
    /// Upgrade id of the oldest pre-upgrade snapshot request.
    pub pending_pre_upgrade: Option<&'a str>,
    /// The oldest queued manual trigger token.
    pub next_trigger: Option<&'a str>,
    /// The queued trigger was denied the lock; it retries when the supervisor announces a release.
    pub trigger_waits_for_lock: bool,
}

/// Why a backup is being started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOrigin {
    Window { scheduled: DateTime<Utc> },
    Trigger { token: String },
    PreUpgrade { upgrade_id: String },
}

impl BackupOrigin {
    pub fn kind(&self) -> BackupKind {
        match self {
            Self::Window { .. } => BackupKind::Scheduled,
            Self::Trigger { .. } => BackupKind::Manual,
            Self::PreUpgrade { .. } => BackupKind::PreUpgrade,
        }
    }

    pub fn job_name(&self, cluster_name: &str) -> String {
        match self {
            Self::Window { scheduled } => naming::window_job_name(cluster_name, *scheduled),
            Self::Trigger { token } => naming::trigger_job_name(cluster_name, token),
            Self::PreUpgrade { upgrade_id } => {
                naming::pre_upgrade_job_name(cluster_name, upgrade_id)
            }
        }
    }
}

/// Why a scheduled window produced no backup. Recorded in a condition and a `BackupSkipped` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The window could not start within `startingDeadlineSeconds` (operator down, a long backup before it).
    MissedStartingDeadline { late_by: Duration },
    /// Another operation (restore, upgrade) held the cluster when the window fired.
    OperationLockHeld {
        operation: Operation,
        holder: String,
    },
}

impl SkipReason {
    /// Stable reason string for events and messages.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissedStartingDeadline { .. } => "MissedStartingDeadline",
            Self::OperationLockHeld { .. } => "OperationLockHeld",
        }
    }

    pub fn describe(&self, scheduled: DateTime<Utc>) -> String {
        match self {
            Self::MissedStartingDeadline { late_by } => format!(
                "scheduled backup for {} skipped: it could not start within startingDeadlineSeconds (late by {}s); \
                 the next window runs as scheduled",
                scheduled.to_rfc3339(),
                late_by.num_seconds()
            ),
            Self::OperationLockHeld { operation, holder } => format!(
                "scheduled backup for {} skipped: the cluster is locked by {operation} ({holder}); a backup never \
                 overlaps a restore or an upgrade",
                scheduled.to_rfc3339()
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupDecision {
    /// Take the lock (unless pre-upgrade: the upgrade holds it) and create the Job `job_name`.
    StartBackup {
        kind: BackupKind,
        origin: BackupOrigin,
        job_name: String,
    },
    /// Record the window as skipped and decide again.
    SkipWindow {
        scheduled: DateTime<Utc>,
        reason: SkipReason,
    },
    /// Nothing to start; wake up at `until` (the next scheduled fire time), or only on a message if `None`.
    Wait { until: Option<DateTime<Utc>> },
    /// A backup runs; new work stays queued until its Job ends.
    Busy,
}

pub fn decide(observation: &BackupObservation<'_>) -> BackupDecision {
    if observation.running {
        return BackupDecision::Busy;
    }
    if !observation.backup_configured {
        return BackupDecision::Wait { until: None };
    }
    if let Some(upgrade_id) = observation.pending_pre_upgrade {
        return start(
            observation,
            BackupOrigin::PreUpgrade {
                upgrade_id: upgrade_id.to_string(),
            },
        );
    }
    let window = window_decision(observation);
    match window {
        Some(WindowDecision::Missed { scheduled, late_by }) => {
            return BackupDecision::SkipWindow {
                scheduled,
                reason: SkipReason::MissedStartingDeadline { late_by },
            };
        }
        Some(WindowDecision::Due { scheduled, .. }) => {
            return start(observation, BackupOrigin::Window { scheduled });
        }
        _ => {}
    }
    if let Some(token) = observation.next_trigger
        && !observation.trigger_waits_for_lock
    {
        return start(
            observation,
            BackupOrigin::Trigger {
                token: token.to_string(),
            },
        );
    }
    BackupDecision::Wait {
        until: match window {
            Some(WindowDecision::Wait { next_fire, .. }) => Some(next_fire),
            _ => None,
        },
    }
}

/// `status.backup.nextScheduledBackup`: the fire time (jitter included) of the next window not yet handled.
pub fn next_scheduled_backup(observation: &BackupObservation<'_>) -> Option<DateTime<Utc>> {
    match window_decision(observation)? {
        WindowDecision::Due { fire_at, .. } => Some(fire_at),
        WindowDecision::Wait { next_fire, .. } => Some(next_fire),
        WindowDecision::Missed { .. }
        | WindowDecision::Suspended
        | WindowDecision::NoFutureWindow => None,
    }
}

/// What a denied lock request means for the backup that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeniedAction {
    /// A scheduled window is not caught up later: it is skipped with the reason.
    SkipWindow {
        scheduled: DateTime<Utc>,
        reason: SkipReason,
    },
    /// A manual trigger stays queued and retries when the lock is released.
    KeepTriggerQueued,
}

pub fn on_lock_denied(origin: &BackupOrigin, operation: Operation, holder: &str) -> DeniedAction {
    match origin {
        BackupOrigin::Window { scheduled } => DeniedAction::SkipWindow {
            scheduled: *scheduled,
            reason: SkipReason::OperationLockHeld {
                operation,
                holder: holder.to_string(),
            },
        },
        BackupOrigin::Trigger { .. } | BackupOrigin::PreUpgrade { .. } => {
            DeniedAction::KeepTriggerQueued
        }
    }
}

fn start(observation: &BackupObservation<'_>, origin: BackupOrigin) -> BackupDecision {
    BackupDecision::StartBackup {
        kind: origin.kind(),
        job_name: origin.job_name(observation.cluster_name),
        origin,
    }
}

fn window_decision(observation: &BackupObservation<'_>) -> Option<WindowDecision> {
    let settings = observation.schedule?;
    Some(decide_window(&WindowInput {
        schedule: &settings.schedule,
        jitter: settings.jitter,
        starting_deadline: settings.starting_deadline,
        suspend: settings.suspend,
        last_handled: observation.last_handled_window,
        effective_since: observation.effective_since,
        now: observation.now,
    }))
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

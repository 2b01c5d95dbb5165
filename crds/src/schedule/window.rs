//! Whether a scheduled backup is due now: the pure decision the backup actor acts on.
//!
//! Semantics follow Kubernetes CronJob's `startingDeadlineSeconds`:
//! - each window fires at its scheduled time plus the cluster's stable jitter;
//! - a window is due if it was not handled yet and its fire time passed less than `startingDeadlineSeconds` ago;
//! - a window late by more than the deadline is **missed**: recorded, never caught up. When several windows
//!   passed unhandled (operator down, clock jump), only the most recent one matters; the older ones are
//!   superseded without a record of their own;
//! - before any window was handled, windows scheduled at or before the time the schedule took effect (the
//!   cluster's creation) do not count, so creating a cluster never reports a window that passed before it.

use chrono::{DateTime, Duration, Utc};

use super::fire_times::BackupSchedule;

/// Everything the decision depends on; a plain value so tests and the actor build it the same way.
#[derive(Debug, Clone)]
pub struct WindowInput<'a> {
    pub schedule: &'a BackupSchedule,
    /// Stable per-cluster offset added to every scheduled time (see `jitter`).
    pub jitter: Duration,
    /// `startingDeadlineSeconds`: how late a window may still start.
    pub starting_deadline: Duration,
    pub suspend: bool,
    /// Scheduled time (without jitter) of the newest window already handled: started or recorded as missed.
    pub last_handled: Option<DateTime<Utc>>,
    /// When the schedule took effect, normally the cluster's creation time. Only used while `last_handled` is
    /// `None`.
    pub effective_since: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// What to do about the schedule at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowDecision {
    /// `suspend: true`: no scheduled backups; manual triggers still work.
    Suspended,
    /// Start a backup for the window `scheduled` now; its fire time was `fire_at` (scheduled + jitter).
    Due {
        scheduled: DateTime<Utc>,
        fire_at: DateTime<Utc>,
    },
    /// The window `scheduled` fired `late_by` ago, more than the starting deadline: record it as missed and
    /// do not back up for it.
    Missed {
        scheduled: DateTime<Utc>,
        late_by: Duration,
    },
    /// Nothing to do until `next_fire` (= `scheduled` + jitter).
    Wait {
        scheduled: DateTime<Utc>,
        next_fire: DateTime<Utc>,
    },
    /// The schedule has no fire time left within the scheduler's calendar (it ends in 2100).
    NoFutureWindow,
}

/// Decides the schedule's next step. Pure: the same input always gives the same decision.
pub fn decide_window(input: &WindowInput<'_>) -> WindowDecision {
    if input.suspend {
        return WindowDecision::Suspended;
    }
    let handled_through = input.last_handled.unwrap_or(input.effective_since);
    // A window can only fire once its scheduled time plus jitter has passed.
    let newest_fireable = input.now - input.jitter;

    if let Some(scheduled) = input.schedule.latest_fire_at_or_before(newest_fireable)
        && scheduled > handled_through
    {
        let fire_at = scheduled + input.jitter;
        let late_by = input.now - fire_at;
        return if late_by <= input.starting_deadline {
            WindowDecision::Due { scheduled, fire_at }
        } else {
            WindowDecision::Missed { scheduled, late_by }
        };
    }

    match input
        .schedule
        .next_fire_after(handled_through.max(newest_fireable))
    {
        Some(scheduled) => WindowDecision::Wait {
            scheduled,
            next_fire: scheduled + input.jitter,
        },
        None => WindowDecision::NoFutureWindow,
    }
}

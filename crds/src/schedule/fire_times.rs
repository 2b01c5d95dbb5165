//! When a schedule fires, in UTC, across time zones and daylight-saving changes.
//!
//! Fire times are wall-clock times in the schedule's zone, with two rules for the days the clocks change:
//! - a wall-clock time that does not exist (spring forward, e.g. 02:30 on a March Sunday in New York) is skipped
//!   for that day: it is not moved to 03:00;
//! - a wall-clock time that happens twice (fall back, e.g. 01:30 on a November Sunday in New York) fires once, at
//!   its first occurrence. The `cron` crate yields both occurrences; the second is dropped here. As a consequence
//!   the repeated hour fires nothing, so `@hourly` in such a zone has one two-hour gap a year. Use UTC (the
//!   default) for strictly periodic backups.
//!
//! With those rules, the valid fire times in wall-clock order are also in real-time order, which is what lets
//! the searches below walk the crate's local-time iterators and filter.

use chrono::{DateTime, Duration, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;

use super::cron_expr::CronExpression;

/// How far past the instant a backward search starts. In a repeated hour the wall clock runs up to the DST
/// shift (at most 2 h in the tz database) behind real time, so a search starting at the instant's wall-clock
/// time could miss first occurrences that already happened.
const BACKWARD_SEARCH_MARGIN: Duration = Duration::hours(3);

/// Bounds the filtering loops; only the candidates inside one repeated hour are ever skipped (at most 120 for a
/// schedule that fires every minute), so this is far beyond any real need.
const MAX_SKIPPED_CANDIDATES: usize = 10_000;

/// The backup schedule as a value: a 5-field cron expression evaluated in an IANA time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupSchedule {
    expression: CronExpression,
    time_zone: Tz,
}

impl BackupSchedule {
    pub fn new(expression: CronExpression, time_zone: Tz) -> Self {
        BackupSchedule {
            expression,
            time_zone,
        }
    }

    pub fn expression(&self) -> &CronExpression {
        &self.expression
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first fire time strictly after `instant`, or `None` if the schedule has no fire time left before the
    /// end of the `cron` crate's calendar (year 2100).
    pub fn next_fire_after(&self, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expression
            .compiled()
            .iter()
            .filter_map(|schedule| self.next_after_one(schedule, instant))
            .min()
    }

    /// The newest fire time at or before `instant`.
    pub fn latest_fire_at_or_before(&self, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expression
            .compiled()
            .iter()
            .filter_map(|schedule| self.latest_at_or_before_one(schedule, instant))
            .max()
    }

    /// The next `count` fire times after `instant`, in order.
    pub fn upcoming(&self, instant: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut fire_times = Vec::with_capacity(count);
        let mut cursor = instant;
        while fire_times.len() < count {
            let Some(next) = self.next_fire_after(cursor) else {
                break;
            };
            fire_times.push(next);
            cursor = next;
        }
        fire_times
    }

    fn next_after_one(
        &self,
        schedule: &cron::Schedule,
        instant: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        schedule
            .after(&instant.with_timezone(&self.time_zone))
            .map(|candidate| candidate.with_timezone(&Utc))
            .take(MAX_SKIPPED_CANDIDATES)
            .find(|candidate| *candidate > instant && !self.is_repeated_occurrence(*candidate))
    }

    fn latest_at_or_before_one(
        &self,
        schedule: &cron::Schedule,
        instant: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let start = (instant + BACKWARD_SEARCH_MARGIN).with_timezone(&self.time_zone);
        schedule
            .after(&start)
            .rev()
            .map(|candidate| candidate.with_timezone(&Utc))
            .take(MAX_SKIPPED_CANDIDATES)
            .find(|candidate| *candidate <= instant && !self.is_repeated_occurrence(*candidate))
    }

    /// True for the second occurrence of a wall-clock time that happens twice (fall back).
    fn is_repeated_occurrence(&self, candidate: DateTime<Utc>) -> bool {
        let wall_clock = candidate.with_timezone(&self.time_zone).naive_local();
        match self.time_zone.from_local_datetime(&wall_clock) {
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc) != candidate,
            LocalResult::Single(_) | LocalResult::None => false,
        }
    }
}

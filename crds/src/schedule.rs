//! The backup schedule as a value type: cron dialect, time zone, fire times, jitter and the due/missed decision.
//!
//! - [`CronExpression`]: standard 5-field cron or an `@daily`-style macro, translated to the `cron` crate.
//! - [`parse_time_zone`]: IANA `timeZone`, UTC by default.
//! - [`BackupSchedule`]: fire times in UTC. Across DST changes a wall-clock time that does not exist is skipped
//!   for that day and one that happens twice fires once, at its first occurrence.
//! - [`jitter`]: stable per-cluster offset added to every scheduled time.
//! - [`decide_window`]: whether a window is due, missed (late beyond the starting deadline) or still ahead.
//!
//! User-facing description: `docs/schedule.md`.

mod cron_expr;
mod fire_times;
mod jitter;
mod time_zone;
mod window;

pub use cron_expr::{CronError, CronExpression, CronField};
pub use fire_times::BackupSchedule;
pub use jitter::jitter;
pub use time_zone::{DEFAULT_TIME_ZONE, TimeZoneError, parse_time_zone, time_zone_or_default};
pub use window::{WindowDecision, WindowInput, decide_window};

#[cfg(test)]
mod tests;

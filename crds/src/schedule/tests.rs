//! Schedule behaviour checked through real fire times, not through the translated strings alone.

mod dialect;
mod dst;
mod window;

use chrono::{DateTime, Utc};

use super::{BackupSchedule, CronExpression, parse_time_zone};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("{text}: {error}"))
        .with_timezone(&Utc)
}

fn schedule(expression: &str, time_zone: &str) -> BackupSchedule {
    let expression =
        CronExpression::parse(expression).unwrap_or_else(|error| panic!("{expression}: {error}"));
    let zone = parse_time_zone(time_zone).unwrap_or_else(|error| panic!("{time_zone}: {error}"));
    BackupSchedule::new(expression, zone)
}

fn utc_all(texts: &[&str]) -> Vec<DateTime<Utc>> {
    texts.iter().map(|text| utc(text)).collect()
}

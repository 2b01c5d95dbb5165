//! The 5-field dialect: parsing, translation to the `cron` crate, and the days it really fires on.

use std::collections::BTreeSet;

use chrono::{Datelike, Timelike, Weekday};

use super::{schedule, utc, utc_all};
use crate::field_error::{FieldProblem, FieldReason};
use crate::schedule::CronExpression;

#[test]
fn translates_to_cron_crate_numbering() {
    let table: &[(&str, &[&str])] = &[
        ("0 3 * * *", &["0 0 3 * * *"]),
        ("0 3 * * 1-5", &["0 0 3 * * 2,3,4,5,6"]),
        ("0 3 * * MON-FRI", &["0 0 3 * * 2,3,4,5,6"]),
        ("0 3 * * 0", &["0 0 3 * * 1"]),
        ("0 3 * * 7", &["0 0 3 * * 1"]),
        ("0 3 * * sun", &["0 0 3 * * 1"]),
        ("0 3 * * 6", &["0 0 3 * * 7"]),
        ("0 3 * * 5-7", &["0 0 3 * * 1,6,7"]),
        ("0 3 * * 6-0", &["0 0 3 * * 1,7"]),
        ("0 3 * * FRI-SUN", &["0 0 3 * * 1,6,7"]),
        ("0 3 * * 0-6", &["0 0 3 * * *"]),
        ("0 3 * * 1-7", &["0 0 3 * * *"]),
        ("0 3 * * 1/2", &["0 0 3 * * 2,4,6"]),
        ("0 3 * * */2", &["0 0 3 * * 1,3,5,7"]),
        ("*/15 * * * *", &["0 0,15,30,45 * * * *"]),
        ("5 4 1-10/3 * *", &["0 5 4 1,4,7,10 * *"]),
        ("0 12 10/10 * *", &["0 0 12 10,20,30 * *"]),
        ("0 3 * jan,JUL *", &["0 0 3 * 1,7 *"]),
        ("0 0 1 * MON", &["0 0 0 1 * *", "0 0 0 * * 2"]),
        ("  0 3 * * *  ", &["0 0 3 * * *"]),
        ("@hourly", &["0 0 * * * *"]),
        ("@daily", &["0 0 0 * * *"]),
        ("@midnight", &["0 0 0 * * *"]),
        ("@weekly", &["0 0 0 * * 1"]),
        ("@monthly", &["0 0 0 1 * *"]),
        ("@yearly", &["0 0 0 1 1 *"]),
        ("@annually", &["0 0 0 1 1 *"]),
        ("@DAILY", &["0 0 0 * * *"]),
    ];
    for (expression, expected) in table {
        let parsed = CronExpression::parse(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"));
        assert_eq!(parsed.cron_crate_expressions(), *expected, "{expression}");
        assert_eq!(parsed.source(), expression.trim());
    }
}

fn fire_weekdays(expression: &str) -> BTreeSet<u32> {
    // 2026-03-01 is a Sunday; three weeks of fire times cover every weekday the schedule allows.
    let start = utc("2026-03-01T00:00:00Z");
    assert_eq!(start.weekday(), Weekday::Sun);
    schedule(expression, "UTC")
        .upcoming(start, 21)
        .iter()
        .map(|fire| fire.weekday().num_days_from_sunday())
        .collect()
}

#[test]
fn fires_on_the_weekdays_standard_cron_means() {
    let table: &[(&str, &[u32])] = &[
        ("0 3 * * 1-5", &[1, 2, 3, 4, 5]),
        ("0 3 * * MON-FRI", &[1, 2, 3, 4, 5]),
        ("0 3 * * 0", &[0]),
        ("0 3 * * 7", &[0]),
        ("0 3 * * 6,0", &[0, 6]),
        ("0 3 * * 5-7", &[0, 5, 6]),
        ("0 3 * * 6-0", &[0, 6]),
        ("0 3 * * SAT-SUN", &[0, 6]),
        ("0 3 * * 1/2", &[1, 3, 5]),
        ("0 3 * * */2", &[0, 2, 4, 6]),
        ("@weekly", &[0]),
    ];
    for (expression, weekdays) in table {
        let expected: BTreeSet<u32> = weekdays.iter().copied().collect();
        assert_eq!(fire_weekdays(expression), expected, "{expression}");
    }
}

#[test]
fn weekday_schedule_fires_monday_to_friday_at_the_given_time() {
    let fires = schedule("0 3 * * 1-5", "UTC").upcoming(utc("2026-03-01T00:00:00Z"), 6);
    assert_eq!(
        fires,
        utc_all(&[
            "2026-03-02T03:00:00Z",
            "2026-03-03T03:00:00Z",
            "2026-03-04T03:00:00Z",
            "2026-03-05T03:00:00Z",
            "2026-03-06T03:00:00Z",
            "2026-03-09T03:00:00Z",
        ])
    );
}

#[test]
fn macros_fire_at_their_standard_times() {
    let start = utc("2026-05-13T10:20:00Z");
    let table = [
        ("@hourly", "2026-05-13T11:00:00Z"),
        ("@daily", "2026-05-14T00:00:00Z"),
        ("@midnight", "2026-05-14T00:00:00Z"),
        ("@weekly", "2026-05-17T00:00:00Z"),
        ("@monthly", "2026-06-01T00:00:00Z"),
        ("@yearly", "2027-01-01T00:00:00Z"),
        ("@annually", "2027-01-01T00:00:00Z"),
    ];
    for (expression, next) in table {
        assert_eq!(
            schedule(expression, "UTC").next_fire_after(start),
            Some(utc(next)),
            "{expression}"
        );
    }
}

#[test]
fn restricted_day_of_month_and_day_of_week_fire_on_either() {
    let fires = schedule("0 0 13 * FRI", "UTC").upcoming(utc("2026-01-01T00:00:00Z"), 80);
    assert!(
        fires
            .iter()
            .all(|fire| fire.day() == 13 || fire.weekday() == Weekday::Fri)
    );
    assert!(
        fires
            .iter()
            .any(|fire| fire.day() == 13 && fire.weekday() != Weekday::Fri)
    );
    assert!(
        fires
            .iter()
            .any(|fire| fire.day() != 13 && fire.weekday() == Weekday::Fri)
    );
    assert!(
        fires.windows(2).all(|pair| pair[0] < pair[1]),
        "fire times must increase"
    );
    // 2026-02-13 is a Friday: it matches both ways and must fire only once.
    let february_13 = utc("2026-02-13T00:00:00Z");
    assert_eq!(fires.iter().filter(|fire| **fire == february_13).count(), 1);
}

#[test]
fn day_of_month_alone_ignores_the_weekday() {
    let fires = schedule("30 6 1,15 * *", "UTC").upcoming(utc("2026-01-01T00:00:00Z"), 6);
    assert!(fires.iter().all(|fire| matches!(fire.day(), 1 | 15)));
    assert!(
        fires
            .iter()
            .all(|fire| fire.hour() == 6 && fire.minute() == 30 && fire.second() == 0)
    );
    assert_eq!(fires[0], utc("2026-01-01T06:30:00Z"));
}

#[test]
fn leap_day_schedule_fires_in_leap_years_only() {
    let fires = schedule("0 0 29 2 *", "UTC").upcoming(utc("2026-01-01T00:00:00Z"), 2);
    assert_eq!(
        fires,
        utc_all(&["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"])
    );
}

#[test]
fn latest_fire_is_inclusive_and_looks_back() {
    let daily = schedule("0 3 * * *", "UTC");
    let at_three = utc("2026-05-02T03:00:00Z");
    assert_eq!(daily.latest_fire_at_or_before(at_three), Some(at_three));
    assert_eq!(
        daily.latest_fire_at_or_before(utc("2026-05-02T02:59:59Z")),
        Some(utc("2026-05-01T03:00:00Z"))
    );
    assert_eq!(
        daily.next_fire_after(at_three),
        Some(utc("2026-05-03T03:00:00Z"))
    );
}

#[test]
fn refuses_bad_expressions_with_clear_reasons() {
    let table: &[(&str, &str, &str)] = &[
        ("", "Empty", "5-field cron expression"),
        ("   ", "Empty", "5-field cron expression"),
        ("0 0 3 * * *", "SecondsField", "5 are expected"),
        (
            "0 0 3 * * 1-5",
            "SecondsField",
            "seconds field is not supported",
        ),
        ("0 3 * *", "FieldCount", "has 4 fields, but 5 are expected"),
        ("0 0 3 * * * 2030", "FieldCount", "has 7 fields"),
        ("@reboot", "UnknownMacro", "@hourly"),
        ("@every 5m", "UnknownMacro", "not a supported macro"),
        (
            "60 * * * *",
            "OutOfRange",
            "minute field \"60\": 60 is out of range; use a number 0-59",
        ),
        ("0 24 * * *", "OutOfRange", "hour field"),
        ("0 0 0 * *", "OutOfRange", "use a number 1-31"),
        ("0 0 32 * *", "OutOfRange", "day-of-month"),
        ("0 0 * 13 *", "OutOfRange", "JAN-DEC"),
        ("0 0 * * 8", "OutOfRange", "0 and 7 are Sunday"),
        ("0 0 * * 99999999999", "OutOfRange", "day-of-week"),
        ("0 0 * * MONDAY", "InvalidValue", "\"MONDAY\" is not valid"),
        ("0 0 * FOO *", "InvalidValue", "month field"),
        ("0 MON * * *", "InvalidValue", "hour field"),
        ("0 0 ? * *", "InvalidValue", "day-of-month"),
        ("0 0 L * *", "InvalidValue", "day-of-month"),
        (
            "0 0 * * 5-2",
            "ReversedRange",
            "split it into two ranges, e.g. 5-7,0-2",
        ),
        ("30-10 * * * *", "ReversedRange", "30-59,0-10"),
        ("0 0 * DEC-JAN *", "ReversedRange", "runs backwards"),
        ("*/0 * * * *", "InvalidStep", "at least 1"),
        ("*/x * * * *", "InvalidStep", "step \"x\""),
        ("*/+2 * * * *", "InvalidStep", "step \"+2\""),
        ("1,,2 * * * *", "EmptyItem", "empty list item"),
        ("0 0 30 2 *", "NeverFires", "never fires"),
        ("0 0 31 4,6,9,11 *", "NeverFires", "never fires"),
    ];
    for (expression, reason, fragment) in table {
        let error = CronExpression::parse(expression).expect_err(expression);
        assert_eq!(error.reason(), *reason, "{expression:?}: {error}");
        assert!(
            error.to_string().contains(fragment),
            "{expression:?}: {error}"
        );
    }
}

#[test]
fn error_carries_the_field_it_was_given() {
    let error = CronExpression::parse("0 0 3 * * *")
        .expect_err("6 fields")
        .at("spec.backup.schedule");
    assert_eq!(error.field, "spec.backup.schedule");
    assert_eq!(error.reason, FieldReason::InvalidSchedule);
    assert!(
        error.message.contains("5 are expected"),
        "{}",
        error.message
    );
}

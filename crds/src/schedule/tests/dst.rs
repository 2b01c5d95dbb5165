//! Time zones and daylight-saving changes: skipped local times are skipped, repeated ones fire once.

use std::str::FromStr;

use chrono::TimeZone;

use super::{schedule, utc, utc_all};

#[test]
fn fixed_offset_zone_shifts_fire_times() {
    // Asia/Kolkata is UTC+05:30 all year.
    let fires = schedule("0 3 * * *", "Asia/Kolkata").upcoming(utc("2026-05-01T00:00:00Z"), 2);
    assert_eq!(
        fires,
        utc_all(&["2026-05-01T21:30:00Z", "2026-05-02T21:30:00Z"])
    );
}

#[test]
fn zone_follows_daylight_saving_through_the_year() {
    // 03:00 Berlin is 02:00 UTC in winter (CET) and 01:00 UTC in summer (CEST).
    let berlin = schedule("0 3 * * *", "Europe/Berlin");
    assert_eq!(
        berlin.next_fire_after(utc("2026-01-10T00:00:00Z")),
        Some(utc("2026-01-10T02:00:00Z"))
    );
    assert_eq!(
        berlin.next_fire_after(utc("2026-07-10T00:00:00Z")),
        Some(utc("2026-07-10T01:00:00Z"))
    );
}

#[test]
fn nonexistent_local_time_is_skipped_for_that_day_new_york() {
    // 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT; 02:30 does not exist that day.
    let nightly = schedule("30 2 * * *", "America/New_York");
    let fires = nightly.upcoming(utc("2026-03-07T00:00:00Z"), 3);
    assert_eq!(
        fires,
        utc_all(&[
            "2026-03-07T07:30:00Z",
            "2026-03-09T06:30:00Z",
            "2026-03-10T06:30:00Z"
        ])
    );
    assert_eq!(
        nightly.latest_fire_at_or_before(utc("2026-03-09T06:00:00Z")),
        Some(utc("2026-03-07T07:30:00Z"))
    );
}

#[test]
fn nonexistent_local_time_is_skipped_for_that_day_berlin() {
    // 2026-03-29: Berlin clocks jump from 02:00 CET to 03:00 CEST.
    let fires = schedule("30 2 * * *", "Europe/Berlin").upcoming(utc("2026-03-28T00:00:00Z"), 3);
    assert_eq!(
        fires,
        utc_all(&[
            "2026-03-28T01:30:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z"
        ])
    );
}

#[test]
fn frequent_schedule_resumes_after_the_skipped_hour() {
    // 06:50Z is 01:50 EST on the spring-forward day; 02:00-02:59 does not exist, 03:00 EDT is 07:00Z.
    let fires =
        schedule("*/15 * * * *", "America/New_York").upcoming(utc("2026-03-08T06:50:00Z"), 3);
    assert_eq!(
        fires,
        utc_all(&[
            "2026-03-08T07:00:00Z",
            "2026-03-08T07:15:00Z",
            "2026-03-08T07:30:00Z"
        ])
    );
}

#[test]
fn cron_crate_alone_fires_a_repeated_local_time_twice() {
    // Guards the reason for the dedupe: if the crate ever changes, this test says so.
    let raw = cron::Schedule::from_str("0 30 1 * * *").expect("valid crate expression");
    let start = chrono_tz::America::New_York
        .with_ymd_and_hms(2026, 10, 31, 12, 0, 0)
        .single()
        .expect("unambiguous");
    let fires: Vec<_> = raw
        .after(&start)
        .take(2)
        .map(|fire| fire.with_timezone(&chrono::Utc))
        .collect();
    assert_eq!(
        fires,
        utc_all(&["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"])
    );
}

#[test]
fn repeated_local_time_fires_once_new_york() {
    // 2026-11-01: New York clocks fall back from 02:00 EDT to 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
    let nightly = schedule("30 1 * * *", "America/New_York");
    assert_eq!(
        nightly.upcoming(utc("2026-10-31T12:00:00Z"), 3),
        utc_all(&[
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
            "2026-11-03T06:30:00Z"
        ])
    );
    // From inside the repeated hour (01:10 EST, after the first 01:30 already passed) nothing fires until tomorrow.
    let second_pass = utc("2026-11-01T06:10:00Z");
    assert_eq!(
        nightly.next_fire_after(second_pass),
        Some(utc("2026-11-02T06:30:00Z"))
    );
    assert_eq!(
        nightly.latest_fire_at_or_before(second_pass),
        Some(utc("2026-11-01T05:30:00Z"))
    );
    assert_eq!(
        nightly.latest_fire_at_or_before(utc("2026-11-01T06:30:00Z")),
        Some(utc("2026-11-01T05:30:00Z"))
    );
}

#[test]
fn repeated_local_time_fires_once_berlin() {
    // 2026-10-25: Berlin clocks fall back from 03:00 CEST to 02:00 CET; 02:30 happens at 00:30Z and 01:30Z.
    let nightly = schedule("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        nightly.upcoming(utc("2026-10-24T12:00:00Z"), 2),
        utc_all(&["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
    );
    assert_eq!(
        nightly.latest_fire_at_or_before(utc("2026-10-25T01:45:00Z")),
        Some(utc("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn hourly_schedule_skips_the_repeated_hour() {
    // Documented consequence of firing each wall-clock time once: one two-hour gap on the fall-back night.
    let fires = schedule("@hourly", "America/New_York").upcoming(utc("2026-11-01T04:30:00Z"), 3);
    assert_eq!(
        fires,
        utc_all(&[
            "2026-11-01T05:00:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:00:00Z"
        ])
    );
}

#[test]
fn fire_times_always_increase_across_a_whole_year() {
    for zone in [
        "America/New_York",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "UTC",
    ] {
        let fires =
            schedule("*/20 * * * *", zone).upcoming(utc("2026-01-01T00:00:00Z"), 3 * 24 * 366);
        assert!(
            fires.windows(2).all(|pair| pair[0] < pair[1]),
            "{zone}: fire times must strictly increase"
        );
    }
}

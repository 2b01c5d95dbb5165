//! The due / missed / wait decision.

use chrono::{DateTime, Duration, Utc};

use super::{schedule, utc};
use crate::schedule::{BackupSchedule, WindowDecision, WindowInput, decide_window};

struct Case {
    name: &'static str,
    suspend: bool,
    last_handled: Option<&'static str>,
    effective_since: &'static str,
    now: &'static str,
    expected: Expected,
}

enum Expected {
    Suspended,
    Due(&'static str),
    Missed(&'static str, i64),
    Wait(&'static str),
    NoFutureWindow,
}

fn input<'a>(schedule: &'a BackupSchedule, case: &Case, jitter: Duration) -> WindowInput<'a> {
    WindowInput {
        schedule,
        jitter,
        starting_deadline: Duration::hours(1),
        suspend: case.suspend,
        last_handled: case.last_handled.map(utc),
        effective_since: utc(case.effective_since),
        now: utc(case.now),
    }
}

fn expected_decision(expected: &Expected, jitter: Duration) -> WindowDecision {
    let at = |text: &str| -> DateTime<Utc> { utc(text) };
    match *expected {
        Expected::Suspended => WindowDecision::Suspended,
        Expected::Due(scheduled) => WindowDecision::Due {
            scheduled: at(scheduled),
            fire_at: at(scheduled) + jitter,
        },
        Expected::Missed(scheduled, late_seconds) => WindowDecision::Missed {
            scheduled: at(scheduled),
            late_by: Duration::seconds(late_seconds),
        },
        Expected::Wait(scheduled) => WindowDecision::Wait {
            scheduled: at(scheduled),
            next_fire: at(scheduled) + jitter,
        },
        Expected::NoFutureWindow => WindowDecision::NoFutureWindow,
    }
}

#[test]
fn daily_schedule_with_jitter_and_one_hour_deadline() {
    let daily = schedule("0 3 * * *", "UTC");
    let jitter = Duration::minutes(10);
    let created = "2026-04-01T00:00:00Z";
    let cases = [
        Case {
            name: "on time, at the jittered fire time",
            suspend: false,
            last_handled: Some("2026-05-01T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T03:10:00Z",
            expected: Expected::Due("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "scheduled time passed but jitter not yet",
            suspend: false,
            last_handled: Some("2026-05-01T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T03:05:00Z",
            expected: Expected::Wait("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "late within the deadline",
            suspend: false,
            last_handled: Some("2026-05-01T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T03:50:00Z",
            expected: Expected::Due("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "late exactly by the deadline still starts",
            suspend: false,
            last_handled: Some("2026-05-01T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T04:10:00Z",
            expected: Expected::Due("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "late beyond the deadline is missed",
            suspend: false,
            last_handled: Some("2026-05-01T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T04:10:01Z",
            expected: Expected::Missed("2026-05-02T03:00:00Z", 3601),
        },
        Case {
            name: "several windows missed: only the newest counts",
            suspend: false,
            last_handled: Some("2026-04-28T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T12:00:00Z",
            expected: Expected::Missed("2026-05-02T03:00:00Z", 8 * 3600 + 50 * 60),
        },
        Case {
            name: "several windows passed, newest within deadline: it starts, older ones are superseded",
            suspend: false,
            last_handled: Some("2026-04-28T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T03:30:00Z",
            expected: Expected::Due("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "window already handled: wait for the next one",
            suspend: false,
            last_handled: Some("2026-05-02T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T03:30:00Z",
            expected: Expected::Wait("2026-05-03T03:00:00Z"),
        },
        Case {
            name: "missed window recorded: wait for the next one",
            suspend: false,
            last_handled: Some("2026-05-02T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T12:00:00Z",
            expected: Expected::Wait("2026-05-03T03:00:00Z"),
        },
        Case {
            name: "suspended",
            suspend: true,
            last_handled: Some("2026-04-28T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T03:10:00Z",
            expected: Expected::Suspended,
        },
        Case {
            name: "resumed after suspend: the newest window within the deadline starts",
            suspend: false,
            last_handled: Some("2026-04-20T03:00:00Z"),
            effective_since: created,
            now: "2026-05-02T03:15:00Z",
            expected: Expected::Due("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "first start before the first window",
            suspend: false,
            last_handled: None,
            effective_since: "2026-05-02T02:00:00Z",
            now: "2026-05-02T02:30:00Z",
            expected: Expected::Wait("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "first start shortly after the first window",
            suspend: false,
            last_handled: None,
            effective_since: "2026-05-02T02:00:00Z",
            now: "2026-05-02T03:20:00Z",
            expected: Expected::Due("2026-05-02T03:00:00Z"),
        },
        Case {
            name: "first start: a window scheduled before the cluster existed does not count",
            suspend: false,
            last_handled: None,
            effective_since: "2026-05-02T03:05:00Z",
            now: "2026-05-02T03:20:00Z",
            expected: Expected::Wait("2026-05-03T03:00:00Z"),
        },
        Case {
            name: "first start long after creation: the newest window is recorded as missed",
            suspend: false,
            last_handled: None,
            effective_since: created,
            now: "2026-05-02T12:00:00Z",
            expected: Expected::Missed("2026-05-02T03:00:00Z", 8 * 3600 + 50 * 60),
        },
    ];
    for case in &cases {
        let decision = decide_window(&input(&daily, case, jitter));
        assert_eq!(
            decision,
            expected_decision(&case.expected, jitter),
            "{}",
            case.name
        );
    }
}

#[test]
fn zero_jitter_fires_at_the_scheduled_second() {
    let daily = schedule("0 3 * * *", "UTC");
    let case = Case {
        name: "exact",
        suspend: false,
        last_handled: Some("2026-05-01T03:00:00Z"),
        effective_since: "2026-04-01T00:00:00Z",
        now: "2026-05-02T03:00:00Z",
        expected: Expected::Due("2026-05-02T03:00:00Z"),
    };
    let decision = decide_window(&input(&daily, &case, Duration::zero()));
    assert_eq!(
        decision,
        expected_decision(&case.expected, Duration::zero())
    );
    let before = Case {
        now: "2026-05-02T02:59:59Z",
        expected: Expected::Wait("2026-05-02T03:00:00Z"),
        ..case
    };
    let decision = decide_window(&input(&daily, &before, Duration::zero()));
    assert_eq!(
        decision,
        expected_decision(&before.expected, Duration::zero())
    );
}

#[test]
fn daylight_saving_windows_in_new_york() {
    let jitter = Duration::zero();
    let created = "2026-01-01T00:00:00Z";
    // 02:30 does not exist on 2026-03-08: the next window after the 7th is the 9th.
    let spring = schedule("30 2 * * *", "America/New_York");
    let skipped = Case {
        name: "spring forward skips the day",
        suspend: false,
        last_handled: Some("2026-03-07T07:30:00Z"),
        effective_since: created,
        now: "2026-03-08T08:00:00Z",
        expected: Expected::Wait("2026-03-09T06:30:00Z"),
    };
    assert_eq!(
        decide_window(&input(&spring, &skipped, jitter)),
        expected_decision(&skipped.expected, jitter),
        "{}",
        skipped.name
    );
    // 01:30 happens twice on 2026-11-01; after the first one was handled the second is not a new window.
    let fall = schedule("30 1 * * *", "America/New_York");
    let repeated = Case {
        name: "fall back fires once",
        suspend: false,
        last_handled: Some("2026-11-01T05:30:00Z"),
        effective_since: created,
        now: "2026-11-01T06:31:00Z",
        expected: Expected::Wait("2026-11-02T06:30:00Z"),
    };
    assert_eq!(
        decide_window(&input(&fall, &repeated, jitter)),
        expected_decision(&repeated.expected, jitter),
        "{}",
        repeated.name
    );
}

#[test]
fn jitter_longer_than_the_period_still_fires_every_window() {
    let every_five = schedule("*/5 * * * *", "UTC");
    let jitter = Duration::minutes(7);
    let case = Case {
        name: "window 10:00 fires at 10:07, after window 10:05 was scheduled",
        suspend: false,
        last_handled: Some("2026-05-02T09:55:00Z"),
        effective_since: "2026-04-01T00:00:00Z",
        now: "2026-05-02T10:07:00Z",
        expected: Expected::Due("2026-05-02T10:00:00Z"),
    };
    assert_eq!(
        decide_window(&input(&every_five, &case, jitter)),
        expected_decision(&case.expected, jitter),
        "{}",
        case.name
    );
}

#[test]
fn schedule_past_the_end_of_the_calendar_has_no_future_window() {
    // The `cron` crate's calendar ends in 2100; the decision must say so instead of inventing a time.
    let daily = schedule("0 3 * * *", "UTC");
    let case = Case {
        name: "last window of 2100 handled",
        suspend: false,
        last_handled: Some("2100-12-31T03:00:00Z"),
        effective_since: "2026-04-01T00:00:00Z",
        now: "2100-12-31T12:00:00Z",
        expected: Expected::NoFutureWindow,
    };
    assert_eq!(
        decide_window(&input(&daily, &case, Duration::zero())),
        expected_decision(&case.expected, Duration::zero()),
        "{}",
        case.name
    );
}

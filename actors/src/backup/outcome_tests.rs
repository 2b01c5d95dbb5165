use chrono::TimeZone;

use super::*;

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 3, minute, 0).unwrap()
}

fn success_message(key: &str, minute: u32) -> String {
    format!(
        r#"{{"operation":"backup","outcome":"succeeded","key":"{key}","size":1234,"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "created":"{}","durationSeconds":185.2}}"#,
        t(minute).to_rfc3339()
    )
}

fn succeeded(job: &str, key: &str, minute: u32) -> JobObservation {
    JobObservation {
        job_name: job.into(),
        state: JobState::Succeeded {
            finished_at: t(minute) + Duration::seconds(190),
            termination_message: Some(success_message(key, minute)),
        },
    }
}

fn failed(job: &str, minute: u32) -> JobObservation {
    JobObservation {
        job_name: job.into(),
        state: JobState::Failed {
            finished_at: t(minute),
            job_reason: Some("BackoffLimitExceeded".into()),
            termination_message: Some(
                r#"{"outcome":"failed","stage":"auth","reason":"AuthFailed","message":"permission denied"}"#.into(),
            ),
        },
    }
}

#[test]
fn a_success_records_key_size_digest_duration_and_resets_failures() {
    let outcome = outcome_of(&succeeded("j", "k1", 0), BackupKind::Scheduled, t(30)).unwrap();
    let before = BackupStatus {
        consecutive_failures: 3,
        ..BackupStatus::default()
    };
    let (status, changed) = apply_outcome(&before, &outcome);
    assert!(changed);
    assert_eq!(status.last_backup_key.as_deref(), Some("k1"));
    assert_eq!(status.last_backup_size, Some(1234));
    assert_eq!(
        status.last_backup_digest.as_deref(),
        Some("sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    );
    assert_eq!(status.last_backup_duration.as_deref(), Some("3m5s"));
    assert_eq!(
        status.last_success_time,
        Some(t(0) + Duration::seconds(190))
    );
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.recovery_points.len(), 1);
    assert_eq!(status.recovery_points[0].kind, BackupKind::Scheduled);
    assert_eq!(status.recovery_points[0].time, t(0));
}

#[test]
fn the_same_job_observed_twice_changes_status_once() {
    for job in [succeeded("j", "k1", 0), failed("j", 5)] {
        let outcome = outcome_of(&job, BackupKind::Scheduled, t(30)).unwrap();
        let (once, changed) = apply_outcome(&BackupStatus::default(), &outcome);
        assert!(changed);
        let again = outcome_of(&job, BackupKind::Scheduled, t(31)).unwrap();
        let (twice, changed_again) = apply_outcome(&once, &again);
        assert!(!changed_again, "{job:?}");
        assert_eq!(once, twice);
    }
}

#[test]
fn each_failure_counts_once_and_keeps_the_executor_reason() {
    let mut status = BackupStatus::default();
    for (round, minute) in [1u32, 2, 3].into_iter().enumerate() {
        let outcome = outcome_of(&failed("j", minute), BackupKind::Manual, t(30)).unwrap();
        status = apply_outcome(&status, &outcome).0;
        status = apply_outcome(&status, &outcome).0;
        assert_eq!(status.consecutive_failures, round as i32 + 1);
    }
    let failure = status.last_failure.as_ref().unwrap();
    assert_eq!(failure.reason, "AuthFailed");
    assert_eq!(failure.message, "auth stage failed: permission denied");
    let conditions = finished_conditions(
        &outcome_of(&failed("j", 3), BackupKind::Manual, t(30)).unwrap(),
        &status,
    );
    assert_eq!(conditions[1].reason, ClusterConditionReason::BackupFailed);
    assert!(conditions[1].message.contains("3 failure(s) in a row"));
}

#[test]
fn a_job_without_a_report_falls_back_to_the_job_reason() {
    let job = JobObservation {
        job_name: "j".into(),
        state: JobState::Failed {
            finished_at: t(1),
            job_reason: Some("DeadlineExceeded".into()),
            termination_message: None,
        },
    };
    let BackupOutcome::Failed { reason, .. } =
        outcome_of(&job, BackupKind::Scheduled, t(2)).unwrap()
    else {
        panic!("expected a failure");
    };
    assert_eq!(reason, "DeadlineExceeded");
}

#[test]
fn success_without_a_usable_report_and_a_vanished_job_are_failures() {
    let job = JobObservation {
        job_name: "j".into(),
        state: JobState::Succeeded {
            finished_at: t(1),
            termination_message: Some("{}".into()),
        },
    };
    let outcome = outcome_of(&job, BackupKind::Scheduled, t(2)).unwrap();
    assert!(
        matches!(&outcome, BackupOutcome::Failed { reason, .. } if reason == FailureReason::ReportUnreadable.as_str())
    );
    let missing = JobObservation {
        job_name: "j".into(),
        state: JobState::Missing,
    };
    let outcome = outcome_of(&missing, BackupKind::Scheduled, t(2)).unwrap();
    assert!(
        matches!(&outcome, BackupOutcome::Failed { reason, finished_at, .. } if reason == FailureReason::JobMissing.as_str() && *finished_at == t(2))
    );
    let active = JobObservation {
        job_name: "j".into(),
        state: JobState::Active,
    };
    assert_eq!(outcome_of(&active, BackupKind::Scheduled, t(2)), None);
}

#[test]
fn recovery_points_keep_the_ten_newest_newest_first() {
    let mut status = BackupStatus::default();
    // Out of order on purpose: a late report for an older snapshot must not push out a newer one.
    let minutes = [5u32, 1, 12, 3, 9, 0, 14, 7, 2, 11, 4, 13, 6, 8, 10];
    for minute in minutes {
        let job = succeeded(&format!("j{minute}"), &format!("k{minute:02}"), minute);
        let outcome = outcome_of(&job, BackupKind::Scheduled, t(40)).unwrap();
        status = apply_outcome(&status, &outcome).0;
    }
    let keys: Vec<_> = status
        .recovery_points
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "k14", "k13", "k12", "k11", "k10", "k09", "k08", "k07", "k06", "k05"
        ]
    );
}

#[test]
fn equal_times_order_by_key_like_a_latest_restore_whatever_the_recording_order() {
    // A `source.latest` restore picks the manifest with the greatest (created, key); the status must agree.
    for order in [["ff", "00"], ["00", "ff"]] {
        let mut status = BackupStatus::default();
        for suffix in order {
            let key = format!("20260302T030500Z-manual-{suffix}");
            let outcome =
                outcome_of(&succeeded(suffix, &key, 5), BackupKind::Manual, t(40)).unwrap();
            status = apply_outcome(&status, &outcome).0;
        }
        let keys: Vec<_> = status
            .recovery_points
            .iter()
            .map(|p| p.key.as_str())
            .collect();
        assert_eq!(
            keys,
            ["20260302T030500Z-manual-ff", "20260302T030500Z-manual-00"],
            "recorded {order:?}"
        );
        assert_eq!(status.last_backup_key.as_deref(), Some(keys[0]));
    }
}

#[test]
fn sub_second_times_order_the_points() {
    let mut status = BackupStatus::default();
    for (key, millis) in [("b-earlier", 100), ("a-later", 900)] {
        let message = format!(
            r#"{{"outcome":"succeeded","key":"{key}","size":1,"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","created":"{}"}}"#,
            (t(5) + Duration::milliseconds(millis))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
        let job = JobObservation {
            job_name: key.into(),
            state: JobState::Succeeded {
                finished_at: t(6),
                termination_message: Some(message),
            },
        };
        let outcome = outcome_of(&job, BackupKind::Manual, t(40)).unwrap();
        status = apply_outcome(&status, &outcome).0;
    }
    assert_eq!(status.recovery_points[0].key, "a-later");
    assert_eq!(status.last_backup_key.as_deref(), Some("a-later"));
}

#[test]
fn durations_read_like_kubectl() {
    assert_eq!(format_duration(Duration::seconds(42)), "42s");
    assert_eq!(format_duration(Duration::seconds(185)), "3m5s");
    assert_eq!(format_duration(Duration::seconds(3607)), "1h0m7s");
    assert_eq!(format_duration(Duration::seconds(-3)), "0s");
}

#[test]
fn a_report_with_an_impossible_duration_is_unreadable_not_a_panic() {
    let key = "p/ns/c/20260101T030000Z-scheduled-00aa11bb.snap";
    let digest = format!("sha256:{}", "ab".repeat(32));
    for duration in ["-1e16", "1e300", "-0.5"] {
        let job = JobObservation {
            job_name: "j".into(),
            state: JobState::Succeeded {
                finished_at: t(1),
                termination_message: Some(format!(
                    r#"{{"outcome":"succeeded","key":"{key}","size":1,"digest":"{digest}","durationSeconds":{duration}}}"#
                )),
            },
        };
        let outcome = outcome_of(&job, BackupKind::Scheduled, t(2)).unwrap();
        assert!(
            matches!(&outcome, BackupOutcome::Failed { reason, message, .. }
                if reason == FailureReason::ReportUnreadable.as_str() && message.contains("durationSeconds")),
            "{duration}: {outcome:?}"
        );
    }
}

use chrono::TimeZone;
use openbao_crds::schedule::{CronExpression, parse_time_zone};

use super::*;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, s).unwrap()
}

/// Daily at 03:00 UTC, no jitter, 10 minutes starting deadline.
fn daily(suspend: bool) -> ScheduleSettings {
    ScheduleSettings {
        schedule: BackupSchedule::new(
            CronExpression::parse("0 3 * * *").unwrap(),
            parse_time_zone("UTC").unwrap(),
        ),
        jitter: Duration::zero(),
        starting_deadline: Duration::minutes(10),
        suspend,
    }
}

fn observation<'a>(
    settings: Option<&'a ScheduleSettings>,
    now: DateTime<Utc>,
) -> BackupObservation<'a> {
    BackupObservation {
        cluster_name: "prod",
        now,
        backup_configured: true,
        schedule: settings,
        effective_since: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        last_handled_window: Some(at(3, 0, 0) - Duration::days(1)),
        running: false,
        pending_pre_upgrade: None,
        next_trigger: None,
        trigger_waits_for_lock: false,
    }
}

#[test]
fn a_window_within_its_starting_deadline_starts_a_scheduled_backup() {
    let settings = daily(false);
    let decision = decide(&observation(Some(&settings), at(3, 4, 0)));
    assert_eq!(
        decision,
        BackupDecision::StartBackup {
            kind: BackupKind::Scheduled,
            origin: BackupOrigin::Window {
                scheduled: at(3, 0, 0)
            },
            job_name: "prod-backup-202603020300".into(),
        }
    );
}

#[test]
fn a_window_late_beyond_its_deadline_is_skipped_with_a_reason() {
    let settings = daily(false);
    let decision = decide(&observation(Some(&settings), at(3, 30, 0)));
    match decision {
        BackupDecision::SkipWindow { scheduled, reason } => {
            assert_eq!(scheduled, at(3, 0, 0));
            assert_eq!(reason.reason(), "MissedStartingDeadline");
            assert_eq!(
                reason,
                SkipReason::MissedStartingDeadline {
                    late_by: Duration::minutes(30)
                }
            );
            assert!(
                reason
                    .describe(scheduled)
                    .contains("startingDeadlineSeconds")
            );
        }
        other => panic!("expected SkipWindow, got {other:?}"),
    }
}

#[test]
fn a_handled_window_waits_for_the_next_fire_time() {
    let settings = daily(false);
    let mut obs = observation(Some(&settings), at(3, 4, 0));
    obs.last_handled_window = Some(at(3, 0, 0));
    assert_eq!(
        decide(&obs),
        BackupDecision::Wait {
            until: Some(at(3, 0, 0) + Duration::days(1))
        }
    );
    assert_eq!(
        next_scheduled_backup(&obs),
        Some(at(3, 0, 0) + Duration::days(1))
    );
}

#[test]
fn suspended_schedule_or_no_backup_spec_waits_without_a_timer_but_triggers_still_run() {
    let suspended = daily(true);
    for schedule in [Some(&suspended), None] {
        let mut obs = observation(schedule, at(3, 4, 0));
        assert_eq!(decide(&obs), BackupDecision::Wait { until: None });
        assert_eq!(next_scheduled_backup(&obs), None);
        obs.next_trigger = Some("t1");
        assert!(matches!(
            decide(&obs),
            BackupDecision::StartBackup {
                kind: BackupKind::Manual,
                ..
            }
        ));
    }
}

#[test]
fn while_a_backup_runs_everything_queues() {
    let settings = daily(false);
    let mut obs = observation(Some(&settings), at(3, 4, 0));
    obs.running = true;
    obs.next_trigger = Some("t1");
    obs.pending_pre_upgrade = Some("2.7.2");
    assert_eq!(decide(&obs), BackupDecision::Busy);
}

#[test]
fn precedence_is_pre_upgrade_then_window_then_trigger() {
    let settings = daily(false);
    let mut obs = observation(Some(&settings), at(3, 4, 0));
    obs.next_trigger = Some("t1");
    obs.pending_pre_upgrade = Some("2.7.2");
    let BackupDecision::StartBackup { kind, .. } = decide(&obs) else {
        panic!("expected a start");
    };
    assert_eq!(kind, BackupKind::PreUpgrade);
    obs.pending_pre_upgrade = None;
    let BackupDecision::StartBackup { kind, .. } = decide(&obs) else {
        panic!("expected a start");
    };
    assert_eq!(kind, BackupKind::Scheduled);
    obs.last_handled_window = Some(at(3, 0, 0));
    let BackupDecision::StartBackup {
        kind,
        origin,
        job_name,
    } = decide(&obs)
    else {
        panic!("expected a start");
    };
    assert_eq!(kind, BackupKind::Manual);
    assert_eq!(origin, BackupOrigin::Trigger { token: "t1".into() });
    assert_eq!(job_name, naming::trigger_job_name("prod", "t1"));
}

#[test]
fn a_trigger_denied_the_lock_waits_for_a_release_instead_of_spinning() {
    let settings = daily(false);
    let mut obs = observation(Some(&settings), at(3, 4, 0));
    obs.last_handled_window = Some(at(3, 0, 0));
    obs.next_trigger = Some("t1");
    obs.trigger_waits_for_lock = true;
    assert_eq!(
        decide(&obs),
        BackupDecision::Wait {
            until: Some(at(3, 0, 0) + Duration::days(1))
        }
    );
}

#[test]
fn a_denied_lock_skips_a_window_but_keeps_a_trigger() {
    let window = BackupOrigin::Window {
        scheduled: at(3, 0, 0),
    };
    match on_lock_denied(&window, Operation::Restore, "restore/r1") {
        DeniedAction::SkipWindow { scheduled, reason } => {
            assert_eq!(scheduled, at(3, 0, 0));
            assert_eq!(reason.reason(), "OperationLockHeld");
            assert!(reason.describe(scheduled).contains("restore/r1"));
        }
        other => panic!("expected SkipWindow, got {other:?}"),
    }
    let trigger = BackupOrigin::Trigger { token: "t".into() };
    assert_eq!(
        on_lock_denied(&trigger, Operation::Upgrade, "upgrade/2.7.2"),
        DeniedAction::KeepTriggerQueued
    );
}

#[test]
fn windows_before_the_cluster_existed_never_count() {
    let settings = daily(false);
    let mut obs = observation(Some(&settings), at(3, 30, 0));
    obs.last_handled_window = None;
    obs.effective_since = at(3, 20, 0);
    assert_eq!(
        decide(&obs),
        BackupDecision::Wait {
            until: Some(at(3, 0, 0) + Duration::days(1))
        }
    );
}

#[test]
fn jitter_delays_the_fire_time_and_the_window_keeps_its_name() {
    let mut settings = daily(false);
    settings.jitter = Duration::seconds(90);
    let mut obs = observation(Some(&settings), at(3, 1, 0));
    assert_eq!(
        decide(&obs),
        BackupDecision::Wait {
            until: Some(at(3, 1, 30))
        }
    );
    obs.now = at(3, 1, 30);
    let BackupDecision::StartBackup { job_name, .. } = decide(&obs) else {
        panic!("expected a start");
    };
    assert_eq!(job_name, "prod-backup-202603020300");
}

#[test]
fn without_spec_backup_nothing_starts_and_triggers_stay_queued() {
    let mut obs = observation(None, at(3, 4, 0));
    obs.backup_configured = false;
    obs.next_trigger = Some("t1");
    assert_eq!(decide(&obs), BackupDecision::Wait { until: None });
}

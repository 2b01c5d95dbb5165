//! Real ractor actors (manager, supervisor, backup actor) against in-memory fakes of the effects traits.

mod support;

use std::sync::Arc;

use chrono::Duration;
use openbao_actors::backup::naming::{pre_upgrade_job_name, trigger_job_name, window_job_name};
use openbao_actors::child::PreUpgradeResult;
use openbao_actors::effects::{EventReason, JobState};
use openbao_actors::lock::AcquireRequest;
use openbao_actors::lock_client::LockReply;
use openbao_actors::manager::ManagerMsg;
use openbao_actors::metrics::ActorKind;
use openbao_actors::supervisor::SupervisorMsg;
use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};
use openbao_crds::{BackupKind, Operation};
use ractor::ActorStatus;
use support::*;

fn todays_window() -> String {
    window_job_name(NAME, at(3, 0))
}

async fn acquire(
    supervisor: &ractor::ActorRef<SupervisorMsg>,
    operation: Operation,
    holder: &str,
) -> LockReply {
    let request = AcquireRequest {
        operation,
        holder: holder.to_string(),
        message: String::new(),
        override_existing: false,
    };
    ractor::call_t!(
        supervisor,
        |reply| SupervisorMsg::AcquireLock { request, reply },
        10_000
    )
    .expect("supervisor answers")
}

#[tokio::test]
async fn scheduled_backup_takes_the_lock_runs_a_job_records_status_and_releases() {
    let fake = FakeCluster::new(at(3, 4));
    let supervisor = fake.start_supervisor(cluster(false, None, None)).await;
    let job = todays_window();

    fake.wait_until("the window's Job", |w| w.created_names() == [job.clone()])
        .await;
    {
        let world = fake.world();
        assert_eq!(
            world.holder(),
            Some((format!("backup/{job}"), 1)),
            "lock persisted before the Job"
        );
        let request = &world.created[0];
        assert_eq!(request.kind, BackupKind::Scheduled);
        assert_eq!(request.epoch, 1);
        assert_eq!(request.scheduled_time, Some(at(3, 0)));
    }
    fake.wait_until("BackingUp=True", |w| {
        w.conditions.iter().any(|c| {
            c.type_ == ClusterConditionType::BackingUp && c.status == ConditionStatus::True
        })
    })
    .await;

    fake.clock.set(at(3, 5));
    let finished = succeeded(
        &job,
        "p/vault/prod/20260302T030420Z-scheduled-0a1b2c3d.snap",
        at(3, 5),
    );
    supervisor.cast(backup_job_observed(finished)).unwrap();

    let status = fake
        .wait_for("status.backup after the Job", |w| {
            w.backup_status
                .clone()
                .filter(|s| s.last_backup_key.is_some() && w.lock.is_none())
        })
        .await;
    assert_eq!(status.last_success_time, Some(at(3, 5)));
    assert_eq!(status.last_backup_size, Some(4096));
    assert_eq!(status.last_backup_duration.as_deref(), Some("40s"));
    assert_eq!(status.last_attempt_scheduled_time, Some(at(3, 0)));
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.recovery_points.len(), 1);
    assert_eq!(
        status.next_scheduled_backup,
        Some(at(3, 0) + Duration::days(1))
    );
    {
        let world = fake.world();
        assert_eq!(world.events_with(EventReason::BackupStarted).len(), 1);
        assert_eq!(world.events_with(EventReason::BackupCompleted).len(), 1);
        let last_health = world
            .conditions
            .iter()
            .rev()
            .find(|c| c.type_ == ClusterConditionType::BackupHealthy)
            .unwrap();
        assert_eq!(last_health.reason, ClusterConditionReason::BackupSucceeded);
    }
    supervisor.stop(None);
}

#[tokio::test]
async fn a_manual_trigger_during_a_backup_is_queued_and_runs_next_and_a_replayed_job_counts_once() {
    let fake = FakeCluster::new(at(3, 4));
    let supervisor = fake.start_supervisor(cluster(false, None, None)).await;
    let window_job = todays_window();
    fake.wait_until("the window's Job", |w| w.created.len() == 1)
        .await;

    // The annotation arrives (and every later watch event repeats it) while the scheduled Job runs.
    for _ in 0..3 {
        supervisor
            .cast(SupervisorMsg::ClusterObserved(Arc::new(cluster(
                false,
                Some("t1"),
                None,
            ))))
            .unwrap();
    }
    let failed = openbao_actors::effects::JobObservation {
        job_name: window_job.clone(),
        state: JobState::Failed {
            finished_at: at(3, 6),
            job_reason: Some("BackoffLimitExceeded".into()),
            termination_message: Some(r#"{"outcome":"failed","stage":"storage","reason":"StorageError","message":"bucket not found"}"#.into()),
        },
    };
    supervisor
        .cast(backup_job_observed(failed.clone()))
        .unwrap();
    // The same failure observed again (watch re-list) must not count twice.
    supervisor.cast(backup_job_observed(failed)).unwrap();

    let manual_job = trigger_job_name(NAME, "t1");
    fake.wait_until("the queued manual Job", |w| w.created.len() == 2)
        .await;
    {
        let world = fake.world();
        assert_eq!(
            world.created_names(),
            [window_job.clone(), manual_job.clone()]
        );
        assert_eq!(world.created[1].kind, BackupKind::Manual);
        assert_eq!(world.created[1].trigger.as_deref(), Some("t1"));
        assert_eq!(world.holder(), Some((format!("backup/{manual_job}"), 2)));
        let status = world.backup_status.clone().unwrap();
        assert_eq!(status.last_handled_trigger.as_deref(), Some("t1"));
        assert_eq!(status.consecutive_failures, 1);
        assert_eq!(status.last_failure.as_ref().unwrap().reason, "StorageError");
        assert_eq!(world.events_with(EventReason::BackupFailed).len(), 1);
    }

    // The handled token seen again after its backup finished starts nothing new.
    supervisor
        .cast(backup_job_observed(succeeded(
            &manual_job,
            "k-manual",
            at(3, 8),
        )))
        .unwrap();
    supervisor
        .cast(SupervisorMsg::ClusterObserved(Arc::new(cluster(
            false,
            Some("t1"),
            None,
        ))))
        .unwrap();
    supervisor
        .cast(SupervisorMsg::ClusterObserved(Arc::new(cluster(
            false,
            Some("t2"),
            None,
        ))))
        .unwrap();
    fake.wait_until("the second token's Job", |w| w.created.len() == 3)
        .await;
    {
        let world = fake.world();
        assert_eq!(world.created_names()[2], trigger_job_name(NAME, "t2"));
        assert_eq!(
            world.backup_status.as_ref().unwrap().consecutive_failures,
            0
        );
    }
    supervisor.stop(None);
}

#[tokio::test]
async fn a_held_lock_skips_the_window_with_a_reason_and_the_trigger_runs_after_release() {
    let fake = FakeCluster::new(at(3, 4));
    fake.update(|w| {
        w.lock = Some(foreign_lock(Operation::Restore, "restore/r1", 7));
        w.active_restores.insert("r1".into());
    });
    let supervisor = fake
        .start_supervisor(cluster(false, Some("t1"), None))
        .await;

    fake.wait_until("window skipped and trigger blocked", |w| {
        w.events_with(EventReason::BackupSkipped).len() == 1
            && w.events_with(EventReason::OperationLockBlocked).len() == 2
    })
    .await;
    {
        let world = fake.world();
        assert!(
            world.created.is_empty(),
            "no Job while a restore holds the cluster"
        );
        let skipped = &world.events_with(EventReason::BackupSkipped)[0].message;
        assert!(skipped.starts_with("OperationLockHeld"), "{skipped}");
        assert!(skipped.contains("restore/r1"), "{skipped}");
        assert!(
            world
                .conditions
                .iter()
                .any(|c| c.reason == ClusterConditionReason::WaitingForLock)
        );
        assert_eq!(world.holder(), Some(("restore/r1".into(), 7)));
    }

    // The restore finishes and releases; the supervisor tells the backup actor, which runs the queued trigger.
    supervisor
        .cast(SupervisorMsg::ReleaseLock {
            holder: "restore/r1".into(),
            epoch: 7,
        })
        .unwrap();
    let manual_job = trigger_job_name(NAME, "t1");
    fake.wait_until("the manual Job after release", |w| w.created.len() == 1)
        .await;
    {
        let world = fake.world();
        assert_eq!(world.created_names(), std::slice::from_ref(&manual_job));
        assert_eq!(
            world.holder(),
            Some((format!("backup/{manual_job}"), 8)),
            "epochs never repeat"
        );
        assert!(
            !world.created_names().contains(&todays_window()),
            "a skipped window is not caught up"
        );
    }
    supervisor.stop(None);
}

#[tokio::test]
async fn lock_writes_retry_after_conflicts_and_never_grant_without_a_write() {
    let fake = FakeCluster::new(at(3, 4));
    let supervisor = fake.start_supervisor(cluster(true, None, None)).await;

    // Conflicts that never end: no grant and nothing written.
    fake.update(|w| w.conflicts_to_inject = 100);
    let reply = acquire(&supervisor, Operation::Backup, "backup/y").await;
    assert!(matches!(reply, LockReply::Unavailable { .. }), "{reply:?}");
    assert_eq!(fake.world().lock, None);

    fake.update(|w| w.conflicts_to_inject = 2);
    let calls_before = fake.world().persist_calls;
    let reply = acquire(&supervisor, Operation::Upgrade, "upgrade/2.8.0").await;
    assert_eq!(reply, LockReply::Granted { epoch: 1 });
    {
        let world = fake.world();
        assert_eq!(
            world.persist_calls - calls_before,
            3,
            "two conflicts, then the write"
        );
        assert_eq!(world.holder(), Some(("upgrade/2.8.0".into(), 1)));
    }

    // Another writer (e.g. a deposed replica's late write) changes the lock: the re-read decides, not memory.
    fake.update(|w| {
        w.lock = Some(foreign_lock(Operation::Restore, "restore/r9", 4));
        w.resource_version += 1;
    });
    let reply = acquire(&supervisor, Operation::Backup, "backup/x").await;
    assert!(
        matches!(&reply, LockReply::Denied { held_by, operation: Operation::Upgrade, .. } if held_by == "upgrade/2.8.0"),
        "memory still says upgrade: the supervisor holds it until a write conflicts: {reply:?}"
    );
    supervisor
        .cast(SupervisorMsg::ReleaseLock {
            holder: "upgrade/2.8.0".into(),
            epoch: 1,
        })
        .unwrap();
    let snapshot = inspect(&supervisor).await;
    assert_eq!(
        snapshot.holding.map(|h| h.holder),
        Some("restore/r9".into()),
        "the release conflicted, re-read the persisted lock, and refused to free someone else's lock"
    );
    assert_eq!(fake.world().holder(), Some(("restore/r9".into(), 4)));

    supervisor.stop(None);
}

#[tokio::test]
async fn a_restarted_supervisor_adopts_the_persisted_lock_and_releases_it_when_the_job_finished() {
    let fake = FakeCluster::new(at(3, 30));
    let job = todays_window();
    let key = "p/vault/prod/20260302T030020Z-scheduled-00aa11bb.snap";
    fake.update(|w| {
        w.lock = Some(foreign_lock(Operation::Backup, &format!("backup/{job}"), 3));
        w.jobs
            .insert(job.clone(), succeeded(&job, key, at(3, 10)).state);
    });
    let handled = serde_json::json!({ "lastAttemptScheduledTime": "2026-03-02T03:00:00Z" });
    let supervisor = fake
        .start_supervisor(cluster(false, None, Some(handled)))
        .await;

    fake.wait_until("orphaned lock released and outcome recorded", |w| {
        w.lock.is_none()
            && w.backup_status
                .as_ref()
                .and_then(|s| s.last_backup_key.as_deref())
                == Some(key)
    })
    .await;
    assert!(
        fake.world().created.is_empty(),
        "the finished window is not run again"
    );
    assert_eq!(
        acquire(&supervisor, Operation::Upgrade, "upgrade/2.8.0").await,
        LockReply::Granted { epoch: 4 },
        "the adopted epoch is never handed out again"
    );
    supervisor.stop(None);
    assert_eq!(fake.world().last_epoch, 4, "the highest grant is persisted");

    // After a release, a new supervisor (operator restart) continues from the persisted epoch, not from 1.
    let restarted = fake.start_supervisor(cluster(true, None, None)).await;
    restarted
        .cast(SupervisorMsg::ReleaseLock {
            holder: "upgrade/2.8.0".into(),
            epoch: 4,
        })
        .unwrap();
    fake.wait_until("upgrade lock released", |w| w.lock.is_none())
        .await;
    restarted.stop(None);
    let restarted = fake.start_supervisor(cluster(true, None, None)).await;
    assert_eq!(
        acquire(&restarted, Operation::Backup, "backup/next").await,
        LockReply::Granted { epoch: 5 },
        "epochs keep increasing across restarts while the lock is free"
    );
    restarted.stop(None);

    // A holder that vanished entirely (a restore deleted while the operator was down) is released too.
    let fake = FakeCluster::new(at(3, 30));
    fake.update(|w| w.lock = Some(foreign_lock(Operation::Restore, "restore/gone", 5)));
    let supervisor = fake.start_supervisor(cluster(true, None, None)).await;
    fake.wait_until("vanished holder released", |w| {
        w.lock.is_none() && !w.events_with(EventReason::OperationLockReleased).is_empty()
    })
    .await;
    supervisor.stop(None);

    // A backup Job still running is resumed: its end releases the lock.
    let fake = FakeCluster::new(at(3, 30));
    fake.update(|w| {
        w.lock = Some(foreign_lock(Operation::Backup, &format!("backup/{job}"), 2));
        w.jobs.insert(job.clone(), JobState::Active);
    });
    let handled = serde_json::json!({ "lastAttemptScheduledTime": "2026-03-02T03:00:00Z" });
    let supervisor = fake
        .start_supervisor(cluster(false, None, Some(handled)))
        .await;
    let snapshot = inspect(&supervisor).await;
    assert_eq!(
        snapshot.holding.map(|h| h.epoch),
        Some(2),
        "an active holder keeps the lock"
    );
    supervisor
        .cast(backup_job_observed(succeeded(&job, key, at(3, 31))))
        .unwrap();
    fake.wait_until("resumed Job's end releases the lock", |w| w.lock.is_none())
        .await;
    assert!(fake.world().created.is_empty());
    supervisor.stop(None);
}

#[tokio::test]
async fn a_panicking_backup_actor_is_restarted_and_the_supervisor_keeps_running() {
    let fake = FakeCluster::new(at(3, 4));
    fake.update(|w| w.panics_on_create = 1);
    let supervisor = fake.start_supervisor(cluster(false, None, None)).await;

    fake.wait_until("the window's Job after the restart", |w| {
        w.created.len() == 1
    })
    .await;
    let view = inspect(&supervisor).await;
    assert_eq!(supervisor.get_status(), ActorStatus::Running);
    assert_eq!(backup_child(&view), (true, 1));
    {
        let world = fake.world();
        assert_eq!(world.restarts, [ActorKind::BACKUP]);
        // The lock granted to the attempt that panicked was reconciled (its Job never existed) and granted anew.
        assert_eq!(
            world.holder(),
            Some((format!("backup/{}", todays_window()), 2))
        );
        assert_eq!(
            world.events_with(EventReason::OperationLockReleased).len(),
            1
        );
    }
    supervisor.stop(None);
}

#[tokio::test]
async fn the_manager_routes_by_cluster_and_stops_a_deleted_clusters_supervisor() {
    let fake = FakeCluster::new(at(3, 4));
    let manager = start_manager(&fake).await;
    manager
        .cast(ManagerMsg::ClusterObserved(Arc::new(cluster(
            false, None, None,
        ))))
        .unwrap();
    fake.wait_until("the window's Job", |w| w.created.len() == 1)
        .await;

    let supervisor = ractor::call_t!(
        manager,
        |reply| ManagerMsg::SupervisorOf {
            cluster: key(),
            reply
        },
        10_000
    )
    .unwrap()
    .expect("a supervisor for the cluster");
    manager
        .cast(ManagerMsg::JobObserved {
            cluster: key(),
            operation: Operation::Backup,
            job: succeeded(&todays_window(), "k1", at(3, 5)),
        })
        .unwrap();
    fake.wait_until("lock released via routed Job event", |w| {
        w.lock.is_none()
            && w.backup_status
                .as_ref()
                .is_some_and(|s| s.last_backup_key.is_some())
    })
    .await;

    // The deletion arrives while the supervisor is inside a handler (a slow lock write for a manual backup):
    // that handler's metric update must not bring the removed series back.
    fake.update(|w| w.persist_delay = std::time::Duration::from_millis(300));
    let writes_before = fake.world().persist_calls;
    manager
        .cast(ManagerMsg::ClusterObserved(Arc::new(cluster(
            false,
            Some("during-delete"),
            None,
        ))))
        .unwrap();
    fake.wait_until("the lock write under way", |w| {
        w.persist_calls > writes_before
    })
    .await;
    manager.cast(ManagerMsg::ClusterDeleted(key())).unwrap();
    supervisor
        .get_cell()
        .wait(Some(std::time::Duration::from_secs(30)))
        .await
        .expect("the deleted cluster's supervisor stops");
    fake.wait_until("series removed", |w| w.removed_series == [key()])
        .await;
    assert_eq!(fake.world().series_touched_after_removal, 0);
    let gone = ractor::call_t!(
        manager,
        |reply| ManagerMsg::SupervisorOf {
            cluster: key(),
            reply
        },
        10_000
    )
    .unwrap();
    assert!(gone.is_none());
    assert!(
        fake.world().restarts.is_empty(),
        "a deletion is not a failure"
    );
    manager.stop(None);
}

#[tokio::test]
async fn a_pre_upgrade_snapshot_runs_under_the_upgrades_lock_and_replies_when_done() {
    let fake = FakeCluster::new(at(3, 4));
    let supervisor = fake.start_supervisor(cluster(true, None, None)).await;
    let LockReply::Granted { epoch } =
        acquire(&supervisor, Operation::Upgrade, "upgrade/2.8.0").await
    else {
        panic!("upgrade lock not granted");
    };

    let stale = ractor::call_t!(
        supervisor,
        |reply| SupervisorMsg::PreUpgradeSnapshot {
            upgrade_id: "2.8.0".into(),
            epoch: epoch + 1,
            reply
        },
        10_000
    )
    .unwrap();
    assert!(
        matches!(stale, PreUpgradeResult::Refused { .. }),
        "{stale:?}"
    );

    let asker = supervisor.clone();
    let answer = tokio::spawn(async move {
        ractor::call_t!(
            asker,
            |reply| SupervisorMsg::PreUpgradeSnapshot {
                upgrade_id: "2.8.0".into(),
                epoch,
                reply
            },
            60_000
        )
    });
    let job = pre_upgrade_job_name(NAME, "2.8.0");
    fake.wait_until("the pre-upgrade Job", |w| {
        w.created_names() == [job.clone()]
    })
    .await;
    {
        let world = fake.world();
        assert_eq!(world.created[0].kind, BackupKind::PreUpgrade);
        assert_eq!(
            world.created[0].epoch, epoch,
            "runs under the upgrade's grant"
        );
        assert_eq!(world.holder(), Some(("upgrade/2.8.0".into(), 1)));
    }
    supervisor
        .cast(backup_job_observed(succeeded(&job, "k-pre", at(3, 6))))
        .unwrap();
    let result = answer.await.unwrap().unwrap();
    assert_eq!(
        result,
        PreUpgradeResult::Succeeded {
            job_name: job,
            key: "k-pre".into()
        }
    );
    assert_eq!(
        fake.world().holder(),
        Some(("upgrade/2.8.0".into(), 1)),
        "the backup does not release the upgrade's lock"
    );
    supervisor.stop(None);
}

#[tokio::test]
async fn an_invalid_spec_schedules_nothing_names_the_field_and_recovers_once_fixed() {
    let fake = FakeCluster::new(at(3, 4));
    let mut broken = cluster(false, Some("while-broken"), None);
    broken.spec.backup.as_mut().unwrap().schedule = "0 0 3 * * *".into();
    let supervisor = fake.start_supervisor(broken.clone()).await;

    let refused = fake
        .wait_for("BackupConfigurationReady=False", |w| {
            w.conditions
                .iter()
                .find(|c| c.type_ == ClusterConditionType::BackupConfigurationReady)
                .cloned()
        })
        .await;
    assert_eq!(refused.status, ConditionStatus::False);
    assert_eq!(refused.reason.as_str(), "InvalidSchedule");
    assert!(
        refused.message.contains("spec.backup.schedule:"),
        "{}",
        refused.message
    );
    // Repeated watch events of the same broken spec change nothing and warn once.
    for _ in 0..3 {
        supervisor
            .cast(SupervisorMsg::ClusterObserved(Arc::new(broken.clone())))
            .unwrap();
    }
    let snapshot = inspect(&supervisor).await;
    assert!(snapshot.holding.is_none(), "no lock for a refused spec");
    {
        let world = fake.world();
        assert!(
            world.created.is_empty(),
            "neither the due window nor the manual trigger may start: {:?}",
            world.created_names()
        );
        assert_eq!(
            world
                .events_with(EventReason::BackupConfigurationInvalid)
                .len(),
            1
        );
        assert_eq!(world.persist_calls, 0, "no lock writes");
        assert!(
            world
                .backup_status
                .as_ref()
                .is_none_or(|s| s.next_scheduled_backup.is_none()),
            "no next backup is announced for a schedule that does not parse"
        );
    }

    // Fixed: the queued trigger runs (the 03:00 window is still within its starting deadline and comes first).
    supervisor
        .cast(SupervisorMsg::ClusterObserved(Arc::new(cluster(
            false,
            Some("while-broken"),
            None,
        ))))
        .unwrap();
    fake.wait_until("the first Job after the fix", |w| !w.created.is_empty())
        .await;
    let world = fake.world();
    let ready = world
        .conditions
        .iter()
        .rev()
        .find(|c| c.type_ == ClusterConditionType::BackupConfigurationReady)
        .unwrap();
    assert_eq!(ready.status, ConditionStatus::True);
    assert_eq!(ready.reason, ClusterConditionReason::ConfigurationValid);
    drop(world);
    supervisor.stop(None);
}

#[tokio::test]
async fn queued_triggers_survive_a_restart_even_when_the_annotation_moved_on() {
    let fake = FakeCluster::new(at(3, 4));
    let supervisor = fake.start_supervisor(cluster(false, None, None)).await;
    let window_job = todays_window();
    fake.wait_until("the window's Job", |w| w.created.len() == 1)
        .await;
    // Two tokens arrive while the scheduled Job runs; the annotation only shows the last one.
    for token in ["t1", "t2"] {
        supervisor
            .cast(SupervisorMsg::ClusterObserved(Arc::new(cluster(
                false,
                Some(token),
                None,
            ))))
            .unwrap();
    }
    fake.wait_until("both tokens persisted as pending", |w| {
        w.backup_status
            .as_ref()
            .is_some_and(|s| s.pending_triggers == ["t1", "t2"])
    })
    .await;

    // The operator dies; a new one starts from what status shows (annotation: t2 only).
    supervisor.stop(None);
    let persisted = serde_json::to_value(fake.world().backup_status.clone().unwrap()).unwrap();
    let supervisor = fake
        .start_supervisor(cluster(false, Some("t2"), Some(persisted)))
        .await;
    fake.update(|w| {
        w.jobs.insert(
            window_job.clone(),
            succeeded(&window_job, "k-window", at(3, 6)).state,
        );
    });
    supervisor
        .cast(backup_job_observed(succeeded(
            &window_job,
            "k-window",
            at(3, 6),
        )))
        .unwrap();
    let first = trigger_job_name(NAME, "t1");
    fake.wait_until("t1's Job, although no annotation shows t1 any more", |w| {
        w.created_names().contains(&first)
    })
    .await;
    assert_eq!(
        fake.world()
            .backup_status
            .as_ref()
            .unwrap()
            .pending_triggers,
        ["t2"]
    );
    supervisor
        .cast(backup_job_observed(succeeded(&first, "k-t1", at(3, 7))))
        .unwrap();
    let second = trigger_job_name(NAME, "t2");
    fake.wait_until("then t2's Job", |w| w.created_names().contains(&second))
        .await;
    let world = fake.world();
    assert_eq!(
        world.created_names(),
        [window_job, first, second],
        "each token exactly once, in order"
    );
    let status = world.backup_status.as_ref().unwrap();
    assert!(status.pending_triggers.is_empty());
    assert_eq!(status.last_handled_trigger.as_deref(), Some("t2"));
    drop(world);
    supervisor.stop(None);
}

#[tokio::test]
async fn the_manager_restarts_a_supervisor_that_failed_to_start_or_crashed_with_backoff() {
    let fake = FakeCluster::new(at(3, 4));
    fake.update(|w| w.read_lock_failures = 2);
    let manager = start_manager(&fake).await;
    manager
        .cast(ManagerMsg::ClusterObserved(Arc::new(cluster(
            false, None, None,
        ))))
        .unwrap();
    // Two failed starts (the second retried after the backoff's base delay), then the supervisor runs.
    fake.wait_until("the window's Job from the third start", |w| {
        w.created.len() == 1
    })
    .await;
    assert_eq!(
        fake.world().restarts,
        [ActorKind::Supervisor, ActorKind::Supervisor]
    );
    let finished = succeeded(&todays_window(), "k1", at(3, 5));
    fake.update(|w| {
        w.jobs.insert(todays_window(), finished.state.clone());
    });
    manager
        .cast(ManagerMsg::JobObserved {
            cluster: key(),
            operation: Operation::Backup,
            job: finished,
        })
        .unwrap();
    fake.wait_until("lock released", |w| {
        w.lock.is_none()
            && w.backup_status
                .as_ref()
                .is_some_and(|s| s.last_backup_key.is_some())
    })
    .await;

    // A running supervisor panics while writing the lock for a manual backup: the manager restarts it, and the
    // restarted one takes the trigger (queued in the manager's latest copy of the cluster) to its Job.
    fake.update(|w| w.panics_on_persist = 1);
    // As the watch delivers it: the annotation plus the status written so far.
    let persisted = serde_json::to_value(fake.world().backup_status.clone().unwrap()).unwrap();
    manager
        .cast(ManagerMsg::ClusterObserved(Arc::new(cluster(
            false,
            Some("after-crash"),
            Some(persisted),
        ))))
        .unwrap();
    let manual = trigger_job_name(NAME, "after-crash");
    fake.wait_until("the manual Job after the supervisor's restart", |w| {
        w.created_names().contains(&manual)
    })
    .await;
    let world = fake.world();
    assert_eq!(
        world.restarts,
        [
            ActorKind::Supervisor,
            ActorKind::Supervisor,
            ActorKind::Supervisor
        ]
    );
    assert_eq!(world.created.len(), 2, "{:?}", world.created_names());
    drop(world);
    manager.stop(None);
}

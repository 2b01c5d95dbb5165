//! The operation lock through the supervisor: held locks, conflicting writes, and a persisted lock reconciled after a restart.

mod support;

use openbao_actors::backup::naming::trigger_job_name;
use openbao_actors::effects::{EventReason, JobState};
use openbao_actors::lock_client::LockReply;
use openbao_actors::supervisor::SupervisorMsg;
use openbao_crds::conditions::ClusterConditionReason;
use openbao_crds::{BackupKind, Operation};
use support::*;

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
    assert_eq!(
        reply,
        LockReply::Granted {
            epoch: 1,
            preempted: None
        }
    );
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
        LockReply::Granted {
            epoch: 4,
            preempted: None
        },
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
        LockReply::Granted {
            epoch: 5,
            preempted: None
        },
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
async fn a_resumed_job_is_recorded_as_the_kind_its_label_names_not_its_name() {
    // A Job that holds the lock under a name no kind can be read from (e.g. made by an older release).
    let fake = FakeCluster::new(at(3, 30));
    let job = "prod-backup-legacy".to_string();
    let key = "p/vault/prod/20260302T032000Z-manual-00aa11bb.snap";
    fake.update(|w| {
        w.lock = Some(foreign_lock(Operation::Backup, &format!("backup/{job}"), 2));
        w.jobs.insert(job.clone(), JobState::Active);
        w.job_kinds.insert(job.clone(), "manual".into());
    });
    let supervisor = fake.start_supervisor(cluster(true, None, None)).await;
    supervisor
        .cast(backup_job_observed(succeeded(&job, key, at(3, 31))))
        .unwrap();
    let kind = fake
        .wait_for("the resumed Job's recovery point", |w| {
            let points = &w.backup_status.as_ref()?.recovery_points;
            points.iter().find(|p| p.key == key).map(|p| p.kind)
        })
        .await;
    assert_eq!(kind, BackupKind::Manual);
    supervisor.stop(None);
}

//! Backup actor flows: real ractor actors (supervisor, backup actor) against in-memory fakes of the effects.

mod support;

use std::sync::Arc;

use chrono::Duration;
use openbao_actors::backup::naming::{pre_upgrade_job_name, trigger_job_name};
use openbao_actors::child::PreUpgradeResult;
use openbao_actors::effects::{EffectError, EventReason, JobState};
use openbao_actors::lock_client::LockReply;
use openbao_actors::supervisor::SupervisorMsg;
use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};
use openbao_crds::{BackupKind, Operation};
use support::*;

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
async fn a_pre_upgrade_snapshot_runs_under_the_upgrades_lock_and_replies_when_done() {
    let fake = FakeCluster::new(at(3, 4));
    let supervisor = fake.start_supervisor(cluster(true, None, None)).await;
    let LockReply::Granted { epoch, .. } =
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
async fn a_service_account_that_is_not_the_operators_fails_the_window_with_its_reason_and_frees_the_lock()
 {
    let fake = FakeCluster::new(at(3, 4));
    fake.update(|w| {
        w.create_error = Some(EffectError::NotOwned(
            "ServiceAccount vault/prod-backup exists but the operator did not create it".into(),
        ))
    });
    let supervisor = fake.start_supervisor(cluster(false, None, None)).await;
    let failure = fake
        .wait_for("the window recorded as failed", |w| {
            w.backup_status.as_ref()?.last_failure.clone()
        })
        .await;
    assert_eq!(failure.reason, "ServiceAccountNotOwned");
    assert!(failure.message.contains("vault/prod-backup"), "{failure:?}");
    fake.wait_until("the lock released", |w| w.lock.is_none())
        .await;
    assert!(fake.world().created.is_empty());
    supervisor.stop(None);
}

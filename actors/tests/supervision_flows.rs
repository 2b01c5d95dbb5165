//! Supervision: a crashing child is restarted, the manager routes by cluster and restarts a failed supervisor.

mod support;

use std::sync::Arc;

use openbao_actors::backup::naming::trigger_job_name;
use openbao_actors::effects::EventReason;
use openbao_actors::manager::ManagerMsg;
use openbao_actors::metrics::ActorKind;
use openbao_crds::Operation;
use ractor::ActorStatus;
use support::*;

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
        // The restarted child's new mailbox gauge is the one read from now on.
        assert_eq!(
            world.started,
            [
                ActorKind::BACKUP,
                ActorKind::Child(Operation::Restore),
                ActorKind::BACKUP
            ]
        );
        assert_eq!(world.mailboxes.len(), 2);
        assert_eq!(
            world.started_without_stop, 0,
            "the crashed child was stopped"
        );
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
    assert_eq!(
        fake.world().started,
        [
            ActorKind::Supervisor,
            ActorKind::BACKUP,
            ActorKind::Child(Operation::Restore)
        ]
    );
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
    assert!(
        fake.world().mailboxes.is_empty(),
        "no gauge of a deleted cluster is read"
    );
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
    // Handled after the restart's spawn, so every actor of the new supervisor is registered.
    ractor::call_t!(
        manager,
        |reply| ManagerMsg::SupervisorOf {
            cluster: key(),
            reply
        },
        10_000
    )
    .unwrap()
    .expect("the restarted supervisor");
    let world = fake.world();
    assert_eq!(
        world.restarts,
        [
            ActorKind::Supervisor,
            ActorKind::Supervisor,
            ActorKind::Supervisor
        ]
    );
    // Each start, failed ones included, registers the supervisor (its restart counter exists from the first);
    // the crashed one's children were dropped with it and registered anew.
    let starts = |kind| world.started.iter().filter(|&&k| k == kind).count();
    assert_eq!(starts(ActorKind::Supervisor), 4, "{:?}", world.started);
    assert_eq!(starts(ActorKind::BACKUP), 2, "{:?}", world.started);
    assert_eq!(world.mailboxes.len(), 3);
    assert_eq!(
        world.started_without_stop, 0,
        "every ended supervisor and its children were stopped"
    );
    assert_eq!(world.created.len(), 2, "{:?}", world.created_names());
    drop(world);
    manager.stop(None);
}

/// A supervisor stuck in one handler: the messages queued behind it show on the gauge the exporter reads, though
/// no handler ended to report them.
#[tokio::test]
async fn a_stuck_supervisors_backlog_shows_on_its_registered_gauge() {
    let fake = FakeCluster::new(at(3, 4));
    let manager = start_manager(&fake).await;
    manager
        .cast(ManagerMsg::ClusterObserved(Arc::new(cluster(
            false, None, None,
        ))))
        .unwrap();
    fake.wait_until("the window's Job", |w| w.created.len() == 1)
        .await;
    supervisor_of(&manager).await.expect("a supervisor");
    let gauge = fake.world().mailboxes[&ActorKind::Supervisor].clone();
    assert_eq!(gauge.depth(), 0, "idle");

    // The lock release after the Job's success never finishes writing.
    fake.update(|w| w.persist_delay = std::time::Duration::from_secs(3600));
    let writes_before = fake.world().persist_calls;
    manager
        .cast(ManagerMsg::JobObserved {
            cluster: key(),
            operation: Operation::Backup,
            job: succeeded(&todays_window(), "k1", at(3, 5)),
        })
        .unwrap();
    fake.wait_until("the release's lock write under way", |w| {
        w.persist_calls > writes_before
    })
    .await;
    for _ in 0..5 {
        manager.cast(ManagerMsg::RestoresChanged(key())).unwrap();
    }
    // Handled after the five casts: each was routed (and counted) by then.
    supervisor_of(&manager).await;
    assert!(
        gauge.depth() >= 6,
        "the release in its handler and five queued events, got {}",
        gauge.depth()
    );
    manager.stop(None);
}

async fn supervisor_of(
    manager: &ractor::ActorRef<ManagerMsg>,
) -> Option<ractor::ActorRef<openbao_actors::supervisor::SupervisorMsg>> {
    ractor::call_t!(
        manager,
        |reply| ManagerMsg::SupervisorOf {
            cluster: key(),
            reply
        },
        10_000
    )
    .expect("the manager answers")
}

//! Two restart-edge flows found by the operator's end-to-end tests: a lock cleared outside the supervisor frees a
//! queued manual backup, and a trigger whose Job already exists and ended is recorded instead of left running.

mod support;

use std::sync::Arc;

use openbao_actors::backup::naming::trigger_job_name;
use openbao_actors::effects::EventReason;
use openbao_actors::supervisor::SupervisorMsg;
use openbao_crds::Operation;
use support::*;

#[tokio::test]
async fn a_lock_cleared_in_status_by_its_owner_lets_the_queued_trigger_run() {
    // Suspended schedule: only the manual trigger is in play.
    let fake = FakeCluster::new(at(4, 0));
    fake.update(|w| {
        w.lock = Some(foreign_lock(Operation::Restore, "restore/r1", 7));
        w.active_restores.insert("r1".into());
    });
    let supervisor = fake.start_supervisor(cluster(true, Some("t1"), None)).await;
    fake.wait_until("the trigger blocked by the restore", |w| {
        w.events_with(EventReason::OperationLockBlocked).len() == 1
    })
    .await;
    assert!(fake.world().created.is_empty());

    // The restore's owner clears `status.operationLock` itself; the supervisor only sees the next watch event.
    fake.update(|w| {
        w.lock = None;
        w.resource_version += 1;
    });
    supervisor
        .cast(SupervisorMsg::ClusterObserved(Arc::new(cluster(
            true,
            Some("t1"),
            None,
        ))))
        .unwrap();

    let job = trigger_job_name(NAME, "t1");
    fake.wait_until("the queued trigger's Job", |w| {
        w.created_names() == vec![job.clone()]
    })
    .await;
    let world = fake.world();
    let (holder, epoch) = world.holder().expect("the backup holds the lock");
    assert_eq!(holder, format!("backup/{job}"));
    assert!(
        epoch > 7,
        "a newer fencing epoch than the restore's: {epoch}"
    );
    drop(world);
    supervisor.stop(None);
}

#[tokio::test]
async fn a_trigger_whose_job_already_ended_is_recorded_and_releases_the_lock() {
    let fake = FakeCluster::new(at(4, 0));
    let job = trigger_job_name(NAME, "t1");
    let key = "vault/prod/20260101T035930Z-manual-0a0b0c0d.snap";
    // Created and finished before an operator restart that lost the status write naming the trigger.
    fake.update(|w| {
        w.jobs
            .insert(job.clone(), succeeded(&job, key, at(3, 59)).state);
    });
    let supervisor = fake.start_supervisor(cluster(true, Some("t1"), None)).await;

    fake.wait_until("the existing Job recorded and the lock released", |w| {
        w.lock.is_none()
            && w.backup_status.as_ref().is_some_and(|status| {
                status.last_backup_key.as_deref() == Some(key)
                    && status.last_handled_trigger.as_deref() == Some("t1")
            })
    })
    .await;
    let world = fake.world();
    assert!(
        world.created.is_empty(),
        "the existing Job is not created again"
    );
    assert_eq!(world.events_with(EventReason::BackupCompleted).len(), 1);
    drop(world);
    supervisor.stop(None);
}

//! Two operator replicas against one simulator: only the Lease holder runs cluster actors (the follower takes
//! no lock and creates no Job); when the leader is SIGKILLed the follower takes the Lease and carries on, and
//! no trigger ever gets a second Job. Real executor, OpenBao and S3 underneath.

mod operator_support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use operator_support::world::{BackupSettings, World, WorldOptions, job_annotation};
use operator_support::{NAMESPACE, Operator, eventually, wait_ready};

use operator_support::wait::STARTUP_DEADLINE;
const BACKUP_DEADLINE: Duration = Duration::from_secs(90);
/// The test operators' Lease lasts 4 s; a takeover needs the Lease to expire plus a retry.
const TAKEOVER_DEADLINE: Duration = Duration::from_secs(60);
const LEASE: &str = "openbao-operator-leader";
const TRIGGER_ANNOTATION: &str = "openbao.org/trigger";

async fn lease_holder(world: &World) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), NAMESPACE);
    leases.get(LEASE).await.ok()?.spec?.holder_identity
}

/// `token` backed up, the lock free, and `points` recovery points listed in all.
async fn manual_backup_done(world: &World, operator: &Operator, token: &str, points: usize) {
    eventually(
        &format!("trigger {token} backed up with the lock released"),
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            let backup = status.backup?;
            (status.operation_lock.is_none()
                && backup.last_handled_trigger.as_deref() == Some(token)
                && backup.last_backup_key.is_some()
                && backup.recovery_points.len() == points)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_runs_actors_and_a_follower_takes_over_after_a_kill() {
    let world = World::start(WorldOptions::default()).await;
    let mut replicas = BTreeMap::new();
    for identity in ["replica-a", "replica-b"] {
        let operator = Operator::start_as(
            &world.kubeconfig,
            &world.path(&format!("{identity}.log")),
            identity,
        );
        replicas.insert(identity, operator);
    }
    for operator in replicas.values() {
        wait_ready(operator).await;
    }
    let first_log = replicas["replica-a"].log_path().to_path_buf();
    let leader = eventually(
        "one replica to hold the Lease",
        STARTUP_DEADLINE,
        &first_log,
        || async { lease_holder(&world).await },
    )
    .await;
    let follower = if leader == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };
    println!("leader {leader}, follower {follower}");

    // Suspended schedule: only the manual triggers below create Jobs.
    world
        .create_cluster(&BackupSettings {
            suspend: true,
            trigger: Some("first"),
            ..BackupSettings::default()
        })
        .await;
    manual_backup_done(&world, &replicas[leader.as_str()], "first", 1).await;
    let follower_log = replicas[follower].log_text();
    for leader_only in [
        "leading: cluster actors started",
        "operation lock granted",
        "backup finished",
    ] {
        assert!(
            !follower_log.contains(leader_only),
            "the follower logged {leader_only:?}:\n{follower_log}"
        );
    }
    assert_eq!(lease_holder(&world).await.as_deref(), Some(leader.as_str()));

    replicas
        .get_mut(leader.as_str())
        .expect("the leader's process")
        .kill();
    let survivor = &replicas[follower];
    eventually(
        "the follower to take the Lease",
        TAKEOVER_DEADLINE,
        survivor.log_path(),
        || async { (lease_holder(&world).await.as_deref() == Some(follower)).then_some(()) },
    )
    .await;
    world.trigger_backup("second").await;
    manual_backup_done(&world, survivor, "second", 2).await;
    assert!(
        survivor
            .log_text()
            .contains("leading: cluster actors started"),
        "the survivor runs the actors now"
    );

    let jobs = world.backup_jobs().await;
    let mut per_trigger: BTreeMap<String, usize> = BTreeMap::new();
    for job in &jobs {
        let token = job_annotation(job, TRIGGER_ANNOTATION).expect("only manual Jobs");
        *per_trigger.entry(token.to_string()).or_default() += 1;
    }
    assert_eq!(
        per_trigger,
        BTreeMap::from([("first".to_string(), 1), ("second".to_string(), 1)])
    );
}

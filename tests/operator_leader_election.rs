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

fn signal(operator: &Operator, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &operator.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {}", operator.pid());
}

/// What must never go backwards in `status`: the highest lock epoch, and the newest recovery point.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Progress {
    last_lock_epoch: i64,
    newest_point: Option<String>,
}

async fn progress(world: &World) -> Option<Progress> {
    let status = world.status().await?;
    let newest_point = status
        .backup
        .and_then(|backup| backup.recovery_points.first().map(|p| p.time.to_rfc3339()));
    Some(Progress {
        last_lock_epoch: status.last_lock_epoch.unwrap_or(0),
        newest_point,
    })
}

/// A deposed leader that keeps running: the leader is frozen (SIGSTOP) past its Lease while it holds the lock for
/// a running backup; the follower takes over, adopts that backup and runs new triggers; then the old leader wakes
/// (SIGCONT) and must step down without a single write that counts. 0 duplicate Jobs (counted as accepted creates
/// in the simulator's request log), 0 lost triggers, 0 leaked locks, and status never goes backwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_that_wakes_after_losing_its_lease_changes_nothing() {
    let world = World::start(WorldOptions {
        gate_backups_only: true,
        ..WorldOptions::default()
    })
    .await;
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
    let leader = eventually("a Lease holder", STARTUP_DEADLINE, &first_log, || async {
        lease_holder(&world).await
    })
    .await;
    let follower = if leader == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };
    world
        .create_cluster(&BackupSettings {
            suspend: true,
            trigger: Some("first"),
            ..BackupSettings::default()
        })
        .await;
    manual_backup_done(&world, &replicas[leader.as_str()], "first", 1).await;
    let mut seen = vec![progress(&world).await.expect("status")];

    // The leader holds the lock for a backup that waits at the gate, and freezes.
    world.gate.close();
    world.trigger_backup("held").await;
    eventually(
        "the held backup owns the lock",
        BACKUP_DEADLINE,
        replicas[leader.as_str()].log_path(),
        || async {
            let lock = world.status().await?.operation_lock?;
            lock.holder.starts_with("backup/").then_some(())
        },
    )
    .await;
    signal(&replicas[leader.as_str()], "-STOP");
    let survivor = &replicas[follower];
    eventually(
        "the follower takes the Lease",
        TAKEOVER_DEADLINE,
        survivor.log_path(),
        || async { (lease_holder(&world).await.as_deref() == Some(follower)).then_some(()) },
    )
    .await;
    world.trigger_backup("while-frozen").await;
    world.gate.open();
    manual_backup_done(&world, survivor, "while-frozen", 3).await;
    seen.push(progress(&world).await.expect("status"));

    // The old leader wakes up: it must notice it lost the Lease and stop its actors.
    let deposed = &replicas[leader.as_str()];
    signal(deposed, "-CONT");
    eventually(
        "the woken leader stops its cluster actors",
        TAKEOVER_DEADLINE,
        deposed.log_path(),
        || async {
            let log = deposed.log_text();
            let woke = log
                .rfind("leadership lost")
                .or_else(|| log.rfind("stepping down"))?;
            log[woke..].contains("cluster actors stopped").then_some(())
        },
    )
    .await;
    for _ in 0..5 {
        seen.push(progress(&world).await.expect("status"));
        tokio::task::yield_now().await;
    }
    world.trigger_backup("after-wake").await;
    manual_backup_done(&world, survivor, "after-wake", 4).await;
    seen.push(progress(&world).await.expect("status"));
    assert_eq!(lease_holder(&world).await.as_deref(), Some(follower));

    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "status went backwards: {seen:?}");
    let accepted = world.accepted_job_creates();
    let jobs = world.backup_jobs().await;
    let mut per_trigger: BTreeMap<String, usize> = BTreeMap::new();
    for job in &jobs {
        let token = job_annotation(job, TRIGGER_ANNOTATION).expect("only manual Jobs");
        *per_trigger.entry(token.to_string()).or_default() += 1;
    }
    let violations = accepted.values().filter(|count| **count > 1).count()
        + per_trigger.values().filter(|count| **count != 1).count()
        + usize::from(per_trigger.len() != 4)
        + usize::from(
            world
                .status()
                .await
                .and_then(|s| s.operation_lock)
                .is_some(),
        );
    println!("reliability-row: R6|deposed leader frozen past its Lease|1|{violations}");
    assert_eq!(
        accepted.len(),
        jobs.len(),
        "every accepted create is a Job: {accepted:?}"
    );
    assert!(accepted.values().all(|count| *count == 1), "{accepted:?}");
    assert_eq!(
        per_trigger.keys().map(String::as_str).collect::<Vec<_>>(),
        ["after-wake", "first", "held", "while-frozen"],
        "{per_trigger:?}"
    );
    assert!(
        per_trigger.values().all(|count| *count == 1),
        "{per_trigger:?}"
    );
    assert!(
        world.status().await.unwrap().operation_lock.is_none(),
        "no leaked lock"
    );
}

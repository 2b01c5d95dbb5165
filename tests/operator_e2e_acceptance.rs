//! End-to-end acceptance of per-cluster supervision and the backup manager: the operator binary as its own
//! process against the Kubernetes API simulator over HTTPS, whose kubelet runs the real executor binary against a
//! real OpenBao raft cluster and a real S3 server. Schedules fire on real minutes, so every scenario has its own
//! world and the scenarios run in parallel.

mod operator_support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use kube_sim::Verb;
use openbao_crds::{BackupKind, OpenBaoClusterStatus, Operation};
use operator_support::kubectl::{kubectl, parse_table};
use operator_support::wait::eventually_explained;
use operator_support::world::{
    BackupSettings, CLUSTER, World, WorldOptions, job_annotation, job_finished, job_succeeded,
};
use operator_support::{Operator, eventually, wait_ready};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The acceptance bound for `* * * * *`: a recovery point within two minutes of the cluster's creation.
const FIRST_WINDOW_DEADLINE: Duration = Duration::from_secs(120);
/// Two scheduled windows plus a busy 2-core machine's slack.
const TWO_WINDOWS_DEADLINE: Duration = Duration::from_secs(240);
/// A manual backup (or a restarted operator taking over one) on a busy machine.
const BACKUP_DEADLINE: Duration = Duration::from_secs(90);

const TRIGGER_ANNOTATION: &str = "openbao.org/trigger";
const SCHEDULED_TIME_ANNOTATION: &str = "openbao.org/scheduled-time";
const EPOCH_ANNOTATION: &str = "openbao.org/lock-epoch";

async fn start_operator(world: &World, log_name: &str) -> Operator {
    let operator = Operator::start(&world.kubeconfig, &world.path(log_name));
    wait_ready(&operator).await;
    operator
}

fn backup_kind(job: &Job) -> Option<&str> {
    job.metadata
        .labels
        .as_ref()?
        .get("openbao.org/backup-kind")
        .map(String::as_str)
}

fn lock_epoch_of(job: &Job) -> u64 {
    job_annotation(job, EPOCH_ANNOTATION)
        .and_then(|epoch| epoch.parse().ok())
        .expect("every backup Job names its lock epoch")
}

fn condition<'a>(
    status: &'a OpenBaoClusterStatus,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// How often the Events happened: kube's recorder folds repeats into `series.count`.
fn occurrences(events: &[Event]) -> i32 {
    events
        .iter()
        .map(|event| event.series.as_ref().map_or(1, |series| series.count))
        .sum()
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Acceptance 1: `* * * * *` on a 3-node cluster (executor pointed at a follower) gives a verified recovery point
/// and manifest in the bucket within two minutes, `status.backup` describes exactly those bytes, and real kubectl
/// shows Last Backup, Next Backup and Failures 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backup_of_a_three_node_cluster_is_in_the_bucket_status_and_kubectl() {
    let world = World::start(WorldOptions {
        openbao_nodes: 3,
        kv_secrets: 300,
        ..WorldOptions::default()
    })
    .await;
    let leader = world.bao.leader_index().await.expect("a leader");
    let operator = start_operator(&world, "operator.log").await;
    world
        .create_cluster(&BackupSettings {
            endpoint_node: (leader + 1) % 3,
            ..BackupSettings::default()
        })
        .await;

    let backup = eventually(
        "a verified scheduled backup in status.backup",
        FIRST_WINDOW_DEADLINE,
        operator.log_path(),
        || async {
            let backup = world.status().await?.backup?;
            assert_eq!(
                backup.consecutive_failures, 0,
                "the backup failed: {:?}",
                backup.last_failure
            );
            backup.last_backup_key.is_some().then_some(backup)
        },
    )
    .await;
    let key = backup.last_backup_key.clone().unwrap();
    assert!(
        key.starts_with(&format!("default/{CLUSTER}/"))
            && key.contains("-scheduled-")
            && key.ends_with(".snap"),
        "{key}"
    );
    let object = world
        .store
        .read_object(&key)
        .unwrap_or_else(|| panic!("{key} is not in the bucket: {:?}", world.bucket_keys()));
    let manifest: serde_json::Value = serde_json::from_slice(
        &world
            .store
            .read_object(&format!("{key}.json"))
            .expect("the manifest is next to the recovery point"),
    )
    .expect("the manifest is JSON");
    let size = i64::try_from(object.len()).unwrap();
    let digest = sha256_digest(&object);
    assert_eq!(backup.last_backup_size, Some(size));
    assert_eq!(backup.last_backup_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(manifest["key"], json!(key));
    assert_eq!(manifest["size"], json!(size));
    assert_eq!(manifest["digest"], json!(digest));
    assert_eq!(manifest["kind"], json!("scheduled"));
    let point = &backup.recovery_points[0];
    assert_eq!(
        (
            point.key.as_str(),
            point.size,
            point.digest.as_str(),
            point.kind
        ),
        (key.as_str(), size, digest.as_str(), BackupKind::Scheduled)
    );
    let last_success = backup.last_success_time.expect("lastSuccessTime");
    let next = backup.next_scheduled_backup.expect("nextScheduledBackup");
    assert!(
        next > last_success,
        "next {next} after success {last_success}"
    );

    let status = eventually(
        "the lock to be released after the Job",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            status.operation_lock.is_none().then_some(status)
        },
    )
    .await;
    let healthy = condition(&status, "BackupHealthy").expect("BackupHealthy");
    assert_eq!(healthy.status, "True", "{healthy:?}");

    let table = kubectl(&world.kubeconfig, &["get", "obc", CLUSTER]).await;
    let rows = parse_table(&table);
    assert_eq!(rows.len(), 1, "{table}");
    let cells: BTreeMap<_, _> = rows[0].iter().cloned().collect();
    for column in ["LAST BACKUP", "NEXT BACKUP"] {
        let cell = cells.get(column).map(String::as_str).unwrap_or("");
        assert!(
            !cell.is_empty() && cell != "<none>",
            "{column} is empty:\n{table}"
        );
    }
    assert_eq!(
        cells.get("FAILURES").map(String::as_str),
        Some("0"),
        "{table}"
    );
    assert_eq!(
        cells.get("NAME").map(String::as_str),
        Some(CLUSTER),
        "{table}"
    );
    println!("kubectl get obc:\n{table}");
}

/// Acceptance 2: a manual trigger that arrives while a backup runs is queued, runs once the running Job ended,
/// and is recorded in `lastHandledTrigger`. The first Job is held at the executor gate, so "while a backup runs"
/// is a state, not a race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_trigger_during_a_running_backup_is_queued_and_runs_next() {
    let world = World::start(WorldOptions {
        gate_open: false,
        ..WorldOptions::default()
    })
    .await;
    let operator = start_operator(&world, "operator.log").await;
    // Suspended schedule: only manual backups run, so the order below is the triggers' order.
    world.create_cluster(&BackupSettings::manual_only()).await;
    world.trigger_backup("first").await;
    let first = eventually(
        "the first manual Job to run (held at the gate)",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            if status.backup?.last_handled_trigger.as_deref() != Some("first") {
                return None;
            }
            world.backup_jobs().await.into_iter().find(|job| {
                job_annotation(job, TRIGGER_ANNOTATION) == Some("first")
                    && job.status.as_ref().and_then(|s| s.active) == Some(1)
            })
        },
    )
    .await;
    let first_name = first.metadata.name.clone().unwrap();

    world.trigger_backup("second").await;
    eventually(
        "the operator to queue the second trigger",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            (operator.log_text().matches("manual backup queued").count() >= 2).then_some(())
        },
    )
    .await;
    let status = world.status().await.unwrap();
    let lock = status
        .operation_lock
        .as_ref()
        .expect("the first Job holds the lock");
    assert_eq!(lock.holder, format!("backup/{first_name}"));
    assert_eq!(
        status
            .backup
            .as_ref()
            .unwrap()
            .last_handled_trigger
            .as_deref(),
        Some("first"),
        "the second trigger must wait for the running backup"
    );
    assert_eq!(
        world.backup_jobs().await.len(),
        1,
        "no second Job while the first runs"
    );

    world.gate.open();
    let backup = eventually(
        "the second trigger to run after the first and both to be recorded",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            let backup = status.backup?;
            let done = status.operation_lock.is_none()
                && backup.last_handled_trigger.as_deref() == Some("second")
                && backup.recovery_points.len() == 2;
            done.then_some(backup)
        },
    )
    .await;
    assert_eq!(backup.consecutive_failures, 0, "{:?}", backup.last_failure);
    assert!(
        backup
            .recovery_points
            .iter()
            .all(|point| point.kind == BackupKind::Manual),
        "{:?}",
        backup.recovery_points
    );
    let jobs = world.backup_jobs().await;
    let by_trigger = |token: &str| {
        jobs.iter()
            .find(|job| job_annotation(job, TRIGGER_ANNOTATION) == Some(token))
            .unwrap_or_else(|| panic!("a Job for trigger {token}"))
            .clone()
    };
    let (first, second) = (by_trigger("first"), by_trigger("second"));
    assert_eq!(jobs.len(), 2);
    assert!(job_succeeded(&first) && job_succeeded(&second));
    let first_completed = first
        .status
        .as_ref()
        .and_then(|s| s.completion_time.clone())
        .expect("the first Job completed")
        .0;
    let second_created = second
        .metadata
        .creation_timestamp
        .clone()
        .expect("creationTimestamp")
        .0;
    assert!(
        second_created >= first_completed,
        "the second Job ({second_created}) was created before the first completed ({first_completed})"
    );
    assert!(lock_epoch_of(&second) > lock_epoch_of(&first));
    assert_eq!(
        backup.last_backup_key.as_deref(),
        Some(backup.recovery_points[0].key.as_str())
    );
    // Each Job has completion events of its own, naming it: repeats of one reason must not fold into the first
    // Job's series (which would show the first Job's message for every later backup).
    let completed = world.events_with_reason("BackupCompleted").await;
    for job in [&first, &second] {
        let name = job.metadata.name.as_deref().expect("a Job name");
        assert!(
            completed.iter().any(|event| {
                event
                    .note
                    .as_deref()
                    .is_some_and(|note| note.contains(name))
                    && event.related.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
            }),
            "no BackupCompleted event about {name}: {completed:?}"
        );
    }
}

/// Acceptance 3: wrong store credentials fail two scheduled windows in a row: `consecutiveFailures` 1 then 2,
/// reason and message in status and events, the lock released after each Job, and the bucket untouched
/// (retention never ran: the old recovery point that `keepLast: 1` would delete is still there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_store_credentials_fail_two_windows_visibly_and_release_the_lock() {
    let world = World::start(WorldOptions {
        wrong_store_secret: true,
        ..WorldOptions::default()
    })
    .await;
    let old_point = world.store.bucket_dir().join(format!(
        "default/{CLUSTER}/20200101T000000Z-scheduled-0badc0de.snap"
    ));
    std::fs::create_dir_all(old_point.parent().unwrap()).unwrap();
    std::fs::write(&old_point, b"an old recovery point").unwrap();
    let bucket_before = world.bucket_keys();
    assert_eq!(bucket_before.len(), 1, "{bucket_before:?}");

    let operator = start_operator(&world, "operator.log").await;
    world
        .create_cluster(&BackupSettings {
            keep_last: Some(1),
            ..BackupSettings::default()
        })
        .await;

    let mut failures_seen = Vec::new();
    for expected in [1, 2] {
        let status = eventually(
            &format!("consecutiveFailures {expected} with the lock released"),
            TWO_WINDOWS_DEADLINE,
            operator.log_path(),
            || async {
                let status = world.status().await?;
                let failures = status.backup.as_ref()?.consecutive_failures;
                assert!(failures <= expected, "failures jumped to {failures}");
                (failures == expected && status.operation_lock.is_none()).then_some(status)
            },
        )
        .await;
        let backup = status.backup.clone().unwrap();
        let failure = backup.last_failure.clone().expect("lastFailure");
        assert!(
            !failure.reason.is_empty() && !failure.message.is_empty(),
            "{failure:?}"
        );
        assert!(backup.last_backup_key.is_none() && backup.recovery_points.is_empty());
        let healthy = condition(&status, "BackupHealthy").expect("BackupHealthy");
        assert_eq!(healthy.status, "False", "{healthy:?}");
        failures_seen.push(failure);
    }
    println!("failures: {failures_seen:?}");
    assert_eq!(failures_seen[0].reason, failures_seen[1].reason);
    assert!(failures_seen[1].time > failures_seen[0].time);

    // kube's event recorder folds repeats of a reason into one Event's series (the note stays the first one's).
    let failed_events = world.events_with_reason("BackupFailed").await;
    assert_eq!(occurrences(&failed_events), 2, "{failed_events:?}");
    for event in &failed_events {
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        let note = event.note.as_deref().unwrap_or("");
        assert!(note.contains(&failures_seen[0].reason), "{note}");
    }
    let jobs = world.backup_jobs().await;
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter()
            .all(|job| job_finished(job) && !job_succeeded(job))
    );
    let windows: Vec<_> = jobs
        .iter()
        .filter_map(|job| job_annotation(job, SCHEDULED_TIME_ANNOTATION))
        .collect();
    assert_ne!(windows[0], windows[1], "two different windows");
    assert_eq!(
        world.bucket_keys(),
        bucket_before,
        "the bucket must be unchanged"
    );
}

/// Acceptance 4: another operation holds the lock (written into status by the test under a holder no child of this
/// operator wrote, so it is kept as an administrator's lock would be; an `upgrade/<version>` holder with no upgrade
/// behind it would be released by the upgrade child's probe): the scheduled window is skipped with a visible reason, a manual trigger waits, and it runs once the lock is
/// released, under a newer epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_skips_the_window_and_a_manual_trigger_waits_for_its_release() {
    let world = World::start(WorldOptions::default()).await;
    world
        .create_cluster(&BackupSettings {
            trigger: Some("while-locked"),
            ..BackupSettings::default()
        })
        .await;
    world
        .patch_operation_lock(json!({
            "operation": "Upgrade",
            "holder": "maintenance/test",
            "message": "held by the test",
            "acquiredAt": Utc::now().to_rfc3339(),
            "epoch": 7,
        }))
        .await;
    let operator = start_operator(&world, "operator.log").await;

    let skipped = eventually(
        "the scheduled window to be skipped because of the lock",
        FIRST_WINDOW_DEADLINE + Duration::from_secs(30),
        operator.log_path(),
        || async {
            world
                .events_with_reason("BackupSkipped")
                .await
                .into_iter()
                .find(|event| {
                    event
                        .note
                        .as_deref()
                        .is_some_and(|note| note.contains("OperationLockHeld"))
                })
        },
    )
    .await;
    let note = skipped.note.unwrap();
    assert!(note.contains("maintenance/test"), "{note}");
    // The manual trigger (denied at start) and the window (denied when it fired): one Event series.
    let blocked = world.events_with_reason("OperationLockBlocked").await;
    assert!(occurrences(&blocked) >= 2, "{blocked:?}");
    assert!(
        blocked
            .iter()
            .filter_map(|e| e.note.as_deref())
            .all(|note| note.contains("locked by Upgrade (maintenance/test)")),
        "{blocked:?}"
    );
    let status = world.status().await.unwrap();
    let backing_up = condition(&status, "BackingUp").expect("BackingUp");
    assert_eq!(
        (backing_up.status.as_str(), backing_up.reason.as_str()),
        ("False", "WaitingForLock"),
        "{backing_up:?}"
    );
    let lock = status
        .operation_lock
        .as_ref()
        .expect("the test's lock is kept");
    assert_eq!(
        (lock.operation, lock.holder.as_str(), lock.epoch),
        (Operation::Upgrade, "maintenance/test", 7)
    );
    assert_ne!(
        status
            .backup
            .as_ref()
            .and_then(|b| b.last_handled_trigger.as_deref()),
        Some("while-locked")
    );
    assert!(
        world.backup_jobs().await.is_empty(),
        "no backup while the upgrade holds the lock"
    );

    world.patch_operation_lock(serde_json::Value::Null).await;
    let backup = eventually(
        "the queued manual backup to run after the release",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            let backup = status.backup?;
            let done = status.operation_lock.is_none()
                && backup.last_handled_trigger.as_deref() == Some("while-locked")
                && backup.last_backup_key.is_some();
            done.then_some(backup)
        },
    )
    .await;
    assert_eq!(backup.consecutive_failures, 0, "{:?}", backup.last_failure);
    let jobs = world.backup_jobs().await;
    let manual = jobs
        .iter()
        .find(|job| job_annotation(job, TRIGGER_ANNOTATION) == Some("while-locked"))
        .expect("the manual Job");
    assert!(
        lock_epoch_of(manual) > 7,
        "a grant after the upgrade's must carry a newer fencing epoch"
    );
}

/// Acceptance 5: SIGKILL at 10 random points of backups (delays from a seeded RNG, printed so a failure can be
/// replayed with `OPERATOR_E2E_SEED`), each time a new process takes over: never a second Job for a window or a
/// trigger, the lock released once the Jobs end, and `status.backup` converges to what is in the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_killed_at_random_points_of_backups_never_duplicates_and_converges() {
    // `scripts/reliability.sh` runs 50 rounds.
    let rounds: usize = std::env::var("BACKUP_KILL_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(10);
    // One runs (held at the gate) while three wait in the queue when the gate opens; the kill comes after that.
    const TRIGGERS_PER_ROUND: usize = 4;
    const MAX_KILL_DELAY_MS: u64 = 3000;
    let seed = std::env::var("OPERATOR_E2E_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp_millis().unsigned_abs());
    println!("kill points from seed {seed} (replay: OPERATOR_E2E_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    let world = World::start(WorldOptions {
        gate_backups_only: true,
        ..WorldOptions::default()
    })
    .await;
    // A container restarted in place keeps its Pod name, i.e. its leader-election identity.
    let pod_name = "operator-restarting";
    let mut operator =
        Operator::start_as(&world.kubeconfig, &world.path("operator-0.log"), pod_name);
    wait_ready(&operator).await;
    world.create_cluster(&BackupSettings::default()).await;

    for round in 0..rounds {
        // Four tokens, each seen by the operator (queued, or its Job created) before the kill.
        world.gate.close();
        let tokens: Vec<String> = (0..TRIGGERS_PER_ROUND)
            .map(|n| format!("kill-{round}-{n}"))
            .collect();
        for token in &tokens {
            world.trigger_backup(token).await;
            eventually(
                &format!("round {round}: trigger {token} seen by the operator"),
                BACKUP_DEADLINE,
                operator.log_path(),
                || async {
                    let backup = world.status().await?.backup?;
                    let seen = backup.pending_triggers.iter().any(|t| t == token)
                        || backup.last_handled_trigger.as_deref() == Some(token.as_str())
                        || world.backup_jobs().await.iter().any(|job| {
                            job_annotation(job, TRIGGER_ANNOTATION) == Some(token.as_str())
                        });
                    seen.then_some(())
                },
            )
            .await;
        }
        let token = tokens.last().expect("a token").clone();
        let queued = world
            .status()
            .await
            .and_then(|s| s.backup)
            .map(|b| b.pending_triggers.len())
            .unwrap_or(0);
        assert!(queued >= 3, "round {round}: {queued} triggers queued");
        world.gate.open();
        let delay = rng.random_range(0..MAX_KILL_DELAY_MS);
        println!(
            "round {round}: SIGKILL {delay} ms after triggers {tokens:?} ({queued} queued) (seed {seed})"
        );
        tokio::time::sleep(Duration::from_millis(delay)).await;
        operator.kill();
        drop(operator);
        operator = Operator::start_as(
            &world.kubeconfig,
            &world.path(&format!("operator-{}.log", round + 1)),
            pod_name,
        );
        let context = format!("round {round} (seed {seed}, kill after {delay} ms)");
        eventually_explained(
            &format!(
                "{context}: trigger {token} handled, Jobs ended, lock released, status converged"
            ),
            BACKUP_DEADLINE,
            operator.log_path(),
            || converged(&world, &token),
        )
        .await;
    }

    let jobs = world.backup_jobs().await;
    let mut per_window: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_trigger: BTreeMap<&str, usize> = BTreeMap::new();
    for job in &jobs {
        match backup_kind(job) {
            Some("scheduled") => {
                *per_window
                    .entry(job_annotation(job, SCHEDULED_TIME_ANNOTATION).expect("scheduled time"))
                    .or_default() += 1
            }
            Some("manual") => {
                *per_trigger
                    .entry(job_annotation(job, TRIGGER_ANNOTATION).expect("trigger"))
                    .or_default() += 1
            }
            other => panic!("unexpected backup kind {other:?}"),
        }
    }
    println!("windows: {per_window:?}; triggers: {per_trigger:?}");
    assert!(
        per_window.values().all(|count| *count == 1),
        "{per_window:?}"
    );
    assert!(
        per_trigger.values().all(|count| *count == 1),
        "{per_trigger:?}"
    );
    let violations = per_window.values().filter(|count| **count != 1).count()
        + per_trigger.values().filter(|count| **count != 1).count()
        + (rounds * TRIGGERS_PER_ROUND).abs_diff(per_trigger.len());
    println!(
        "reliability-row: R1|operator SIGKILLed during backups (1 running + 3 queued triggers per round)|{rounds}|{violations}"
    );
    assert_eq!(
        per_trigger.len(),
        rounds * TRIGGERS_PER_ROUND,
        "every trigger ran once: {per_trigger:?}"
    );

    // Counted where it happens: the simulator's log of every Job create it answered. A second Job for a window or
    // trigger would have to be a second accepted create (a repeat under the same name is refused with 409 and
    // adopted); a Job created and then deleted would not show in the list above, but shows here.
    let creates = world.sim.requests_matching(Verb::Create, "jobs");
    let accepted = world.accepted_job_creates();
    let refused: Vec<u16> = creates
        .iter()
        .map(|create| create.status)
        .filter(|status| *status != 201)
        .collect();
    println!(
        "Job creates: {} accepted, refused with {refused:?}",
        accepted.values().sum::<usize>()
    );
    assert!(accepted.values().all(|count| *count == 1), "{accepted:?}");
    assert_eq!(
        accepted.len(),
        jobs.len(),
        "every accepted create is a Job that still exists: {accepted:?}"
    );
    assert!(
        refused.iter().all(|status| *status == 409),
        "only repeats under the same name are refused: {refused:?}"
    );
}

/// Every backup Job ended, the lock is free, `token` was handled, and `status.backup` matches the bucket: one
/// recovery point per succeeded Job (the newest 10 listed, in the order a `latest` restore ranks them), the
/// newest one as `lastBackupKey`, no failures. `Err` says what does not hold yet.
async fn converged(world: &World, token: &str) -> Result<(), String> {
    let status = world.status().await.ok_or("no status")?;
    let backup = status.backup.ok_or("no status.backup")?;
    if let Some(lock) = &status.operation_lock {
        return Err(format!("lock held by {}", lock.holder));
    }
    if backup.last_handled_trigger.as_deref() != Some(token) {
        return Err(format!(
            "lastHandledTrigger is {:?}",
            backup.last_handled_trigger
        ));
    }
    let jobs = world.backup_jobs().await;
    let running: Vec<_> = jobs
        .iter()
        .filter(|job| !job_finished(job))
        .filter_map(|job| job.metadata.name.clone())
        .collect();
    if !running.is_empty() {
        return Err(format!("Jobs still running: {running:?}"));
    }
    assert_eq!(backup.consecutive_failures, 0, "{:?}", backup.last_failure);
    let snapshots = world.snapshots_newest_first();
    let stored = world
        .bucket_keys()
        .iter()
        .filter(|key| key.ends_with(".snap"))
        .count();
    if stored != snapshots.len() {
        return Err(format!(
            "{} of {stored} snapshots have no readable manifest",
            stored - snapshots.len()
        ));
    }
    let succeeded = jobs.iter().filter(|job| job_succeeded(job)).count();
    let newest: Vec<&str> = snapshots.iter().take(10).map(String::as_str).collect();
    let listed: Vec<&str> = backup
        .recovery_points
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    if succeeded != snapshots.len() {
        return Err(format!(
            "{succeeded} Jobs succeeded but the bucket holds {} snapshots",
            snapshots.len()
        ));
    }
    if listed != newest {
        return Err(format!(
            "recoveryPoints {listed:?} differ from the bucket's newest {newest:?}"
        ));
    }
    if backup.last_backup_key.as_deref() != newest.first().copied() {
        return Err(format!(
            "lastBackupKey {:?} is not the newest snapshot {:?}",
            backup.last_backup_key,
            newest.first()
        ));
    }
    Ok(())
}

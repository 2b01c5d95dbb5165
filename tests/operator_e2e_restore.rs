//! End-to-end acceptance of the restore manager: the operator as its own process against the Kubernetes API
//! simulator, whose kubelet runs the real executor against a real OpenBao raft cluster and a real S3 server.
//! `OpenBaoRestore` requests restore real data, once, and visibly.

mod operator_support;

use std::time::Duration;

use openbao_crds::{OpenBaoRestore, OpenBaoRestoreStatus, RestorePhase};
use openbao_test_harness::OpenBaoProxy;
use operator_support::kubectl::{kubectl, parse_table};
use operator_support::leaks;
use operator_support::world::{BackupSettings, CLUSTER, World, WorldOptions, job_finished};
use operator_support::{Operator, eventually, wait_ready};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A manual backup on a busy machine.
const BACKUP_DEADLINE: Duration = Duration::from_secs(90);
/// Validation, the lock, the restore and OpenBao's own settling (about 15 s) on a busy machine.
const RESTORE_DEADLINE: Duration = Duration::from_secs(180);
const SECRET: &str = "restore-me";

async fn start_operator(world: &World, log_name: &str) -> Operator {
    let operator = Operator::start(&world.kubeconfig, &world.path(log_name));
    wait_ready(&operator).await;
    operator
}

async fn secret_value(world: &World) -> Option<String> {
    let data = world.bao.read_secret(SECRET).await.ok()??;
    data["value"].as_str().map(str::to_string)
}

async fn backed_up(world: &World, operator: &Operator, token: &str) -> String {
    world.trigger_backup(token).await;
    eventually(
        &format!("manual backup {token} recorded"),
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let backup = world.status().await?.backup?;
            // A success resets the failure count: the backup of `token` succeeded.
            (backup.last_handled_trigger.as_deref() == Some(token)
                && backup.consecutive_failures == 0
                && backup.last_backup_key.is_some()
                && !backup.recovery_points.is_empty())
            .then(|| backup.last_backup_key.unwrap())
        },
    )
    .await
}

async fn ended(world: &World, operator: &Operator, name: &str) -> OpenBaoRestore {
    eventually(
        &format!("OpenBaoRestore {name} ends"),
        RESTORE_DEADLINE,
        operator.log_path(),
        || async {
            let request = world.restores().get(name).await.ok()?;
            request
                .status
                .as_ref()?
                .phase
                .is_some_and(RestorePhase::is_terminal)
                .then_some(request)
        },
    )
    .await
}

fn status(request: &OpenBaoRestore) -> &OpenBaoRestoreStatus {
    request.status.as_ref().expect("a status")
}

fn condition<'a>(status: &'a OpenBaoRestoreStatus, type_: &str) -> (&'a str, &'a str) {
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("condition {type_} in {:?}", status.conditions));
    (condition.status.as_str(), condition.reason.as_str())
}

async fn last_lock_epoch(world: &World) -> Option<i64> {
    world.status().await.and_then(|s| s.last_lock_epoch)
}

/// Acceptance: write a secret, back up, change it, restore → the old value reads back. The status names the
/// pinned key and its digest; the lock is free afterwards and the next backup succeeds. A dry run before it
/// changes nothing and takes no lock. kubectl shows Cluster, Phase, Snapshot; describe shows conditions and events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_brings_the_backed_up_value_back_and_a_dry_run_changes_nothing() {
    let world = World::start(WorldOptions {
        openbao_nodes: 3,
        kv_secrets: 20,
        ..WorldOptions::default()
    })
    .await;
    world
        .bao
        .write_secret(SECRET, &json!({"value": "before"}))
        .await
        .expect("secret written");
    let operator = start_operator(&world, "operator.log").await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    let key = backed_up(&world, &operator, "first").await;
    world
        .bao
        .write_secret(SECRET, &json!({"value": "after"}))
        .await
        .expect("secret changed");

    let epoch_before_dry_run = last_lock_epoch(&world).await;
    world
        .create_restore(
            "rehearse",
            json!({"source": {"latest": true}, "dryRun": true}),
        )
        .await;
    let dry = ended(&world, &operator, "rehearse").await;
    let dry_status = status(&dry);
    assert_eq!(
        dry_status.phase,
        Some(RestorePhase::Completed),
        "{dry_status:?}"
    );
    assert_eq!(condition(dry_status, "RestoreComplete"), ("True", "DryRun"));
    assert_eq!(condition(dry_status, "LockAcquired"), ("False", "DryRun"));
    assert_eq!(
        dry_status.snapshot.as_ref().map(|s| s.key.as_str()),
        Some(key.as_str())
    );
    assert_eq!(
        secret_value(&world).await.as_deref(),
        Some("after"),
        "a dry run changes nothing"
    );
    assert_eq!(
        last_lock_epoch(&world).await,
        epoch_before_dry_run,
        "a dry run never takes the lock"
    );

    world
        .create_restore("bring-back", json!({"source": {"latest": true}}))
        .await;
    let restored = ended(&world, &operator, "bring-back").await;
    let restored_status = status(&restored);
    assert_eq!(
        restored_status.phase,
        Some(RestorePhase::Completed),
        "{restored_status:?}"
    );
    let object = world.store.read_object(&key).expect("the snapshot object");
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&object)));
    let snapshot = restored_status
        .snapshot
        .as_ref()
        .expect("the pinned snapshot");
    assert_eq!(snapshot.key, key);
    assert_eq!(snapshot.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(snapshot.size, Some(i64::try_from(object.len()).unwrap()));
    assert!(restored_status.start_time.is_some() && restored_status.completion_time.is_some());
    assert_eq!(condition(restored_status, "Validated").0, "True");
    assert_eq!(
        condition(restored_status, "LockAcquired"),
        ("True", "LockGranted")
    );
    assert_eq!(
        condition(restored_status, "RestoreComplete"),
        ("True", "RestoreSucceeded")
    );
    eventually(
        "the finalizer is gone once the Job ended",
        RESTORE_DEADLINE,
        operator.log_path(),
        || async {
            let request = world.restores().get("bring-back").await.ok()?;
            request
                .metadata
                .finalizers
                .unwrap_or_default()
                .is_empty()
                .then_some(())
        },
    )
    .await;
    world
        .bao
        .wait_healthy()
        .await
        .expect("OpenBao healthy after the restore");
    assert_eq!(
        secret_value(&world).await.as_deref(),
        Some("before"),
        "the backed-up value is back"
    );

    // The lock release and the `Restoring` condition are separate status writes: wait for both.
    eventually(
        "the lock free and Restoring=False after the restore",
        RESTORE_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            let restoring = status.conditions.iter().find(|c| c.type_ == "Restoring")?;
            (status.operation_lock.is_none() && restoring.status == "False").then_some(())
        },
    )
    .await;

    let jobs = world.restore_jobs().await;
    let destructive: Vec<_> = jobs
        .iter()
        .filter(|job| job.metadata.name.as_deref() == restored_status.job_name.as_deref())
        .collect();
    assert_eq!(destructive.len(), 1, "one restore Job: {jobs:?}");
    let job = destructive[0];
    assert!(job_finished(job));
    let pod_spec = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(
        pod_spec.service_account_name.as_deref(),
        Some(format!("{CLUSTER}-restore").as_str())
    );
    assert_eq!(job.spec.as_ref().unwrap().backoff_limit, Some(0));
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("OpenBaoRestore", "bring-back")
    );

    // The next backup runs as usual.
    backed_up(&world, &operator, "second").await;

    let table = parse_table(&kubectl(&world.kubeconfig, &["get", "obrestore"]).await);
    let cell = |row: &Vec<(String, String)>, column: &str| {
        row.iter()
            .find(|(name, _)| name == column)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let row = table
        .iter()
        .find(|row| cell(row, "NAME") == "bring-back")
        .unwrap_or_else(|| panic!("{table:?}"));
    assert_eq!(cell(row, "CLUSTER"), CLUSTER);
    assert_eq!(cell(row, "PHASE"), "Completed");
    assert_eq!(cell(row, "SNAPSHOT"), key);
    let described = kubectl(&world.kubeconfig, &["describe", "obrestore", "bring-back"]).await;
    for expected in [
        "RestoreComplete",
        "LockAcquired",
        "RestoreQueued",
        "RestoreValidated",
        "RestoreStarted",
        "RestoreCompleted",
    ] {
        assert!(
            described.contains(expected),
            "describe lacks {expected}:\n{described}"
        );
    }
    let metrics = reqwest::get(format!("{}/metrics", operator.metrics_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "openbao_restore_total{namespace=\"default\",cluster=\"prod\",outcome=\"succeeded\"} 1",
        "openbao_restore_total{namespace=\"default\",cluster=\"prod\",outcome=\"dry_run\"} 1",
        "openbao_restore_in_progress{namespace=\"default\",cluster=\"prod\"} 0",
    ] {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with(series.rsplit_once(' ').unwrap().0)
                    && line.split_whitespace().nth(1) == series.split_whitespace().nth(1)),
            "missing {series} in:\n{}",
            metrics
                .lines()
                .filter(|line| line.contains("openbao_restore"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// A bad key, a key outside the cluster's folder, a corrupted object and another cluster's snapshot without
/// `force` end `Failed` with a named reason: no lock is taken and no restore call reaches OpenBao.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sources_fail_with_a_reason_before_any_lock_or_destructive_call() {
    let world = World::start(WorldOptions::default()).await;
    let proxy = OpenBaoProxy::start(&world.bao.node_addr(0)).expect("proxy");
    proxy.present_as_leader(true);
    let operator = start_operator(&world, "operator.log").await;
    world
        .create_cluster(&BackupSettings {
            endpoint: Some(proxy.addr()),
            ..BackupSettings::manual_only()
        })
        .await;
    let key = backed_up(&world, &operator, "first").await;
    let folder = key.rsplit_once('/').unwrap().0.to_string();
    let epoch = last_lock_epoch(&world).await;

    // A copy whose bytes differ from what its manifest says.
    let corrupt = format!("{folder}/20200101T000000Z-manual-0badbad0.snap");
    let mut bytes = world.store.read_object(&key).unwrap().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    world.store.write_object(&corrupt, &bytes);
    let manifest = world.store.read_object(&format!("{key}.json")).unwrap();
    let mut manifest: Value = serde_json::from_slice(&manifest).unwrap();
    manifest["key"] = json!(corrupt);
    world.store.write_object(
        &format!("{corrupt}.json"),
        &serde_json::to_vec(&manifest).unwrap(),
    );
    // A snapshot of another cluster, copied into this cluster's folder with its manifest.
    let foreign = format!("{folder}/20200102T000000Z-manual-0f0f0f0f.snap");
    world
        .store
        .write_object(&foreign, &world.store.read_object(&key).unwrap());
    manifest["key"] = json!(foreign);
    manifest["digest"] = json!(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(world.store.read_object(&key).unwrap()))
    ));
    manifest["clusterId"] = json!("00000000-0000-0000-0000-000000000000");
    world.store.write_object(
        &format!("{foreign}.json"),
        &serde_json::to_vec(&manifest).unwrap(),
    );

    // A dry run through the recording proxy: it completes and no restore call reaches OpenBao.
    world
        .create_restore(
            "rehearse",
            json!({"source": {"latest": true}, "dryRun": true}),
        )
        .await;
    let rehearsed = ended(&world, &operator, "rehearse").await;
    assert_eq!(
        status(&rehearsed).phase,
        Some(RestorePhase::Completed),
        "{:?}",
        rehearsed.status
    );
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.path.contains("auth/jwt/login")),
        "the dry run logged in through the proxy: {:?}",
        proxy.requests()
    );
    assert_eq!(
        proxy.restore_calls(),
        vec![],
        "a dry run makes no restore call"
    );

    let cases = [
        (
            "missing-key",
            format!("{folder}/20200103T000000Z-manual-00000000.snap"),
            &["ManifestMissing"][..],
        ),
        (
            "elsewhere",
            "other/ns/cluster/20200101T000000Z-manual-00000000.snap".to_string(),
            &["KeyOutsideClusterFolder"],
        ),
        // Whichever check meets the flipped byte first: the archive's gzip stream or the digest.
        (
            "corrupted",
            corrupt.clone(),
            &["SnapshotCorruptGzip", "DigestMismatch"],
        ),
        ("foreign", foreign.clone(), &["SnapshotFromAnotherCluster"]),
    ];
    for (name, source_key, _) in &cases {
        world
            .create_restore(name, json!({"source": {"key": source_key}}))
            .await;
    }
    for (name, _, reasons) in &cases {
        let request = ended(&world, &operator, name).await;
        let status = status(&request);
        assert_eq!(
            status.phase,
            Some(RestorePhase::Failed),
            "{name}: {status:?}"
        );
        let (held, why) = condition(status, "RestoreComplete");
        assert_eq!(held, "False");
        assert!(
            reasons.contains(&why),
            "{name}: expected one of {reasons:?}, got {why}: {:?}",
            status.message
        );
        assert_eq!(condition(status, "Validated"), ("False", why));
        assert!(
            status.job_name.is_none(),
            "{name}: no restore Job was committed"
        );
    }
    assert_eq!(
        proxy.restore_calls(),
        vec![],
        "no restore call reached OpenBao"
    );
    // Executor Pods are confined: DNS, the OpenBao endpoint's port and the store's port, no ingress.
    let policy = kube::Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(
        world.client.clone(),
        "default",
    )
    .get(&format!("{CLUSTER}-executor"))
    .await
    .expect("the executor NetworkPolicy");
    let ports: Vec<String> = serde_json::to_value(&policy.spec).unwrap()["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["ports"].as_array().cloned().unwrap_or_default())
        .map(|port| port["port"].to_string())
        .collect();
    for port in [
        "53".to_string(),
        proxy.addr().rsplit(':').next().unwrap().to_string(),
        world
            .store
            .endpoint()
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_string(),
    ] {
        assert!(ports.contains(&port), "egress port {port} in {ports:?}");
    }
    let plain_http = world.events_with_reason("PlainHttpEndpoint").await;
    assert!(
        plain_http
            .iter()
            .any(|event| event.type_.as_deref() == Some("Warning")
                && event
                    .note
                    .as_deref()
                    .unwrap_or_default()
                    .contains(&proxy.addr())),
        "the accepted http:// endpoints are a Warning event: {plain_http:?}"
    );
    assert_eq!(last_lock_epoch(&world).await, epoch, "no lock was taken");
    assert!(world.status().await.unwrap().operation_lock.is_none());
    let elsewhere_jobs = world.restore_jobs_of("elsewhere").await.len();
    assert_eq!(
        elsewhere_jobs, 0,
        "a key outside the folder is refused before any Job"
    );

    // Every failure above wrote messages somewhere a person reads; none holds a token the executors were issued
    // (seen by the proxy), the root token or the store key.
    let issued = proxy.issued_tokens();
    assert!(
        issued.len() >= 2,
        "the backup and the dry run logged in through the proxy ({} tokens)",
        issued.len()
    );
    let (texts, bytes) = leaks::assert_no_secret_leaked(&world, &issued).await;
    assert!(
        texts >= 8 && bytes > 10_000,
        "the sweep read the logs and objects ({texts} texts, {bytes} bytes)"
    );
}

/// A restore applied while another operation holds the lock waits visibly (`WaitingForLock`, the holder named),
/// then runs once the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_waits_for_a_held_lock_and_runs_after_its_release() {
    let world = World::start(WorldOptions::default()).await;
    world
        .bao
        .write_secret(SECRET, &json!({"value": "before"}))
        .await
        .expect("secret written");
    let operator = start_operator(&world, "operator.log").await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    backed_up(&world, &operator, "first").await;
    world
        .bao
        .write_secret(SECRET, &json!({"value": "after"}))
        .await
        .expect("secret changed");
    let held_since = chrono::Utc::now();
    world
        .patch_operation_lock(json!({
            "operation": "Upgrade", "holder": "upgrade/by-hand", "acquiredAt": held_since.to_rfc3339(),
            "epoch": 90,
        }))
        .await;
    world
        .create_restore("patient", json!({"source": {"latest": true}}))
        .await;
    let waiting = eventually(
        "the restore waits for the lock",
        RESTORE_DEADLINE,
        operator.log_path(),
        || async {
            let request = world.restores().get("patient").await.ok()?;
            let status = request.status.clone()?;
            let lock = status
                .conditions
                .iter()
                .find(|c| c.type_ == "LockAcquired")?
                .clone();
            (lock.reason == "WaitingForLock").then_some((status, lock))
        },
    )
    .await;
    assert_eq!(waiting.0.phase, Some(RestorePhase::Validating));
    assert!(
        waiting.1.message.contains("upgrade/by-hand"),
        "{}",
        waiting.1.message
    );
    assert!(
        world.restore_jobs().await.iter().all(|job| {
            job.metadata
                .name
                .as_deref()
                .is_some_and(|name| name.contains("restore-check"))
        }),
        "only the validation Job exists while the lock is held"
    );
    assert_eq!(secret_value(&world).await.as_deref(), Some("after"));

    world.patch_operation_lock(Value::Null).await;
    let restored = ended(&world, &operator, "patient").await;
    assert_eq!(
        status(&restored).phase,
        Some(RestorePhase::Completed),
        "{:?}",
        restored.status
    );
    world.bao.wait_healthy().await.expect("OpenBao healthy");
    assert_eq!(secret_value(&world).await.as_deref(), Some("before"));
    assert!(
        !world
            .events_with_reason("RestoreWaitingForLock")
            .await
            .is_empty()
    );
}

async fn wait_phase(world: &World, operator: &Operator, name: &str, phase: RestorePhase) {
    eventually(
        &format!("OpenBaoRestore {name} reaches {phase}"),
        RESTORE_DEADLINE,
        operator.log_path(),
        || async {
            let request = world.restores().get(name).await.ok()?;
            (request.status?.phase? == phase).then_some(())
        },
    )
    .await;
}

async fn running_backup_job(world: &World, operator: &Operator) -> String {
    eventually(
        "a backup Job holds the lock",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let lock = world.status().await?.operation_lock?;
            lock.holder.strip_prefix("backup/").map(str::to_string)
        },
    )
    .await
}

/// Backups and restores share the lock: a restore applied while a backup Job runs waits for it and then runs; an
/// `overrideOperationLock` restore stops a running backup (recorded as failed, `Preempted`) with Warning events on
/// both objects; a manual backup triggered during a restore runs after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_wait_for_backups_preempt_them_only_with_override_and_backups_wait_for_restores() {
    let world = World::start(WorldOptions {
        gate_backups_only: true,
        ..WorldOptions::default()
    })
    .await;
    let operator = start_operator(&world, "operator.log").await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    backed_up(&world, &operator, "first").await;

    // A restore waits for a running backup, then runs.
    world.gate.close();
    world.trigger_backup("slow").await;
    let slow = running_backup_job(&world, &operator).await;
    world
        .create_restore("after-backup", json!({"source": {"latest": true}}))
        .await;
    let waiting = eventually(
        "the restore waits for the backup",
        RESTORE_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.restores().get("after-backup").await.ok()?.status?;
            let lock = status
                .conditions
                .iter()
                .find(|c| c.type_ == "LockAcquired")?
                .clone();
            (lock.reason == "WaitingForLock").then_some(lock.message)
        },
    )
    .await;
    assert!(waiting.contains(&slow), "the holder is named: {waiting}");
    world.gate.open();
    let after = ended(&world, &operator, "after-backup").await;
    assert_eq!(
        status(&after).phase,
        Some(RestorePhase::Completed),
        "{:?}",
        after.status
    );
    let backup = world.status().await.unwrap().backup.unwrap();
    assert_eq!(backup.last_handled_trigger.as_deref(), Some("slow"));
    assert!(
        backup.last_failure.is_none(),
        "the backup was not disturbed: {:?}",
        backup.last_failure
    );

    // An override preempts a running backup.
    world.bao.wait_healthy().await.expect("OpenBao healthy");
    world.gate.close();
    world.trigger_backup("preempted").await;
    let preempted = running_backup_job(&world, &operator).await;
    world
        .create_restore(
            "override",
            json!({"source": {"latest": true}, "force": true, "overrideOperationLock": true}),
        )
        .await;
    wait_phase(&world, &operator, "override", RestorePhase::Running).await;
    // A manual backup asked for during the restore waits for it.
    world.trigger_backup("during-restore").await;
    let overridden = ended(&world, &operator, "override").await;
    let overridden_status = status(&overridden);
    assert_eq!(
        overridden_status.phase,
        Some(RestorePhase::Completed),
        "{overridden_status:?}"
    );
    let (held, reason) = condition(overridden_status, "LockAcquired");
    assert_eq!((held, reason), ("True", "LockOverridden"));
    let backup = world.status().await.unwrap().backup.unwrap();
    let failure = backup
        .last_failure
        .expect("the preempted backup is recorded");
    assert_eq!(failure.reason, "Preempted", "{failure:?}");
    assert!(
        world
            .backup_jobs()
            .await
            .iter()
            .all(|job| job.metadata.name.as_deref() != Some(preempted.as_str())),
        "the preempted backup Job {preempted} was stopped"
    );
    let overrides = world.events_with_reason("OperationLockOverridden").await;
    let kinds: Vec<&str> = overrides
        .iter()
        .filter_map(|event| event.regarding.as_ref()?.kind.as_deref())
        .collect();
    assert!(
        kinds.contains(&"OpenBaoRestore") && kinds.contains(&"OpenBaoCluster"),
        "{kinds:?}"
    );
    assert!(
        overrides
            .iter()
            .all(|event| event.type_.as_deref() == Some("Warning")),
        "{overrides:?}"
    );
    let completed_at = overridden_status.completion_time.expect("completion time");
    // The queued manual backup may start the moment the restore released the lock; its Job's creation time
    // (checked below) shows it waited.
    world.gate.open();
    backed_up(&world, &operator, "during-restore").await;
    let job = world
        .backup_jobs()
        .await
        .into_iter()
        .find(|job| {
            job.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("openbao.org/trigger"))
                .map(String::as_str)
                == Some("during-restore")
        })
        .expect("the manual backup's Job");
    let created = job.metadata.creation_timestamp.expect("creation time").0;
    assert!(
        created.as_second() >= completed_at.timestamp(),
        "the backup Job was created after the restore ended"
    );
}

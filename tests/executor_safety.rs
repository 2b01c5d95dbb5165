//! What the executor must never do: snapshot a standby, record an empty or damaged snapshot, call OpenBao with
//! an unverified snapshot, restore a snapshot other than the pinned one or (unforced) another cluster's, leave
//! partial objects behind, prune after a failure, or print a credential.

mod executor_support;

use std::time::{Duration, Instant};

use executor_support::{
    ExecutorEnv, cluster_prefix, keys, read, write, write_incompressible_secrets,
};
use object_store::path::Path;
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, OpenBaoCluster, OpenBaoOptions, OpenBaoProxy,
    RESTORE_POLICY, RESTORE_POLICY_NAME, S3Options, S3Server, StoreProvider, TestStore,
};
use reqwest::Method;
use serde_json::json;

const SNAPSHOT_PATH: &str = "/v1/sys/storage/raft/snapshot";

async fn token_for(cluster: &OpenBaoCluster, policy_name: &str, policy: &str) -> String {
    cluster.write_policy(policy_name, policy).await.unwrap();
    cluster.create_token(&[policy_name]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_requested_through_a_standby_comes_from_the_leader() {
    let cluster = OpenBaoCluster::start(3, OpenBaoOptions::default())
        .await
        .expect("cluster");
    let leader = cluster.leader_index().await.unwrap();
    let standby = (0..3).find(|i| *i != leader).unwrap();
    let proxy = OpenBaoProxy::start(&cluster.node_addr(standby)).unwrap();
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let mut env = ExecutorEnv::new(&proxy.addr(), &store);
    env.with_token(&token_for(&cluster, BACKUP_POLICY_NAME, BACKUP_POLICY).await);

    let outcome = env.run(&["backup"]).await;
    outcome.assert_success();
    assert_eq!(
        proxy.count(&Method::GET, "/v1/sys/leader"),
        1,
        "{:?}",
        proxy.requests()
    );
    assert_eq!(
        proxy.count(&Method::GET, SNAPSHOT_PATH),
        0,
        "the standby was asked for the snapshot"
    );
    let health = cluster.health(leader).await.unwrap();
    assert_eq!(
        outcome.report["clusterId"].as_str(),
        health.cluster_id.as_deref()
    );
    assert!(outcome.report["raftIndex"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_snapshot_answer_is_never_recorded() {
    // Real OpenBao behind the harness's proxy, which answers the snapshot download with an empty 200 as a
    // misbehaving standby can, and names itself the leader so every call of the executor goes through it.
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    let proxy = OpenBaoProxy::start(&cluster.node_addr(0)).unwrap();
    proxy.present_as_leader(true);
    proxy.answer_snapshot_with_empty_body(true);
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let objects = store.object_store().unwrap();
    let mut env = ExecutorEnv::new(&proxy.addr(), &store);
    env.with_token(&token_for(&cluster, BACKUP_POLICY_NAME, BACKUP_POLICY).await);

    let outcome = env.run(&["backup"]).await;
    outcome.assert_failed_at("verify", 7);
    assert_eq!(outcome.reason(), "SnapshotEmpty");
    assert_eq!(
        proxy.count(&Method::GET, SNAPSHOT_PATH),
        1,
        "the snapshot was asked for once, through the proxy"
    );
    assert_eq!(
        keys(&objects).await,
        Vec::<String>::new(),
        "nothing may be stored"
    );
    if let TestStore::S3(server) = &store {
        let root = server.bucket_dir().parent().unwrap().to_owned();
        let uploads: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".upload"))
            .collect();
        assert!(
            uploads.is_empty(),
            "not even a multipart upload is started: {uploads:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_fails_verification_before_any_openbao_call() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    cluster.write_secrets("bulk", 200, 256).await.unwrap();
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let objects = store.object_store().unwrap();
    let mut backup = ExecutorEnv::new(&cluster.node_addr(0), &store);
    backup.with_token(&token_for(&cluster, BACKUP_POLICY_NAME, BACKUP_POLICY).await);
    let key = backup.run(&["backup"]).await.assert_success().key();

    let mut bytes = read(&objects, &key).await;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    write(&objects, &key, bytes).await;

    let proxy = OpenBaoProxy::start(&cluster.node_addr(0)).unwrap();
    proxy.present_as_leader(true);
    let mut restore = ExecutorEnv::new(&proxy.addr(), &store);
    restore
        .with_token(&token_for(&cluster, RESTORE_POLICY_NAME, RESTORE_POLICY).await)
        .set("EXECUTOR_KEY", &key);
    for flags in [&["restore"][..], &["restore", "--force"][..]] {
        let outcome = restore.run(flags).await;
        outcome.assert_failed_at("verify", 7);
        assert!(
            proxy.restore_calls().is_empty(),
            "a restore call reached OpenBao"
        );
        assert_eq!(
            proxy.requests(),
            vec![],
            "OpenBao was contacted before verification finished"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_dies_during_upload_leaves_nothing_and_prunes_nothing() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    // About 25 MB of snapshot: several 5 MiB parts, seconds of work for a debug build.
    write_incompressible_secrets(&cluster, "big", 120, 200 * 1024).await;
    let mut store = TestStore::S3(S3Server::start(S3Options::default()).unwrap());
    let mut env = ExecutorEnv::new(&cluster.node_addr(0), &store);
    env.set("EXECUTOR_UPLOAD_CONCURRENCY", "1")
        .set("EXECUTOR_RETENTION", r#"{"keepLast":1,"keepPreUpgrade":1}"#)
        .with_token(&token_for(&cluster, BACKUP_POLICY_NAME, BACKUP_POLICY).await);
    let TestStore::S3(server) = &mut store else {
        unreachable!()
    };

    // Three older recovery points that keepLast=1 would delete if retention ran.
    let objects = server.object_store().unwrap();
    let old_keys = seed_recovery_points(&objects, 3).await;
    let before = server.list_keys();

    let mut child = env.spawn(&["backup"]);
    let uploads_root = server.bucket_dir().parent().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let part_written = std::fs::read_dir(&uploads_root)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains(".part-"));
        if part_written {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before a part was uploaded"
        );
        assert!(Instant::now() < deadline, "no part was uploaded in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop();

    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("executor exits after the store died")
        .unwrap();
    let outcome = env.outcome(
        output.status.code().unwrap_or(-1),
        output.stdout,
        output.stderr,
    );
    outcome.assert_failed_at("storage", 6);
    let after = server.list_keys();
    assert_eq!(
        after, before,
        "no snapshot or manifest was added, nothing was pruned"
    );
    for key in old_keys {
        assert!(after.contains(&key), "{key} was pruned");
    }
    assert!(outcome.report.get("deletedKeys").is_none());
}

/// Writes `count` synthetic recovery points (small archives with manifests), oldest first; returns their keys.
async fn seed_recovery_points(
    objects: &std::sync::Arc<dyn object_store::ObjectStore>,
    count: usize,
) -> Vec<String> {
    let mut keys = Vec::new();
    for n in 0..count {
        let key = format!(
            "{}2026010{}T000000Z-scheduled-0000000{n}.snap",
            cluster_prefix(),
            n + 1
        );
        let bytes = format!("synthetic snapshot {n}").into_bytes();
        let manifest = serde_json::json!({
            "formatVersion": 1, "key": key, "digest": format!("sha256:{}", "0".repeat(64)), "size": bytes.len(),
            "clusterId": "c", "version": "2.7.2", "raftIndex": 1, "raftTerm": 1,
            "created": format!("2026-01-0{}T00:00:00Z", n + 1), "operatorVersion": "0.1.0", "kind": "scheduled",
            "namespace": executor_support::NAMESPACE, "cluster": executor_support::CLUSTER,
        });
        write(objects, &key, bytes).await;
        write(
            objects,
            &format!("{key}.json"),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .await;
        keys.push(key);
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_digest_that_differs_is_refused_before_the_download_and_before_openbao() {
    use object_store::ObjectStoreExt;
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let objects = store.object_store().unwrap();
    let mut backup = ExecutorEnv::new(&cluster.node_addr(0), &store);
    backup.with_token(&token_for(&cluster, BACKUP_POLICY_NAME, BACKUP_POLICY).await);
    let backed_up = backup.run(&["backup"]).await;
    backed_up.assert_success();
    let key = backed_up.key();
    let digest = backed_up.report["digest"].as_str().unwrap().to_owned();
    let pinned = format!("sha256:{}", "ab".repeat(32));
    assert_ne!(pinned, digest);

    let proxy = OpenBaoProxy::start(&cluster.node_addr(0)).unwrap();
    proxy.present_as_leader(true);
    let mut restore = ExecutorEnv::new(&proxy.addr(), &store);
    restore
        .with_token(&token_for(&cluster, RESTORE_POLICY_NAME, RESTORE_POLICY).await)
        .set("EXECUTOR_KEY", &key)
        .set("EXECUTOR_EXPECTED_DIGEST", &pinned);
    let refused_everywhere = |outcome: &executor_support::RunOutcome| {
        outcome.assert_failed_at("verify", 7);
        assert_eq!(
            outcome.reason(),
            "DigestMismatch",
            "{}",
            outcome.report_text
        );
        let message = outcome.report["message"].as_str().unwrap();
        for part in [key.as_str(), pinned.as_str(), digest.as_str()] {
            assert!(message.contains(part), "{message} does not name {part}");
        }
        assert!(
            !outcome.stderr.contains("snapshot verified"),
            "the snapshot was downloaded:\n{}",
            outcome.stderr
        );
        assert!(proxy.restore_calls().is_empty(), "{:?}", proxy.requests());
        assert_eq!(proxy.requests(), vec![], "OpenBao was contacted");
    };
    for flags in [
        &["restore", "--dry-run"][..],
        &["restore"][..],
        &["restore", "--force"][..],
    ] {
        refused_everywhere(&restore.run(flags).await);
    }

    // Without the snapshot object a download would fail at the storage stage: the digest verdict came first.
    let bytes = read(&objects, &key).await;
    objects.delete(&Path::from(key.as_str())).await.unwrap();
    refused_everywhere(&restore.run(&["restore"]).await);
    write(&objects, &key, bytes).await;

    // Pinned to the right digest, the preflight passes and reports what the operator copies into status.snapshot.
    restore.set("EXECUTOR_EXPECTED_DIGEST", &digest);
    let dry = restore.run(&["restore", "--dry-run"]).await;
    dry.assert_success();
    assert_eq!(dry.report["outcome"], "dryRun", "{}", dry.report_text);
    for field in ["key", "digest", "size", "clusterId", "version", "created"] {
        assert!(!dry.report[field].is_null(), "{field}: {}", dry.report_text);
        assert_eq!(
            dry.report[field], backed_up.report[field],
            "{field}: {}",
            dry.report_text
        );
    }
    assert!(proxy.restore_calls().is_empty(), "{:?}", proxy.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clusters_snapshot_is_refused_without_force_before_any_restore_call() {
    let (source, target) = tokio::join!(
        OpenBaoCluster::start(1, OpenBaoOptions::default()),
        OpenBaoCluster::start(1, OpenBaoOptions::default())
    );
    let (source, target) = (source.expect("source"), target.expect("target"));
    target
        .write_secret("kept", &json!({"on": "target"}))
        .await
        .unwrap();
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let mut backup = ExecutorEnv::new(&source.node_addr(0), &store);
    backup.with_token(&token_for(&source, BACKUP_POLICY_NAME, BACKUP_POLICY).await);
    // The source had this cluster's name (a cluster rebuilt under the same name): its snapshot sits in the
    // target's own folder, so only the cluster ids tell them apart.
    let key = backup.run(&["backup"]).await.assert_success().key();
    // And one in the folder of a cluster with another name.
    backup.set("EXECUTOR_CLUSTER", "source");
    let foreign_key = backup.run(&["backup"]).await.assert_success().key();
    assert!(!foreign_key.starts_with(&cluster_prefix()), "{foreign_key}");

    let source_id = source.health(0).await.unwrap().cluster_id.unwrap();
    let target_id = target.health(0).await.unwrap().cluster_id.unwrap();
    assert_ne!(source_id, target_id);
    let proxy = OpenBaoProxy::start(&target.node_addr(0)).unwrap();
    proxy.present_as_leader(true);
    let mut restore = ExecutorEnv::new(&proxy.addr(), &store);
    restore
        .with_token(&token_for(&target, RESTORE_POLICY_NAME, RESTORE_POLICY).await)
        .set("EXECUTOR_KEY", &key);
    for flags in [&["restore", "--dry-run"][..], &["restore"][..]] {
        let outcome = restore.run(flags).await;
        outcome.assert_failed_at("verify", 7);
        assert_eq!(outcome.reason(), "SnapshotFromAnotherCluster");
        let message = outcome.report["message"].as_str().unwrap();
        for part in [
            key.as_str(),
            &source_id,
            &target_id,
            "force: true",
            "source cluster's keys",
        ] {
            assert!(message.contains(part), "{message} does not name {part}");
        }
        assert!(proxy.restore_calls().is_empty(), "{:?}", proxy.requests());
        assert!(
            proxy.requests().iter().all(|r| r.method == Method::GET),
            "only lookups before the refusal: {:?}",
            proxy.requests()
        );
        proxy.clear();
    }
    assert_eq!(
        target.read_secret("kept").await.unwrap(),
        Some(json!({"on": "target"}))
    );

    // With force the preflight passes, also for a key in another cluster's folder, and restores nothing.
    for key in [&key, &foreign_key] {
        restore.set("EXECUTOR_KEY", key);
        let forced = restore.run(&["restore", "--dry-run", "--force"]).await;
        forced.assert_success();
        assert_eq!(forced.report["outcome"], "dryRun", "{}", forced.report_text);
        assert_eq!(
            forced.report["clusterId"].as_str(),
            Some(source_id.as_str())
        );
    }
    assert!(proxy.restore_calls().is_empty(), "{:?}", proxy.requests());
    proxy.clear();

    // Without force that folder is out of reach, and even with force a key must be a plain relative .snap key.
    restore.set("EXECUTOR_KEY", &foreign_key);
    let outcome = restore.run(&["restore", "--dry-run"]).await;
    outcome.assert_failed_at("config", 2);
    let traversal = format!(
        "{}../source/{}",
        cluster_prefix(),
        foreign_key.rsplit('/').next().unwrap()
    );
    restore.set("EXECUTOR_KEY", &traversal);
    let outcome = restore.run(&["restore", "--dry-run", "--force"]).await;
    outcome.assert_failed_at("config", 2);
    assert!(
        outcome.report["message"]
            .as_str()
            .unwrap()
            .contains("EXECUTOR_KEY"),
        "{}",
        outcome.report_text
    );
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
}

/// `sys/leader` naming a host outside the cluster (here a second node address under the name `localhost`, which
/// neither the endpoint `127.0.0.1`, a Service of the namespace nor `EXECUTOR_OPENBAO_LEADER_HOSTS` names) is
/// refused before the token goes there; listing the host admits it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_outside_the_cluster_never_gets_the_token() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let entry = OpenBaoProxy::start(&cluster.node_addr(0)).unwrap();
    let elsewhere = OpenBaoProxy::start(&cluster.node_addr(0)).unwrap();
    let port = elsewhere.addr().rsplit(':').next().unwrap().to_string();
    let named = format!("http://localhost:{port}");
    entry.name_leader_as(Some(&named));

    let mut backup = ExecutorEnv::new(&entry.addr(), &store);
    backup.with_token(&token_for(&cluster, BACKUP_POLICY_NAME, BACKUP_POLICY).await);
    let refused = backup.run(&["backup"]).await;
    refused.assert_failed_at("leader", 4);
    assert_eq!(refused.reason(), "LeaderAddressForbidden");
    assert!(
        refused.report_text.contains("spec.leaderHosts"),
        "the message says how to admit the host: {}",
        refused.report_text
    );
    assert_eq!(
        elsewhere.requests(),
        vec![],
        "nothing, the token least of all, went to the outside host"
    );
    assert!(
        entry.requests().iter().all(|r| r.path == "/v1/sys/leader"),
        "only the leader lookup reached the entry node: {:?}",
        entry.requests()
    );

    backup.set(
        "EXECUTOR_OPENBAO_LEADER_HOSTS",
        "openbao-0.example, localhost",
    );
    backup.run(&["backup"]).await.assert_success();
    assert!(
        elsewhere.count(&Method::GET, SNAPSHOT_PATH) == 1,
        "the listed host served the snapshot: {:?}",
        elsewhere.requests()
    );
}

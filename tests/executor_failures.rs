//! Each failing stage exits with its own code and a report naming stage and reason; another cluster's snapshot
//! needs force, and a forced restore of it ends sealed and says which keys unseal it.

mod executor_support;

use executor_support::{ExecutorEnv, jwt_auth, mint_jwt};
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, JwtAuthSetup, OpenBaoCluster, OpenBaoOptions,
    RESTORE_POLICY, RESTORE_POLICY_NAME, StoreProvider, TestStore,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_variable_and_exit_2() {
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let mut env = ExecutorEnv::new("http://127.0.0.1:9", &store);
    env.with_token("s.config-test-token")
        .unset("EXECUTOR_CLUSTER");
    let outcome = env.run(&["backup"]).await;
    outcome.assert_failed_at("config", 2);
    assert_eq!(outcome.reason(), "ConfigMissing");
    assert!(
        outcome.report["message"]
            .as_str()
            .unwrap()
            .contains("EXECUTOR_CLUSTER"),
        "{}",
        outcome.report_text
    );

    env.set("EXECUTOR_CLUSTER", "main")
        .set("EXECUTOR_PART_SIZE", "1Mi");
    let outcome = env.run(&["backup"]).await;
    outcome.assert_failed_at("config", 2);
    assert!(
        outcome.report["message"]
            .as_str()
            .unwrap()
            .contains("EXECUTOR_PART_SIZE")
    );

    env.set("EXECUTOR_PART_SIZE", "5Mi");
    let outcome = env.run(&["restore"]).await;
    outcome.assert_failed_at("config", 2);
    assert!(
        outcome.report["message"]
            .as_str()
            .unwrap()
            .contains("EXECUTOR_KEY")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_fails_at_the_leader_stage() {
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut env = ExecutorEnv::new(&addr, &store);
    env.with_token("s.leader-test-token");
    let outcome = env.run(&["backup"]).await;
    outcome.assert_failed_at("leader", 4);
    assert_eq!(outcome.reason(), "OpenBaoUnreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_fail_at_the_auth_stage_and_the_snapshot_needs_its_policy() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    let (signer, setup) = jwt_auth(&cluster).await;
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let mut env = ExecutorEnv::new(&cluster.node_addr(0), &store);

    let wrong_audience = signer.mint(
        &setup.backup_subject,
        "someone-else",
        std::time::Duration::from_secs(600),
    );
    env.with_jwt(&wrong_audience, JwtAuthSetup::BACKUP_ROLE);
    let outcome = env.run(&["backup"]).await;
    outcome.assert_failed_at("auth", 3);
    assert_eq!(outcome.reason(), "LoginRejected");

    // The restore role may not read snapshots: the backup fails at the snapshot stage.
    env.with_jwt(
        &mint_jwt(&signer, &setup, JwtAuthSetup::RESTORE_ROLE),
        JwtAuthSetup::RESTORE_ROLE,
    );
    let outcome = env.run(&["backup"]).await;
    outcome.assert_failed_at("snapshot", 5);
    assert_eq!(outcome.reason(), "OpenBaoPermissionDenied");
    assert_eq!(
        executor_support::keys(&store.object_store().unwrap()).await,
        Vec::<String>::new()
    );

    // The real root token in a token file is refused at run time, whatever its Secret is called; a scoped
    // token without the default policy (it cannot look itself up) is not root and works.
    env.with_token(cluster.root_token());
    let outcome = env.run(&["backup"]).await;
    outcome.assert_failed_at("auth", 3);
    assert_eq!(outcome.reason(), "RootTokenRefused");
    assert_eq!(
        executor_support::keys(&store.object_store().unwrap()).await,
        Vec::<String>::new()
    );
    let without_default = cluster
        .call(
            reqwest::Method::POST,
            "auth/token/create",
            Some(cluster.root_token()),
            Some(
                &json!({"policies": [BACKUP_POLICY_NAME], "no_default_policy": true, "ttl": "10m"}),
            ),
        )
        .await
        .unwrap();
    let token = without_default.json()["auth"]["client_token"]
        .as_str()
        .expect("a token")
        .to_string();
    env.with_token(&token);
    let key = env.run(&["backup"]).await.assert_success().key();

    // A restore (here a dry run of that snapshot) refuses the root token too.
    env.with_token(cluster.root_token());
    env.set("EXECUTOR_KEY", &key);
    let outcome = env.run(&["restore", "--dry-run"]).await;
    outcome.assert_failed_at("auth", 3);
    assert_eq!(outcome.reason(), "RootTokenRefused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clusters_snapshot_needs_force_and_leaves_the_cluster_sealed() {
    let (source, target) = tokio::join!(
        OpenBaoCluster::start(1, OpenBaoOptions::default()),
        OpenBaoCluster::start(1, OpenBaoOptions::default())
    );
    let (source, target) = (
        source.expect("source cluster"),
        target.expect("target cluster"),
    );
    source
        .write_secret("origin", &json!({"from": "source"}))
        .await
        .unwrap();
    source
        .write_policy(BACKUP_POLICY_NAME, BACKUP_POLICY)
        .await
        .unwrap();
    target
        .write_policy(RESTORE_POLICY_NAME, RESTORE_POLICY)
        .await
        .unwrap();
    let store = TestStore::start(StoreProvider::S3).await.unwrap();

    let mut backup = ExecutorEnv::new(&source.node_addr(0), &store);
    backup.with_token(&source.create_token(&[BACKUP_POLICY_NAME]).await.unwrap());
    let key = backup.run(&["backup"]).await.assert_success().key();

    let mut restore = ExecutorEnv::new(&target.node_addr(0), &store);
    restore
        .with_token(&target.create_token(&[RESTORE_POLICY_NAME]).await.unwrap())
        .set("EXECUTOR_KEY", &key)
        .set("EXECUTOR_RESTORE_HEALTH_TIMEOUT", "2m");
    // The executor compares the cluster ids itself and refuses before any destructive call.
    let refused = restore.run(&["restore"]).await;
    refused.assert_failed_at("verify", 7);
    assert_eq!(refused.reason(), "SnapshotFromAnotherCluster");
    assert_eq!(target.read_secret("origin").await.unwrap(), None);

    // A manifest without a cluster id is no ground to refuse (it is logged); OpenBao's seal check on the POST
    // then refuses the snapshot, with the same reason.
    let objects = store.object_store().unwrap();
    let manifest_key = format!("{key}.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&executor_support::read(&objects, &manifest_key).await).unwrap();
    manifest["clusterId"] = json!("");
    executor_support::write(
        &objects,
        &manifest_key,
        serde_json::to_vec(&manifest).unwrap(),
    )
    .await;
    let refused = restore.run(&["restore"]).await;
    refused.assert_failed_at("snapshot", 5);
    assert_eq!(refused.reason(), "SnapshotFromAnotherCluster");
    assert!(
        refused
            .stderr
            .contains("cannot tell whether the snapshot comes from this cluster"),
        "{}",
        refused.stderr
    );
    assert_eq!(target.read_secret("origin").await.unwrap(), None);

    let forced = restore.run(&["restore", "--force"]).await;
    forced.assert_success();
    assert_eq!(
        forced.report["outcome"], "succeededSealed",
        "{}",
        forced.report_text
    );
    assert!(
        forced.report["message"]
            .as_str()
            .unwrap()
            .contains("unseal keys")
    );
    target
        .unseal_with_key(0, source.unseal_key())
        .await
        .unwrap();
    target.wait_healthy().await.unwrap();
    let root = source.root_token().to_owned();
    let answer = target
        .call(
            reqwest::Method::GET,
            "secret/data/origin",
            Some(&root),
            None,
        )
        .await
        .unwrap();
    assert_eq!(answer.json()["data"]["data"], json!({"from": "source"}));
}

#[test]
fn the_token_scan_recognises_openbao_tokens() {
    use executor_support::find_openbao_token;
    assert_eq!(
        find_openbao_token("token s.df19zUEHjVaDJ6nYXrV8Btww here"),
        Some("s.df19zUEHjVaDJ6nYXrV8Btww")
    );
    assert_eq!(
        find_openbao_token("\"b.AAAAAAAAAAAAAAAAAAAAAAAA\""),
        Some("b.AAAAAAAAAAAAAAAAAAAAAAAA")
    );
    // Longer tokens and recovery tokens are tokens too.
    assert_eq!(
        find_openbao_token("x=r.df19zUEHjVaDJ6nYXrV8BtwwXYZ;"),
        Some("r.df19zUEHjVaDJ6nYXrV8BtwwXYZ")
    );
    assert_eq!(find_openbao_token("digest sha256:0123 s.short"), None);
    assert_eq!(find_openbao_token("ns.df19zUEHjVaDJ6nYXrV8Btww"), None);
}

//! Round trips through the real executor binary: write secrets, back up, delete them, restore, they are back.
//! 1- and 3-node raft clusters, S3, GCS and Azure stores, JWT and token-file auth.

mod executor_support;

use executor_support::{
    ExecutorEnv, cluster_prefix, find_openbao_token, jwt_auth, keys, mint_jwt, read,
};
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, JwtAuthSetup, OpenBaoCluster, OpenBaoOptions, OpenBaoProxy,
    RESTORE_POLICY, RESTORE_POLICY_NAME, StoreProvider, TestStore,
};
use reqwest::Method;
use serde_json::json;

enum Auth {
    Jwt,
    TokenFile,
}

/// One full cycle on `cluster` with `provider`; returns nothing, asserts everything.
async fn round_trip(cluster: &OpenBaoCluster, provider: StoreProvider, auth: Auth) {
    let _azurite_turn = executor_support::azurite_turn(provider).await;
    let store = TestStore::start(provider).await.expect("store started");
    let objects = store.object_store().expect("assertion client");
    let entry = cluster.node_addr(0);
    let secret_path = format!("roundtrip/{provider:?}");
    cluster
        .write_secret(&secret_path, &json!({"password": "correct horse"}))
        .await
        .unwrap();

    let mut backup = ExecutorEnv::new(&entry, &store);
    backup.set("EXECUTOR_KIND", "scheduled");
    let mut restore = ExecutorEnv::new(&entry, &store);
    match auth {
        Auth::Jwt => {
            let (signer, setup) = jwt_auth(cluster).await;
            backup.with_jwt(
                &mint_jwt(&signer, &setup, JwtAuthSetup::BACKUP_ROLE),
                JwtAuthSetup::BACKUP_ROLE,
            );
            restore.with_jwt(
                &mint_jwt(&signer, &setup, JwtAuthSetup::RESTORE_ROLE),
                JwtAuthSetup::RESTORE_ROLE,
            );
        }
        Auth::TokenFile => {
            cluster
                .write_policy(BACKUP_POLICY_NAME, BACKUP_POLICY)
                .await
                .unwrap();
            cluster
                .write_policy(RESTORE_POLICY_NAME, RESTORE_POLICY)
                .await
                .unwrap();
            let backup_token = cluster.create_token(&[BACKUP_POLICY_NAME]).await.unwrap();
            // The leak scan looks for the token shape (the executor's login token is never seen by the test):
            // prove that a token this OpenBao issues has that shape.
            assert_eq!(
                find_openbao_token(&format!("leaked: {backup_token}.")),
                Some(backup_token.as_str()),
                "OpenBao's token shape changed; update find_openbao_token"
            );
            backup.with_token(&backup_token);
            restore.with_token(&cluster.create_token(&[RESTORE_POLICY_NAME]).await.unwrap());
        }
    }
    backup.add_secret(cluster.root_token());

    let outcome = backup.run(&["backup"]).await;
    outcome.assert_success();
    let key = outcome.key();
    assert!(key.starts_with(&cluster_prefix()), "{key}");
    assert!(key.contains("-scheduled-"), "{key}");
    assert_eq!(
        keys(&objects).await,
        vec![key.clone(), format!("{key}.json")],
        "{provider:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&objects, &format!("{key}.json")).await).unwrap();
    let stored = read(&objects, &key).await;
    assert_eq!(manifest["size"], stored.len());
    assert_eq!(outcome.report["size"], stored.len());
    assert_eq!(manifest["digest"], outcome.report["digest"]);
    assert_eq!(manifest["kind"], "scheduled");
    assert_eq!(manifest["version"], "2.7.2");
    let health = cluster.health(0).await.unwrap();
    assert_eq!(manifest["clusterId"].as_str(), health.cluster_id.as_deref());
    assert!(manifest["raftIndex"].as_u64().unwrap() > 0);

    cluster.delete_secret(&secret_path).await.unwrap();
    assert_eq!(cluster.read_secret(&secret_path).await.unwrap(), None);

    // A dry run changes nothing and sends no restore call. The proxy names itself as the leader, so every call
    // the executor makes after the leader lookup goes through it and is recorded.
    let proxy = OpenBaoProxy::start(&entry).unwrap();
    proxy.present_as_leader(true);
    restore
        .set("EXECUTOR_OPENBAO_ADDR", &proxy.addr())
        .set("EXECUTOR_KEY", "latest");
    let dry = restore.run(&["restore", "--dry-run"]).await;
    dry.assert_success();
    assert_eq!(dry.report["outcome"], "dryRun", "{}", dry.report_text);
    assert_eq!(dry.key(), key);
    // What the restore manager copies into status.snapshot, straight from the manifest.
    for field in ["digest", "size", "clusterId", "version"] {
        assert_eq!(
            dry.report[field], manifest[field],
            "{field}: {}",
            dry.report_text
        );
    }
    assert_eq!(
        dry.report["created"], outcome.report["created"],
        "{}",
        dry.report_text
    );
    assert!(
        proxy.count(&Method::GET, "/v1/sys/health") >= 1,
        "the dry run checked the leader's health through the proxy: {:?}",
        proxy.requests()
    );
    assert!(proxy.restore_calls().is_empty(), "{:?}", proxy.requests());
    assert_eq!(cluster.read_secret(&secret_path).await.unwrap(), None);

    restore.set("EXECUTOR_KEY", &key);
    let restored = restore.run(&["restore"]).await;
    restored.assert_success();
    assert_eq!(
        proxy.restore_calls().len(),
        1,
        "the same recording sees a real restore: {:?}",
        proxy.requests()
    );
    assert_eq!(
        restored.report["outcome"], "succeeded",
        "{}",
        restored.report_text
    );
    cluster.wait_healthy().await.unwrap();
    assert_eq!(
        cluster.read_secret(&secret_path).await.unwrap(),
        Some(json!({"password": "correct horse"})),
        "{provider:?}: secret is back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_round_trip_with_both_auth_methods_on_every_store() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    for provider in StoreProvider::ALL {
        for auth in [Auth::Jwt, Auth::TokenFile] {
            round_trip(&cluster, provider, auth).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_round_trip_with_both_auth_methods_on_every_store() {
    let cluster = OpenBaoCluster::start(3, OpenBaoOptions::default())
        .await
        .expect("cluster");
    for provider in StoreProvider::ALL {
        for auth in [Auth::TokenFile, Auth::Jwt] {
            round_trip(&cluster, provider, auth).await;
        }
    }
}

//! A real one-node OpenBao raft cluster: start-up, secrets, snapshots, step-down, seal/unseal, restart.

use std::io::Read;
use std::time::Instant;

use openbao_test_harness::{OpenBaoCluster, OpenBaoOptions};
use serde_json::json;

#[tokio::test]
async fn one_node_cluster_serves_secrets_and_gzip_tar_snapshots() {
    let started = Instant::now();
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("start a 1-node cluster");
    eprintln!("1-node cluster ready in {:?}", started.elapsed());

    assert_eq!(cluster.node_count(), 1);
    assert_eq!(cluster.leader_index().await.unwrap(), 0);
    assert_eq!(cluster.leader_addr().await.unwrap(), cluster.node_addr(0));
    let health = cluster.health(0).await.unwrap();
    assert!(health.is_active(), "{health:?}");
    assert!(health.cluster_id.is_some_and(|id| !id.is_empty()));

    cluster
        .write_secret("app/db", &json!({ "password": "hunter2" }))
        .await
        .unwrap();
    let read = cluster.read_secret("app/db").await.unwrap();
    assert_eq!(read, Some(json!({ "password": "hunter2" })));
    cluster.delete_secret("app/db").await.unwrap();
    assert_eq!(cluster.read_secret("app/db").await.unwrap(), None);

    cluster.write_secrets("bulk", 50, 1024).await.unwrap();
    let snapshot = cluster.snapshot().await.unwrap();
    assert_eq!(&snapshot[..2], &[0x1f, 0x8b], "a snapshot is gzip");
    let members = tar_members(&snapshot);
    for expected in ["meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed"] {
        assert!(
            members.iter().any(|name| name == expected),
            "missing {expected} in {members:?}"
        );
    }
}

#[tokio::test]
async fn one_node_cluster_steps_down_seals_unseals_and_restarts() {
    let mut cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .unwrap();
    cluster
        .write_secret("kept", &json!({ "v": 1 }))
        .await
        .unwrap();

    assert_eq!(
        cluster.step_down().await.unwrap(),
        0,
        "a single node is re-elected"
    );

    cluster.seal(0).await.unwrap();
    let health = cluster.health(0).await.unwrap();
    assert!(health.sealed, "{health:?}");
    cluster.unseal(0).await.unwrap();
    cluster.wait_healthy().await.unwrap();

    cluster.stop_node(0);
    assert!(!cluster.is_running(0));
    assert!(
        cluster.health(0).await.is_err(),
        "a stopped node refuses connections"
    );
    cluster.restart_node(0).await.unwrap();
    assert!(cluster.is_running(0));
    assert_eq!(
        cluster.read_secret("kept").await.unwrap(),
        Some(json!({ "v": 1 })),
        "data survives a restart"
    );
}

fn tar_members(snapshot: &[u8]) -> Vec<String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(snapshot)
        .read_to_end(&mut tar)
        .expect("gunzip the snapshot");
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(tar.as_slice());
    for entry in archive.entries().expect("read the tar") {
        let entry = entry.expect("a tar member");
        names.push(entry.path().unwrap().to_string_lossy().into_owned());
    }
    names
}

#[tokio::test]
async fn dropping_the_cluster_kills_its_servers_and_removes_its_files() {
    let cluster = OpenBaoCluster::start(
        1,
        OpenBaoOptions {
            enable_kv: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let addr = cluster
        .node_addr(0)
        .trim_start_matches("http://")
        .to_string();
    let dir = cluster.dir().to_path_buf();
    assert!(cluster.log_path(0).is_file());
    drop(cluster);
    let refused = std::net::TcpStream::connect(&addr).expect_err("the node must be gone");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(!dir.exists(), "the temp dir of a passing test is removed");
}

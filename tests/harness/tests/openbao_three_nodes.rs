//! A real three-node OpenBao raft cluster: joins, leadership changes, sealing a standby, node restarts.

use std::time::Instant;

use openbao_test_harness::{OpenBaoCluster, OpenBaoOptions};
use serde_json::json;

#[tokio::test]
async fn three_node_cluster_replicates_steps_down_and_survives_node_restarts() {
    let started = Instant::now();
    let mut cluster = OpenBaoCluster::start(3, OpenBaoOptions::default())
        .await
        .expect("start a 3-node cluster");
    eprintln!("3-node cluster ready in {:?}", started.elapsed());

    assert_eq!(cluster.node_count(), 3);
    let mut standbys = 0;
    for index in 0..3 {
        let health = cluster.health(index).await.unwrap();
        assert!(health.is_unsealed(), "node {index}: {health:?}");
        standbys += usize::from(health.standby);
    }
    assert_eq!(standbys, 2, "one active node and two standbys");

    cluster
        .write_secret("replicated", &json!({ "v": "before" }))
        .await
        .unwrap();
    let snapshot = cluster.snapshot().await.unwrap();
    assert_eq!(
        &snapshot[..2],
        &[0x1f, 0x8b],
        "the leader's snapshot is gzip"
    );

    let old_leader = cluster.leader_index().await.unwrap();
    let started = Instant::now();
    let new_leader = cluster.step_down().await.unwrap();
    eprintln!(
        "leadership moved from node {old_leader} to node {new_leader} in {:?}",
        started.elapsed()
    );
    assert_ne!(new_leader, old_leader);
    assert_eq!(
        cluster.leader_addr().await.unwrap(),
        cluster.node_addr(new_leader)
    );
    cluster.wait_healthy().await.unwrap();
    assert_eq!(
        cluster.read_secret("replicated").await.unwrap(),
        Some(json!({ "v": "before" }))
    );

    let standby = (0..3).find(|&index| index != new_leader).unwrap();
    cluster.seal(standby).await.unwrap();
    assert!(cluster.health(standby).await.unwrap().sealed);
    cluster.unseal(standby).await.unwrap();
    cluster.wait_healthy().await.unwrap();

    cluster.stop_node(new_leader);
    assert!(!cluster.is_running(new_leader));
    let survivor_leader = cluster.leader_index().await.unwrap();
    assert_ne!(
        survivor_leader, new_leader,
        "the two remaining nodes elect a leader"
    );
    cluster
        .write_secret("replicated", &json!({ "v": "after" }))
        .await
        .unwrap();

    cluster.restart_node(new_leader).await.unwrap();
    assert!(cluster.is_running(new_leader));
    cluster.wait_healthy().await.unwrap();
    assert_eq!(
        cluster.read_secret("replicated").await.unwrap(),
        Some(json!({ "v": "after" }))
    );
}

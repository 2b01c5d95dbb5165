//! The facts an upgrade guard builds on, on real processes: a 3-node raft cluster of OpenBao 2.6.2 with a static
//! seal, its nodes replaced one at a time (standbys first, the active node last) by 2.7.2 on the same data,
//! unseals itself after every replacement, reports the new version and keeps its data.

use openbao_test_harness::{OpenBaoCluster, OpenBaoOptions, Release};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_seal_cluster_rolls_from_2_6_2_to_2_7_2_one_node_at_a_time() {
    let mut cluster = OpenBaoCluster::start(
        3,
        OpenBaoOptions {
            release: Release::V2_6_2,
            static_seal: true,
            ..OpenBaoOptions::default()
        },
    )
    .await
    .expect("a 2.6.2 cluster starts (scripts/install-test-tools.sh installs 2.6.2)");
    for index in 0..3 {
        let health = cluster.health(index).await.unwrap();
        assert_eq!(health.version.as_deref(), Some("2.6.2"), "node {index}");
        assert!(health.is_unsealed(), "node {index} unsealed itself");
    }
    cluster
        .write_secret("kept", &json!({ "v": "written on 2.6.2" }))
        .await
        .unwrap();

    let active = cluster.leader_index().await.unwrap();
    let order: Vec<usize> = (0..3)
        .rev()
        .filter(|index| *index != active)
        .chain([active])
        .collect();
    for index in order {
        cluster
            .restart_node_on(index, Release::Current)
            .await
            .unwrap_or_else(|error| panic!("node {index} back on 2.7.2: {error}"));
        let health = cluster.health(index).await.unwrap();
        assert_eq!(health.version.as_deref(), Some("2.7.2"), "node {index}");
        assert!(health.is_unsealed(), "node {index} unsealed itself");
    }
    let data = cluster
        .read_secret("kept")
        .await
        .unwrap()
        .expect("the secret");
    assert_eq!(data["v"], "written on 2.6.2");
    for index in 0..3 {
        assert_eq!(
            cluster.health(index).await.unwrap().version.as_deref(),
            Some("2.7.2")
        );
    }
}

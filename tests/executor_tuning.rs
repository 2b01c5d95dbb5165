//! The upload tuning knobs are real: `EXECUTOR_PART_SIZE` decides how many parts the store receives and
//! `EXECUTOR_UPLOAD_CONCURRENCY` how many it serves at once (the store holds each part for a while, like a slow
//! link, so a concurrent uploader shows). Against a real OpenBao node and the harness's S3 server.

mod executor_support;

use std::time::Duration;

use executor_support::{ExecutorEnv, write_incompressible_secrets};
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, OpenBaoCluster, OpenBaoOptions, S3Options, S3Server,
    TestStore, UploadStats,
};

const MIB: u64 = 1024 * 1024;

struct Run {
    snapshot_bytes: u64,
    stats: UploadStats,
}

async fn backup_with(
    cluster: &OpenBaoCluster,
    token: &str,
    part_size: &str,
    concurrency: &str,
) -> Run {
    let store = TestStore::S3(
        S3Server::start(S3Options {
            part_delay: Some(Duration::from_millis(800)),
            ..S3Options::default()
        })
        .expect("S3 server"),
    );
    let mut env = ExecutorEnv::new(&cluster.node_addr(0), &store);
    env.with_token(token)
        .set("EXECUTOR_PART_SIZE", part_size)
        .set("EXECUTOR_UPLOAD_CONCURRENCY", concurrency);
    let outcome = env.run(&["backup"]).await;
    outcome.assert_success();
    let snapshot_bytes = outcome.report["size"]
        .as_u64()
        .unwrap_or_else(|| panic!("report has size: {}", outcome.report_text));
    let TestStore::S3(server) = &store else {
        unreachable!()
    };
    Run {
        snapshot_bytes,
        stats: server.upload_stats(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_size_and_concurrency_reach_the_store() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("OpenBao");
    // ~24 MiB of values OpenBao stores encrypted: a snapshot of about that size whatever gzip does.
    write_incompressible_secrets(&cluster, "tuning", 48, 512 * 1024).await;
    cluster
        .write_policy(BACKUP_POLICY_NAME, BACKUP_POLICY)
        .await
        .unwrap();
    let token = cluster.create_token(&[BACKUP_POLICY_NAME]).await.unwrap();

    let serial = backup_with(&cluster, &token, "5Mi", "1").await;
    assert!(
        serial.snapshot_bytes > 20 * MIB,
        "the snapshot should be ~24 MiB, got {} bytes",
        serial.snapshot_bytes
    );
    assert_eq!(
        serial.stats.parts_received,
        serial.snapshot_bytes.div_ceil(5 * MIB),
        "5 MiB parts"
    );
    assert_eq!(serial.stats.max_parts_in_flight, 1, "concurrency 1");

    let parallel = backup_with(&cluster, &token, "6Mi", "3").await;
    assert_eq!(
        parallel.stats.parts_received,
        parallel.snapshot_bytes.div_ceil(6 * MIB),
        "6 MiB parts"
    );
    assert!(
        (2..=3).contains(&parallel.stats.max_parts_in_flight),
        "concurrency 3 with a slow store should keep 2-3 parts in flight, saw {:?}",
        parallel.stats
    );
}

//! The executor against a faulty S3 store (the harness's fault layer) and a real OpenBao: 5xx bursts within the
//! retry budget are absorbed; beyond it, a 403 mid-upload, a stalled store or a store that dies mid-upload fail
//! the backup at the storage stage (exit 6, a named reason) with nothing left in the bucket, no unfinished
//! multipart upload, retention not run and every older recovery point still there.
//! (GCS, Azure and the two cleanup paths: `executor_store_cleanup.rs`.)

mod executor_support;
mod store_faults_support;

use std::time::Duration;

use openbao_test_harness::{Fault, FaultRule, StoreOp, StoreProvider};
use store_faults_support::{
    FaultyStore, PRUNE_ALL_OLDER, aftermath, cluster_with_data, reliability_row,
    seed_recovery_points,
};

/// Each case: the operation faulted and how many of its requests pass first.
const OPS: [(StoreOp, u64); 5] = [
    (StoreOp::CreateMultipartUpload, 0),
    (StoreOp::UploadPart, 1),
    (StoreOp::CompleteMultipartUpload, 0),
    (StoreOp::HeadObject, 0),
    (StoreOp::PutObject, 0),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_503_within_the_retry_budget_are_absorbed() {
    let (cluster, token) = cluster_with_data().await;
    let store = FaultyStore::start(StoreProvider::S3).await;
    let mut env = store.env(&cluster.node_addr(0));
    // EXECUTOR_STORE_MAX_RETRIES is 2: two 503s in a row, the third attempt passes.
    env.with_token(&token);
    let mut violations = Vec::new();
    for (op, skip) in OPS {
        let before = store.list_keys().await;
        store.faults().inject(
            FaultRule::on(op)
                .after(skip)
                .times(2)
                .fault(Fault::Status(503)),
        );
        let received_before = store.faults().received(op);
        let outcome = env.run(&["backup"]).await;
        let injected_left = store.faults().counts();
        store.faults().clear();
        if outcome.code != 0 {
            violations.push(format!(
                "{op:?}: the backup failed: {}",
                outcome.report_text
            ));
            continue;
        }
        let key = outcome.key();
        let mut expected = before.clone();
        expected.extend([key.clone(), format!("{key}.json")]);
        expected.sort();
        let after = store.list_keys().await;
        if after != expected {
            violations.push(format!("{op:?}: bucket {after:?}, expected {expected:?}"));
        }
        let pending = store.pending_uploads().await;
        if !pending.is_empty() {
            violations.push(format!("{op:?}: unfinished uploads {pending:?}"));
        }
        // Counted where it happened: the store answered two 503s and then served the retry.
        let received = store.faults().received(op) - received_before;
        if received < skip + 3 {
            violations.push(format!(
                "{op:?}: the store received {received} requests ({injected_left})"
            ));
        }
    }
    reliability_row("5xx burst within retry budget", OPS.len(), violations.len());
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(store.faults().injected(StoreOp::Any), 2 * OPS.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_503_beyond_the_retry_budget_fails_at_storage_and_leaves_nothing() {
    let (cluster, token) = cluster_with_data().await;
    let store = FaultyStore::start(StoreProvider::S3).await;
    let seeded = seed_recovery_points(&store.objects(), 3).await;
    let mut env = store.env(&cluster.node_addr(0));
    env.with_token(&token)
        .set("EXECUTOR_RETENTION", PRUNE_ALL_OLDER);
    let mut violations = Vec::new();
    for (op, skip) in OPS {
        let before = store.list_keys().await;
        if before.len() != 2 * seeded.len() {
            violations.push(format!("{op:?}: an earlier case left {before:?}"));
        }
        store.faults().inject(
            FaultRule::on(op)
                .after(skip)
                .times(u64::MAX)
                .fault(Fault::Status(503)),
        );
        let deletes_before = store.faults().received(StoreOp::DeleteObject);
        let outcome = env.run(&["backup"]).await;
        store.faults().clear();
        let seen = aftermath(&store, &before, &outcome, "StorageRequestFailed").await;
        if seen.violations() > 0 {
            violations.push(format!("{op:?}: {seen:?}"));
        }
        // After the upload completed, the cleanup removes the snapshot object itself.
        let cleanup_deletes = store.faults().received(StoreOp::DeleteObject) - deletes_before;
        if matches!(op, StoreOp::HeadObject | StoreOp::PutObject) && cleanup_deletes == 0 {
            violations.push(format!("{op:?}: no DeleteObject reached the store"));
        }
    }
    reliability_row("5xx beyond retry budget", OPS.len(), violations.len());
    assert!(violations.is_empty(), "{violations:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_mid_upload_fails_at_storage_and_aborts_the_upload() {
    let (cluster, token) = cluster_with_data().await;
    let store = FaultyStore::start(StoreProvider::S3).await;
    seed_recovery_points(&store.objects(), 3).await;
    let before = store.list_keys().await;
    let mut env = store.env(&cluster.node_addr(0));
    // One part in flight: the refused part stops the stream, and the executor aborts the upload itself.
    env.with_token(&token)
        .set("EXECUTOR_RETENTION", PRUNE_ALL_OLDER)
        .set("EXECUTOR_UPLOAD_CONCURRENCY", "1");
    store.faults().inject(
        FaultRule::on(StoreOp::UploadPart)
            .after(1)
            .times(u64::MAX)
            .fault(Fault::Forbidden),
    );
    let puts_before = store.faults().received(StoreOp::PutObject);
    let outcome = env.run(&["backup"]).await;
    store.faults().clear();
    let seen = aftermath(&store, &before, &outcome, "StoragePermissionDenied").await;
    assert_eq!(seen.violations(), 0, "{seen:#?}");
    let faults = store.faults();
    assert!(
        faults.injected(StoreOp::UploadPart) >= 1,
        "{}",
        faults.counts()
    );
    // A 403 is final: no retry of the refused part, and the abort reached the store.
    assert!(
        faults.received(StoreOp::AbortMultipartUpload) >= 1,
        "{}",
        faults.counts()
    );
    assert_eq!(faults.received(StoreOp::CompleteMultipartUpload), 0);
    assert_eq!(
        faults.received(StoreOp::PutObject),
        puts_before,
        "no manifest written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_times_out_at_storage_and_aborts_the_upload() {
    let (cluster, token) = cluster_with_data().await;
    let store = FaultyStore::start(StoreProvider::S3).await;
    seed_recovery_points(&store.objects(), 3).await;
    let before = store.list_keys().await;
    let mut env = store.env(&cluster.node_addr(0));
    env.with_token(&token)
        .set("EXECUTOR_RETENTION", PRUNE_ALL_OLDER);
    // Held past the client's 30 s request timeout; the retry timeout (10 s) is then spent.
    store.faults().inject(
        FaultRule::on(StoreOp::UploadPart)
            .after(1)
            .times(u64::MAX)
            .fault(Fault::Stall(Duration::from_secs(45))),
    );
    let started = std::time::Instant::now();
    let outcome = env.run(&["backup"]).await;
    let took = started.elapsed();
    store.faults().clear();
    let seen = aftermath(&store, &before, &outcome, "StorageRequestFailed").await;
    assert_eq!(seen.violations(), 0, "{seen:#?}");
    assert!(
        outcome.report["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{}",
        outcome.report_text
    );
    assert!(took < Duration::from_secs(120), "took {took:?}");
    assert!(store.faults().received(StoreOp::AbortMultipartUpload) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_dies_mid_upload_fails_at_storage_and_loses_nothing() {
    let (cluster, token) = cluster_with_data().await;
    let store = FaultyStore::start(StoreProvider::S3).await;
    let seeded = seed_recovery_points(&store.objects(), 3).await;
    let before = store.list_keys().await;
    let mut env = store.env(&cluster.node_addr(0));
    env.with_token(&token)
        .set("EXECUTOR_RETENTION", PRUNE_ALL_OLDER);
    let faults = store.faults();
    let mut violations = Vec::new();

    // 1. It dies after the first part and comes back as soon as the executor starts cleaning up (a restart):
    //    the abort, retried, gets through.
    faults.inject(
        FaultRule::on(StoreOp::UploadPart)
            .after(1)
            .fault(Fault::Die),
    );
    let revive_on_abort = async {
        while faults.received(StoreOp::AbortMultipartUpload) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        faults.revive();
    };
    let (outcome, ()) = tokio::join!(env.run(&["backup"]), revive_on_abort);
    faults.clear();
    let seen = aftermath(&store, &before, &outcome, "StorageRequestFailed").await;
    if seen.violations() > 0 {
        violations.push(format!("back for the cleanup: {seen:?}"));
    }

    // 2. It stays dead: the backup fails the same way and nothing is stored or pruned. The abort cannot reach a
    //    dead store, so exactly this run's multipart upload stays unfinished (invisible to listings, never a
    //    recovery point; a store's incomplete-upload lifecycle rule removes it).
    let pending_before = store.pending_uploads().await;
    faults.inject(
        FaultRule::on(StoreOp::UploadPart)
            .after(1)
            .fault(Fault::Die),
    );
    let aborts_before = faults.received(StoreOp::AbortMultipartUpload);
    let outcome = env.run(&["backup"]).await;
    assert!(faults.is_dead());
    let mut seen = aftermath(&store, &before, &outcome, "StorageRequestFailed").await;
    let unfinished = seen.pending_uploads.len() - pending_before.len();
    seen.pending_uploads.clear();
    if seen.violations() > 0 || unfinished != 1 {
        violations.push(format!("stays dead: {seen:?}, {unfinished} new uploads"));
    }
    if faults.received(StoreOp::AbortMultipartUpload) == aborts_before {
        violations.push("stays dead: no abort was attempted".into());
    }
    faults.revive();
    faults.clear();
    for key in &seeded {
        assert!(store.list_keys().await.contains(key), "{key} was lost");
    }
    reliability_row("store dies mid-upload", 2, violations.len());
    assert!(violations.is_empty(), "{violations:#?}");
}

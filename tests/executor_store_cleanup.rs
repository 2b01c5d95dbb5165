//! The executor's two cleanup paths against live S3, GCS and Azure emulators, driven by store faults: the
//! snapshot object is removed when the manifest cannot be written, and the multipart upload is aborted when an
//! upload fails mid-way. Each is also a failing backup on every provider: exit 6, a named reason, nothing left,
//! retention not run, no recovery point lost.

mod executor_support;
mod store_faults_support;

use openbao_test_harness::{Fault, FaultRule, StoreOp, StoreProvider};
use store_faults_support::{
    FaultyStore, PRUNE_ALL_OLDER, aftermath, cluster_with_data, reliability_row,
    seed_recovery_points,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_manifest_write_removes_the_snapshot_object_on_every_provider() {
    let (cluster, token) = cluster_with_data().await;
    let mut violations = Vec::new();
    for provider in StoreProvider::ALL {
        let _azurite_turn = executor_support::azurite_turn(provider).await;
        let store = FaultyStore::start(provider).await;
        seed_recovery_points(&store.objects(), 3).await;
        let before = store.list_keys().await;
        let mut env = store.env(&cluster.node_addr(0));
        env.with_token(&token)
            .set("EXECUTOR_RETENTION", PRUNE_ALL_OLDER);
        // The snapshot goes up as a multipart upload; the only single PUT is the manifest.
        store.faults().inject(
            FaultRule::on(StoreOp::PutObject)
                .times(u64::MAX)
                .fault(Fault::Forbidden),
        );
        let outcome = env.run(&["backup"]).await;
        store.faults().clear();
        let faults = store.faults();
        let seen = aftermath(&store, &before, &outcome, "StoragePermissionDenied").await;
        if seen.violations() > 0 {
            violations.push(format!("{provider:?}: {seen:?}"));
        }
        // The snapshot object existed (its upload completed, its size was read back) and was deleted.
        let completed = faults.received(StoreOp::CompleteMultipartUpload) >= 1
            && faults.injected(StoreOp::CompleteMultipartUpload) == 0
            && faults.received(StoreOp::HeadObject) >= 1;
        if !completed {
            violations.push(format!(
                "{provider:?}: the snapshot was never stored: {}",
                faults.counts()
            ));
        }
        if faults.received(StoreOp::DeleteObject) == 0 {
            violations.push(format!(
                "{provider:?}: no delete reached the store: {}",
                faults.counts()
            ));
        }
        let key = outcome.report["key"].as_str().unwrap_or_default();
        if key.is_empty() || store.list_keys().await.iter().any(|k| k.starts_with(key)) {
            violations.push(format!("{provider:?}: snapshot {key:?} still there"));
        }
    }
    reliability_row(
        "manifest write refused: snapshot removed",
        StoreProvider::ALL.len(),
        violations.len(),
    );
    assert!(violations.is_empty(), "{violations:#?}");
}

/// Two ways an upload fails: with one part in flight the failed part stops the stream (the executor aborts the
/// upload itself); with two, every part is handed over before the failure shows, and completing the upload
/// aborts it.
const CONCURRENCY: [&str; 2] = ["1", "2"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_part_aborts_the_multipart_upload_on_every_provider() {
    let (cluster, token) = cluster_with_data().await;
    let mut violations = Vec::new();
    let mut cases = 0;
    for provider in StoreProvider::ALL {
        let _azurite_turn = executor_support::azurite_turn(provider).await;
        let store = FaultyStore::start(provider).await;
        seed_recovery_points(&store.objects(), 3).await;
        let before = store.list_keys().await;
        let mut env = store.env(&cluster.node_addr(0));
        env.with_token(&token)
            .set("EXECUTOR_RETENTION", PRUNE_ALL_OLDER);
        for concurrency in CONCURRENCY {
            cases += 1;
            let case = format!("{provider:?}, {concurrency} in flight");
            env.set("EXECUTOR_UPLOAD_CONCURRENCY", concurrency);
            // The first part is stored, every later one answers 503 past the retry budget.
            store.faults().inject(
                FaultRule::on(StoreOp::UploadPart)
                    .after(1)
                    .times(u64::MAX)
                    .fault(Fault::Status(503)),
            );
            let counts_before = (
                store.faults().received(StoreOp::UploadPart)
                    - store.faults().injected(StoreOp::UploadPart),
                store.faults().received(StoreOp::AbortMultipartUpload),
                store.faults().received(StoreOp::CompleteMultipartUpload),
            );
            let outcome = env.run(&["backup"]).await;
            store.faults().clear();
            let faults = store.faults();
            // Before the check: an upload that was never started proves nothing about aborting it.
            let stored_parts = faults.received(StoreOp::UploadPart)
                - faults.injected(StoreOp::UploadPart)
                - counts_before.0;
            if stored_parts == 0 {
                violations.push(format!("{case}: no part was stored: {}", faults.counts()));
            }
            if concurrency == "1" && !outcome.stderr.contains("aborted the multipart upload") {
                violations.push(format!(
                    "{case}: the stream was not stopped by the failed part"
                ));
            }
            let seen = aftermath(&store, &before, &outcome, "StorageRequestFailed").await;
            if seen.violations() > 0 {
                violations.push(format!("{case}: {seen:?}"));
            }
            if provider != StoreProvider::Azure
                && faults.received(StoreOp::AbortMultipartUpload) == counts_before.1
            {
                violations.push(format!(
                    "{case}: no abort reached the store: {}",
                    faults.counts()
                ));
            }
            if faults.received(StoreOp::CompleteMultipartUpload) > counts_before.2
                && concurrency == "1"
            {
                violations.push(format!("{case}: completing was attempted"));
            }
        }
    }
    reliability_row(
        "failed part: multipart upload aborted",
        cases,
        violations.len(),
    );
    assert!(violations.is_empty(), "{violations:#?}");
}

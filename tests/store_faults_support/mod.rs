//! Store faults for executor tests: a store of any provider with the harness's fault layer in front, older
//! recovery points to lose, and the checks every failed backup must pass (nothing left, nothing pruned).
#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeSet;
use std::sync::Arc;

use object_store::ObjectStore;
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, Dialect, FaultProxy, OpenBaoCluster, OpenBaoOptions,
    StoreFaults, StoreProvider, TestStore,
};

use crate::executor_support::{self, ExecutorEnv, RunOutcome, cluster_prefix, keys, write};

/// Retention that would delete every older point if it ran after a failed backup.
pub const PRUNE_ALL_OLDER: &str = r#"{"keepLast":1,"keepPreUpgrade":1}"#;

/// A store whose requests pass the fault layer: built into the S3 and GCS servers, a proxy in front of Azurite.
pub struct FaultyStore {
    pub store: TestStore,
    proxy: Option<FaultProxy>,
}

impl FaultyStore {
    pub async fn start(provider: StoreProvider) -> Self {
        let store = TestStore::start(provider).await.expect("store started");
        let proxy = match &store {
            TestStore::Azure(server) => {
                Some(FaultProxy::start(&server.account_url(), Dialect::Azure).expect("fault proxy"))
            }
            _ => None,
        };
        Self { store, proxy }
    }

    pub fn provider(&self) -> StoreProvider {
        self.store.provider()
    }

    pub fn faults(&self) -> &StoreFaults {
        match (&self.store, &self.proxy) {
            (_, Some(proxy)) => proxy.faults(),
            (TestStore::S3(server), None) => server.faults(),
            (TestStore::Gcs(server), None) => server.faults(),
            (TestStore::Azure(_), None) => unreachable!("Azurite always has a proxy"),
        }
    }

    /// Executor settings that reach the store through the fault layer.
    pub fn env(&self, openbao_addr: &str) -> ExecutorEnv {
        let mut env = ExecutorEnv::new(openbao_addr, &self.store);
        if let (Some(proxy), TestStore::Azure(server)) = (&self.proxy, &self.store) {
            env.set(
                "EXECUTOR_STORE_ENDPOINT",
                &format!("{}/{}", proxy.addr(), server.account()),
            );
        }
        env
    }

    /// A client for set-up. The in-process servers' fault layer is built in, so it sees their faults too.
    pub fn objects(&self) -> Arc<dyn ObjectStore> {
        self.store.object_store().expect("assertion client")
    }

    /// Every key in the bucket, past the fault layer (S3/GCS: their files; Azure: straight to Azurite).
    pub async fn list_keys(&self) -> Vec<String> {
        match &self.store {
            TestStore::S3(server) => server.list_keys(),
            TestStore::Gcs(server) => server.list_keys(),
            TestStore::Azure(_) => keys(&self.objects()).await,
        }
    }

    /// Unfinished uploads: S3/GCS multipart uploads neither completed nor aborted; Azure blobs with only
    /// uncommitted blocks.
    pub async fn pending_uploads(&self) -> Vec<String> {
        match &self.store {
            TestStore::S3(server) => server.pending_uploads(),
            TestStore::Gcs(server) => server.pending_uploads(),
            TestStore::Azure(server) => server.uncommitted_blobs().await.expect("listing blobs"),
        }
    }
}

/// A one-node cluster with ~12 MB of incompressible data (three 5 MiB parts) and a backup token.
pub async fn cluster_with_data() -> (OpenBaoCluster, String) {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    executor_support::write_incompressible_secrets(&cluster, "big", 60, 200 * 1024).await;
    cluster
        .write_policy(BACKUP_POLICY_NAME, BACKUP_POLICY)
        .await
        .unwrap();
    let token = cluster.create_token(&[BACKUP_POLICY_NAME]).await.unwrap();
    (cluster, token)
}

/// Writes `count` synthetic recovery points (small objects with manifests), oldest first; returns their keys.
pub async fn seed_recovery_points(objects: &Arc<dyn ObjectStore>, count: usize) -> Vec<String> {
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

/// What a failed backup left behind, compared with the bucket before it.
#[derive(Debug, Default)]
pub struct Aftermath {
    /// Objects that were not there before (a partial snapshot, a manifest).
    pub leftovers: Vec<String>,
    /// Objects that were there before and are gone (pruned or deleted recovery points).
    pub lost: Vec<String>,
    /// Unfinished uploads.
    pub pending_uploads: Vec<String>,
    /// The report claims deletions (retention ran).
    pub retention_ran: bool,
    /// Exit code, stage or reason are not the storage stage's.
    pub wrong_failure: Option<String>,
}

impl Aftermath {
    pub fn violations(&self) -> usize {
        self.leftovers.len()
            + self.lost.len()
            + self.pending_uploads.len()
            + usize::from(self.retention_ran)
            + usize::from(self.wrong_failure.is_some())
    }
}

/// Checks a failed backup: exit 6 at `storage` with `reason`, the bucket exactly as `before`, no unfinished
/// upload, no retention. Counts instead of asserting, so a matrix can report every violation.
pub async fn aftermath(
    store: &FaultyStore,
    before: &[String],
    outcome: &RunOutcome,
    reason: &str,
) -> Aftermath {
    let after = store.list_keys().await;
    let before_set: BTreeSet<&String> = before.iter().collect();
    let after_set: BTreeSet<&String> = after.iter().collect();
    let wrong_failure = (outcome.code != 6
        || outcome.report["outcome"] != "failed"
        || outcome.report["stage"] != "storage"
        || outcome.reason() != reason)
        .then(|| {
            format!(
                "exit {} report {}\nstderr tail:\n{}",
                outcome.code,
                outcome.report_text,
                tail(&outcome.stderr, 15)
            )
        });
    Aftermath {
        leftovers: after_set
            .difference(&before_set)
            .map(|k| (*k).clone())
            .collect(),
        lost: before_set
            .difference(&after_set)
            .map(|k| (*k).clone())
            .collect(),
        pending_uploads: store.pending_uploads().await,
        retention_ran: outcome.report.get("deletedKeys").is_some(),
        wrong_failure,
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The line `scripts/reliability.sh` collects.
pub fn reliability_row(case: &str, cases: usize, violations: usize) {
    println!("reliability-row: R2|{case}|{cases}|{violations}");
}

//! OpenBao faults against a real 3-node raft cluster (hardening R3): a sealed leader, a leader stopped while the
//! snapshot streams, a leader change between two backups, an invalid static token and a token whose policy does
//! not allow the snapshot. Each fault must end in a clean, named failure (the stage's exit code, a reason, no
//! panic, nothing new in the bucket, no manifest, no multipart upload left open) and the next backup, with the
//! fault removed, must succeed.
//!
//! Each test prints `reliability-row: R3|<case>|<cases run>|<violations>` and fails on any violation.

mod executor_support;

use std::time::Duration;

use executor_support::{ExecutorEnv, RunOutcome, keys};
use openbao_test_harness::proxy::SNAPSHOT_PATH;
use openbao_test_harness::wait::poll_until;
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, OpenBaoCluster, OpenBaoOptions, OpenBaoProxy, StoreProvider,
    TestStore,
};
use reqwest::Method;
use serde_json::json;

/// Generous: other builds and tests share the two cores.
const DEADLINE: Duration = Duration::from_secs(120);

/// What one test observed: how many fault cases it ran and every check that did not hold.
struct Row {
    case: &'static str,
    cases: usize,
    violations: Vec<String>,
}

impl Row {
    fn new(case: &'static str) -> Self {
        Self {
            case,
            cases: 0,
            violations: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            eprintln!("violation: {what}");
            self.violations.push(what);
        }
    }

    /// Prints the row, then fails the test on any violation.
    fn finish(self) {
        println!(
            "reliability-row: R3|{}|{}|{}",
            self.case,
            self.cases,
            self.violations.len()
        );
        assert!(
            self.violations.is_empty(),
            "{} violation(s):\n{}",
            self.violations.len(),
            self.violations.join("\n")
        );
    }

    /// The run failed at `stage` with its exit code and `reason`, did not panic, and left the bucket as it was
    /// before (`before`): no snapshot, no manifest, no open multipart upload.
    async fn clean_failure(
        &mut self,
        name: &str,
        outcome: &RunOutcome,
        store: &TestStore,
        before: &[String],
        (stage, code, reason): (&str, i32, &str),
    ) {
        self.cases += 1;
        let report = &outcome.report_text;
        self.check(outcome.code == code, || {
            format!(
                "{name}: exit code {} instead of {code}; report {report}",
                outcome.code
            )
        });
        self.check(outcome.report["outcome"] == "failed", || {
            format!("{name}: outcome is not failed: {report}")
        });
        self.check(outcome.report["stage"] == stage, || {
            format!("{name}: stage is not {stage}: {report}")
        });
        self.check(outcome.reason() == reason, || {
            format!("{name}: reason is not {reason}: {report}")
        });
        self.check(
            outcome.report["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            || format!("{name}: no message: {report}"),
        );
        self.check(outcome.report["digest"].is_null(), || {
            format!("{name}: a failed run reports a digest: {report}")
        });
        self.check(!outcome.stderr.contains("panicked"), || {
            format!("{name}: the executor panicked:\n{}", outcome.stderr)
        });
        let after = keys(&store.object_store().unwrap()).await;
        self.check(after == before, || {
            format!("{name}: the bucket changed: {before:?} -> {after:?}")
        });
        let uploads = open_uploads(store);
        self.check(uploads.is_empty(), || {
            format!("{name}: multipart uploads left open: {uploads:?}")
        });
    }

    /// The next backup succeeds and leaves its snapshot with a manifest of the stored size. Returns the report.
    async fn next_backup_succeeds(
        &mut self,
        name: &str,
        env: &ExecutorEnv,
        store: &TestStore,
    ) -> RunOutcome {
        let outcome = env.run(&["backup"]).await;
        let report = &outcome.report_text;
        self.check(
            outcome.code == 0 && outcome.report["outcome"] == "succeeded",
            || {
                format!(
                    "{name}: the next backup failed ({}): {report}\n{}",
                    outcome.code, outcome.stderr
                )
            },
        );
        let Some(key) = outcome.report["key"].as_str() else {
            self.check(false, || format!("{name}: no key in {report}"));
            return outcome;
        };
        let objects = store.object_store().unwrap();
        let stored = keys(&objects).await;
        let manifest_key = format!("{key}.json");
        self.check(
            stored.iter().any(|k| k == key) && stored.contains(&manifest_key),
            || format!("{name}: {key} or its manifest missing from {stored:?}"),
        );
        if stored.contains(&manifest_key) {
            let manifest: serde_json::Value =
                serde_json::from_slice(&executor_support::read(&objects, &manifest_key).await)
                    .unwrap_or_default();
            let size = executor_support::read(&objects, key).await.len() as u64;
            self.check(manifest["size"].as_u64() == Some(size), || {
                format!("{name}: manifest size differs from the object's {size}: {manifest}")
            });
        }
        outcome
    }
}

/// Multipart uploads the S3 server still holds open (s3s-fs keeps them next to the bucket).
fn open_uploads(store: &TestStore) -> Vec<String> {
    let TestStore::S3(server) = store else {
        return Vec::new();
    };
    let root = server.bucket_dir().parent().unwrap().to_owned();
    std::fs::read_dir(root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload"))
        .collect()
}

/// A 3-node cluster, the S3 server and a token with exactly the backup policy.
async fn setup() -> (OpenBaoCluster, TestStore, String) {
    let cluster = OpenBaoCluster::start(3, OpenBaoOptions::default())
        .await
        .expect("cluster");
    cluster
        .write_policy(BACKUP_POLICY_NAME, BACKUP_POLICY)
        .await
        .unwrap();
    let token = cluster.create_token(&[BACKUP_POLICY_NAME]).await.unwrap();
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    (cluster, store, token)
}

fn env_at(addr: &str, store: &TestStore, token: &str) -> ExecutorEnv {
    let mut env = ExecutorEnv::new(addr, store);
    env.with_token(token);
    env
}

async fn bucket(store: &TestStore) -> Vec<String> {
    keys(&store.object_store().unwrap()).await
}

/// Waits until the proxy holds `count` requests or downloads.
async fn until_held(proxy: &OpenBaoProxy, what: &str, count: usize) {
    poll_until(what, DEADLINE, || async {
        match proxy.held() {
            held if held >= count => Ok(()),
            held => Err(format!("{held} held; requests {:?}", proxy.requests())),
        }
    })
    .await
    .unwrap();
}

async fn finish(env: &ExecutorEnv, child: tokio::process::Child) -> RunOutcome {
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("executor finished in time")
        .expect("executor output");
    env.outcome(
        output.status.code().unwrap_or(-1),
        output.stdout,
        output.stderr,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_leader_fails_by_name_and_the_backup_after_unsealing_succeeds() {
    let (mut cluster, store, token) = setup().await;
    let mut row = Row::new("leader sealed");

    // Before: the leader is sealed when the backup starts, and the executor is pointed at it.
    let leader = cluster.leader_index().await.unwrap();
    cluster.seal(leader).await.unwrap();
    let at_sealed = env_at(&cluster.node_addr(leader), &store, &token);
    let outcome = at_sealed.run(&["backup"]).await;
    row.clean_failure(
        "sealed before",
        &outcome,
        &store,
        &[],
        ("leader", 4, "OpenBaoSealed"),
    )
    .await;
    cluster.unseal(leader).await.unwrap();
    cluster.wait_healthy().await.unwrap();
    row.next_backup_succeeds("after unsealing", &at_sealed, &store)
        .await;

    // While: leader, login and token check passed; the leader is sealed before the snapshot request reaches it.
    let leader = cluster.leader_index().await.unwrap();
    let proxy = OpenBaoProxy::start(&cluster.node_addr(leader)).unwrap();
    proxy.present_as_leader(true);
    proxy.hold_requests(Method::GET, SNAPSHOT_PATH);
    let through_proxy = env_at(&proxy.addr(), &store, &token);
    let before = bucket(&store).await;
    let child = through_proxy.spawn(&["backup"]);
    until_held(&proxy, "the snapshot request held at the proxy", 1).await;
    cluster.seal(leader).await.unwrap();
    proxy.release();
    let outcome = finish(&through_proxy, child).await;
    row.clean_failure(
        "sealed while starting",
        &outcome,
        &store,
        &before,
        ("snapshot", 5, "OpenBaoSealed"),
    )
    .await;
    cluster.unseal(leader).await.unwrap();
    cluster.wait_healthy().await.unwrap();
    row.next_backup_succeeds("after unsealing again", &through_proxy, &store)
        .await;
    row.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_mid_stream_leaves_nothing_and_the_next_backup_succeeds() {
    let (mut cluster, store, token) = setup().await;
    let mut row = Row::new("leader killed mid-stream");
    // About 48 MiB of encrypted (incompressible) data: far more than loopback socket buffers hold, so OpenBao is
    // still writing the snapshot when it is stopped.
    cluster
        .write_secrets("bulk", 96, 512 * 1024)
        .await
        .expect("bulk secrets");
    let leader = cluster.leader_index().await.unwrap();
    let proxy = OpenBaoProxy::start(&cluster.node_addr(leader)).unwrap();
    proxy.present_as_leader(true);
    // Past two 5 MiB parts, so the multipart upload has parts to abort.
    proxy.hold_snapshot_after(12 << 20);
    let env = env_at(&proxy.addr(), &store, &token);

    let child = env.spawn(&["backup"]);
    until_held(&proxy, "the snapshot download held after 12 MiB", 1).await;
    let forwarded = proxy.snapshot_bytes_forwarded();
    tokio::task::block_in_place(|| cluster.stop_node(leader));
    proxy.release();
    let outcome = finish(&env, child).await;
    row.check(proxy.snapshot_upstream_errors() == 1, || {
        format!(
            "OpenBao finished sending the snapshot before it stopped ({} bytes forwarded), not a mid-stream kill",
            proxy.snapshot_bytes_forwarded()
        )
    });
    row.clean_failure(
        "stopped mid-stream",
        &outcome,
        &store,
        &[],
        ("snapshot", 5, "OpenBaoUnreachable"),
    )
    .await;

    cluster.restart_node(leader).await.unwrap();
    let direct = env_at(&cluster.node_addr(leader), &store, &token);
    let next = row
        .next_backup_succeeds("after restarting the node", &direct, &store)
        .await;
    let size = next.report["size"].as_u64().unwrap_or_default();
    row.check(size > forwarded, || {
        format!("the full snapshot ({size} bytes) is not larger than the {forwarded} bytes seen before the stop")
    });
    row.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_change_between_backups_is_followed() {
    let (cluster, store, token) = setup().await;
    let mut row = Row::new("leader change between backups");
    let first_leader = cluster.leader_index().await.unwrap();
    // Entered through the node that is leader now and a standby after the step-down.
    let env = env_at(&cluster.node_addr(first_leader), &store, &token);
    let first = row
        .next_backup_succeeds("before the step-down", &env, &store)
        .await;

    row.cases += 1;
    let new_leader = cluster.step_down().await.unwrap();
    cluster.wait_healthy().await.unwrap();
    row.check(new_leader != first_leader, || {
        format!("node {first_leader} is still the leader after stepping down")
    });
    let second = row
        .next_backup_succeeds("after the step-down", &env, &store)
        .await;
    let new_addr = cluster.node_addr(new_leader);
    row.check(
        second
            .stderr
            .lines()
            .any(|l| l.contains("found the active leader") && l.contains(&new_addr)),
        || format!("the second backup did not use the new leader {new_addr}"),
    );
    let (term1, term2) = (
        first.report["raftTerm"].as_u64().unwrap_or_default(),
        second.report["raftTerm"].as_u64().unwrap_or_default(),
    );
    row.check(term2 > term1, || {
        format!("raft term did not grow across the leader change: {term1} -> {term2}")
    });
    row.check(
        first.report["clusterId"] == second.report["clusterId"],
        || "the cluster id changed with the leader".to_string(),
    );
    row.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_static_token_fails_at_auth_and_a_good_one_works_next() {
    let (cluster, store, token) = setup().await;
    let mut row = Row::new("invalid static token");
    let entry = cluster.node_addr(0);

    let garbage = env_at(&entry, &store, "not-a-token-but-well-formed-garbage");
    let outcome = garbage.run(&["backup"]).await;
    row.clean_failure(
        "garbage token",
        &outcome,
        &store,
        &[],
        ("auth", 3, "TokenInvalid"),
    )
    .await;

    let revoked = cluster.create_token(&[BACKUP_POLICY_NAME]).await.unwrap();
    cluster
        .call_as_root(
            Method::POST,
            "auth/token/revoke",
            Some(&json!({ "token": revoked })),
        )
        .await
        .unwrap();
    let env = env_at(&entry, &store, &revoked);
    let outcome = env.run(&["backup"]).await;
    row.clean_failure(
        "revoked token",
        &outcome,
        &store,
        &[],
        ("auth", 3, "TokenInvalid"),
    )
    .await;

    let good = env_at(&entry, &store, &token);
    row.next_backup_succeeds("with a good token", &good, &store)
        .await;
    row.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_without_the_snapshot_fails_at_the_snapshot_stage() {
    let (cluster, store, token) = setup().await;
    let mut row = Row::new("snapshot refused by policy");
    // Reads KV and may look itself up (default policy), but may not read sys/storage/raft/snapshot.
    cluster
        .write_policy(
            "kv-reader",
            "path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n",
        )
        .await
        .unwrap();
    let kv_only = cluster.create_token(&["kv-reader"]).await.unwrap();
    let leader = cluster.leader_index().await.unwrap();
    let standby = (0..3).find(|i| *i != leader).unwrap();
    let refused = env_at(&cluster.node_addr(standby), &store, &kv_only);
    let outcome = refused.run(&["backup"]).await;
    row.clean_failure(
        "policy without the snapshot",
        &outcome,
        &store,
        &[],
        ("snapshot", 5, "OpenBaoPermissionDenied"),
    )
    .await;

    let good = env_at(&cluster.node_addr(standby), &store, &token);
    row.next_backup_succeeds("with the backup policy", &good, &store)
        .await;
    row.finish();
}

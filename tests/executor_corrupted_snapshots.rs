//! Reliability row R5: a recovery point damaged in the store, in any of the ways a bucket can damage it, is
//! refused at the `verify` stage before OpenBao is contacted, forced or not. Seeded; the suite runs a sample,
//! `CORRUPT_SNAPSHOT_CASES` raises it (`scripts/reliability.sh`).

mod executor_support;

use executor_support::{ExecutorEnv, read, write};
use object_store::ObjectStoreExt;
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, OpenBaoCluster, OpenBaoOptions, OpenBaoProxy,
    RESTORE_POLICY, RESTORE_POLICY_NAME, StoreProvider, TestStore,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sha2::{Digest, Sha256};

const DEFAULT_CASES: usize = 12;

/// What a bucket (or a person with write access to it) can do to a recovery point.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// One bit of the object flipped anywhere.
    FlippedBit,
    /// The object cut short, possibly to nothing.
    Truncated,
    /// Bytes appended after the archive's end.
    Appended,
    /// Another real snapshot of this cluster put in its place; the manifest still describes the first.
    Swapped,
    /// Random bytes whose digest and size the manifest was rewritten to match: only the archive check can tell.
    GarbageWithMatchingManifest,
    /// The manifest cut short.
    ManifestTruncated,
    /// The manifest removed.
    ManifestDeleted,
}

const DAMAGES: [Damage; 7] = [
    Damage::FlippedBit,
    Damage::Truncated,
    Damage::Appended,
    Damage::Swapped,
    Damage::GarbageWithMatchingManifest,
    Damage::ManifestTruncated,
    Damage::ManifestDeleted,
];

struct Original {
    key: String,
    snapshot: Vec<u8>,
    manifest: Vec<u8>,
    other_snapshot: Vec<u8>,
}

fn manifest_key(key: &str) -> String {
    format!("{key}.json")
}

/// Writes the damaged recovery point over the original; returns what was done, for the failure message.
async fn damage(
    objects: &std::sync::Arc<dyn object_store::ObjectStore>,
    original: &Original,
    kind: Damage,
    rng: &mut StdRng,
) -> String {
    let mut snapshot = original.snapshot.clone();
    let mut manifest = original.manifest.clone();
    let described = match kind {
        Damage::FlippedBit => {
            let at = rng.random_range(0..snapshot.len());
            let bit = rng.random_range(0..8);
            snapshot[at] ^= 1 << bit;
            format!("bit {bit} of byte {at} flipped")
        }
        Damage::Truncated => {
            let length = rng.random_range(0..snapshot.len());
            snapshot.truncate(length);
            format!("cut to {length} bytes")
        }
        Damage::Appended => {
            let extra = rng.random_range(1..4096);
            snapshot.extend((0..extra).map(|_| rng.random::<u8>()));
            format!("{extra} bytes appended")
        }
        Damage::Swapped => {
            snapshot = original.other_snapshot.clone();
            "another snapshot in its place".to_string()
        }
        Damage::GarbageWithMatchingManifest => {
            let length = rng.random_range(1..64 * 1024);
            snapshot = (0..length).map(|_| rng.random::<u8>()).collect();
            let mut parsed: serde_json::Value =
                serde_json::from_slice(&manifest).expect("the executor's manifest is JSON");
            parsed["digest"] = format!("sha256:{}", hex::encode(Sha256::digest(&snapshot))).into();
            parsed["size"] = snapshot.len().into();
            manifest = serde_json::to_vec(&parsed).expect("JSON");
            format!("{length} random bytes, manifest rewritten to match")
        }
        Damage::ManifestTruncated => {
            let length = rng.random_range(0..manifest.len());
            manifest.truncate(length);
            format!("manifest cut to {length} bytes")
        }
        Damage::ManifestDeleted => {
            objects
                .delete(&object_store::path::Path::from(manifest_key(&original.key)))
                .await
                .expect("manifest deleted");
            write(objects, &original.key, snapshot).await;
            return "manifest deleted".to_string();
        }
    };
    write(objects, &original.key, snapshot).await;
    write(objects, &manifest_key(&original.key), manifest).await;
    described
}

async fn token_for(cluster: &OpenBaoCluster, policy_name: &str, policy: &str) -> String {
    cluster.write_policy(policy_name, policy).await.unwrap();
    cluster.create_token(&[policy_name]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_recovery_points_are_refused_before_openbao() {
    let cases = std::env::var("CORRUPT_SNAPSHOT_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let seed = std::env::var("CORRUPT_SNAPSHOT_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis().unsigned_abs());
    println!(
        "{cases} damaged recovery points from seed {seed} (replay: CORRUPT_SNAPSHOT_SEED={seed})"
    );
    let mut rng = StdRng::seed_from_u64(seed);

    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    cluster.write_secrets("bulk", 100, 256).await.unwrap();
    // Issued before the snapshots are taken, so it survives a restore of them.
    let restore_token = token_for(&cluster, RESTORE_POLICY_NAME, RESTORE_POLICY).await;
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let objects = store.object_store().unwrap();
    let mut backup = ExecutorEnv::new(&cluster.node_addr(0), &store);
    backup.with_token(&token_for(&cluster, BACKUP_POLICY_NAME, BACKUP_POLICY).await);
    let key = backup.run(&["backup"]).await.assert_success().key();
    cluster.write_secrets("more", 20, 256).await.unwrap();
    let other_key = backup.run(&["backup"]).await.assert_success().key();
    let original = Original {
        snapshot: read(&objects, &key).await,
        manifest: read(&objects, &manifest_key(&key)).await,
        other_snapshot: read(&objects, &other_key).await,
        key,
    };

    let proxy = OpenBaoProxy::start(&cluster.node_addr(0)).unwrap();
    proxy.present_as_leader(true);
    let mut restore = ExecutorEnv::new(&proxy.addr(), &store);
    restore
        .with_token(&restore_token)
        .set("EXECUTOR_KEY", &original.key);

    let mut violations = Vec::new();
    for case in 0..cases {
        let kind = DAMAGES[case % DAMAGES.len()];
        let described = damage(&objects, &original, kind, &mut rng).await;
        let force = rng.random_bool(0.5);
        let flags: &[&str] = if force {
            &["restore", "--force"]
        } else {
            &["restore"]
        };
        let seen_before = proxy.requests().len();
        let outcome = restore.run(flags).await;
        let contacted = proxy.requests().split_off(seen_before);
        // The message must name the point and the way out: the same key fails the same way every time.
        let says_what_to_do = outcome.report["message"]
            .as_str()
            .is_some_and(|m| m.contains(&original.key) && m.contains("another recovery point"));
        let refused_at_verify = outcome.code == 7
            && outcome.report["outcome"] == "failed"
            && outcome.report["stage"] == "verify"
            && says_what_to_do;
        if !refused_at_verify || !contacted.is_empty() {
            violations.push(format!(
                "case {case} ({kind:?}: {described}, force {force}): exit {}, report {}, OpenBao saw {contacted:?}",
                outcome.code, outcome.report_text
            ));
        }
        println!(
            "case {case}: {kind:?} ({described}), force {force}: exit {} {}",
            outcome.code,
            outcome.reason()
        );
    }

    println!(
        "reliability-row: R5|damaged recovery points refused before OpenBao|{cases}|{}",
        violations.len()
    );
    assert!(
        violations.is_empty(),
        "seed {seed}: {} of {cases} damaged recovery points were not refused cleanly:\n{}",
        violations.len(),
        violations.join("\n")
    );

    // The undamaged point still restores through the same proxy: the refusals above were about the damage.
    write(&objects, &original.key, original.snapshot.clone()).await;
    write(
        &objects,
        &manifest_key(&original.key),
        original.manifest.clone(),
    )
    .await;
    restore.run(&["restore"]).await.assert_success();
    assert_eq!(
        proxy.restore_calls().len(),
        1,
        "the intact recovery point reached OpenBao once"
    );
}

//! Retention on a real bucket: 40 recovery points spanning three months (synthetic manifests and small
//! archives), a real backup, and exactly the deletions a grandfather-father-son policy calls for. The expected
//! set comes from an independent group-by computation, not from the executor's selection code.

mod executor_support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use executor_support::{CLUSTER, ExecutorEnv, NAMESPACE, PATH_PREFIX, cluster_prefix, keys, write};
use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, OpenBaoCluster, OpenBaoOptions, StoreProvider, TestStore,
};

#[derive(Clone, Debug)]
struct Point {
    key: String,
    created: DateTime<Utc>,
    kind: &'static str,
}

fn manifest(point: &Point, size: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "formatVersion": 1, "key": point.key, "digest": format!("sha256:{}", "a".repeat(64)), "size": size,
        "clusterId": "synthetic", "version": "2.7.2", "raftIndex": 10, "raftTerm": 2,
        "created": point.created.to_rfc3339(), "operatorVersion": "0.1.0", "kind": point.kind,
        "namespace": NAMESPACE, "cluster": CLUSTER,
    }))
    .unwrap()
}

fn key_for(prefix: &str, created: DateTime<Utc>, kind: &str, n: usize) -> String {
    format!(
        "{prefix}{}-{kind}-{n:08x}.snap",
        created.format("%Y%m%dT%H%M%SZ")
    )
}

/// 36 routine points every 2.5 days back from `now` (every fifth one manual) and 4 pre-upgrade points.
fn synthetic_points(now: DateTime<Utc>) -> Vec<Point> {
    let prefix = cluster_prefix();
    let mut points = Vec::new();
    for i in 1..=36 {
        let created = now - Duration::hours(60 * i);
        let kind = if i % 5 == 0 { "manual" } else { "scheduled" };
        points.push(Point {
            key: key_for(&prefix, created, kind, i as usize),
            created,
            kind,
        });
    }
    for (n, days) in [5, 25, 45, 65].into_iter().enumerate() {
        let created = now - Duration::days(days) - Duration::hours(3);
        points.push(Point {
            key: key_for(&prefix, created, "pre-upgrade", 100 + n),
            created,
            kind: "pre-upgrade",
        });
    }
    points
}

/// Newest point of each of the `count` most recent buckets, by grouping.
fn newest_per_bucket<B: Ord>(
    points: &[&Point],
    count: usize,
    bucket: impl Fn(&DateTime<Utc>) -> B,
) -> Vec<String> {
    let mut groups: BTreeMap<B, &Point> = BTreeMap::new();
    for point in points {
        let entry = groups.entry(bucket(&point.created)).or_insert(point);
        if point.created > entry.created {
            *entry = point;
        }
    }
    groups
        .values()
        .rev()
        .take(count)
        .map(|p| p.key.clone())
        .collect()
}

/// The keys a policy of keepLast 2, keepDaily 5, keepWeekly 4, keepMonthly 3, keepPreUpgrade 2 keeps.
fn expected_kept(all: &[Point]) -> BTreeSet<String> {
    let mut routine: Vec<&Point> = all.iter().filter(|p| p.kind != "pre-upgrade").collect();
    routine.sort_by_key(|p| std::cmp::Reverse(p.created));
    let mut pre_upgrade: Vec<&Point> = all.iter().filter(|p| p.kind == "pre-upgrade").collect();
    pre_upgrade.sort_by_key(|p| std::cmp::Reverse(p.created));
    let mut kept = BTreeSet::new();
    kept.extend(routine.iter().take(2).map(|p| p.key.clone()));
    kept.extend(newest_per_bucket(&routine, 5, |t| t.date_naive()));
    kept.extend(newest_per_bucket(&routine, 4, |t| {
        (t.iso_week().year(), t.iso_week().week())
    }));
    kept.extend(newest_per_bucket(&routine, 3, |t| (t.year(), t.month())));
    kept.extend(pre_upgrade.iter().take(2).map(|p| p.key.clone()));
    kept.insert(all.iter().max_by_key(|p| p.created).unwrap().key.clone());
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_exactly_what_the_policy_says_on_a_real_bucket() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .expect("cluster");
    cluster
        .write_policy(BACKUP_POLICY_NAME, BACKUP_POLICY)
        .await
        .unwrap();
    let token = cluster.create_token(&[BACKUP_POLICY_NAME]).await.unwrap();
    let store = TestStore::start(StoreProvider::S3).await.unwrap();
    let objects = store.object_store().unwrap();

    let now = Utc::now();
    let points = synthetic_points(now);
    assert_eq!(points.len(), 40);
    for (n, point) in points.iter().enumerate() {
        let archive = format!("small archive {n}").into_bytes();
        write(
            &objects,
            &manifest_key(&point.key),
            manifest(point, archive.len()),
        )
        .await;
        write(&objects, &point.key, archive).await;
    }
    // Never touched: an orphan snapshot, a snapshot with a broken manifest, a manifest vouching for another key,
    // another cluster's old points, and a snapshot in a sub-folder.
    let old = now - Duration::days(80);
    let decoys = [
        key_for(&cluster_prefix(), old, "scheduled", 900),
        key_for(&cluster_prefix(), old, "scheduled", 901),
        key_for(&cluster_prefix(), old, "scheduled", 902),
        key_for(
            &format!("{PATH_PREFIX}/{NAMESPACE}/other/"),
            old,
            "scheduled",
            903,
        ),
        key_for(&format!("{}sub/", cluster_prefix()), old, "scheduled", 904),
    ];
    for decoy in &decoys {
        write(&objects, decoy, b"decoy".to_vec()).await;
    }
    write(&objects, &manifest_key(&decoys[1]), b"{ not json".to_vec()).await;
    let vouching_for_other = Point {
        key: points[30].key.clone(),
        created: old,
        kind: "scheduled",
    };
    write(
        &objects,
        &manifest_key(&decoys[2]),
        manifest(&vouching_for_other, 5),
    )
    .await;
    for decoy in &decoys[3..] {
        let point = Point {
            key: decoy.clone(),
            created: old,
            kind: "scheduled",
        };
        write(&objects, &manifest_key(decoy), manifest(&point, 5)).await;
    }

    let mut env = ExecutorEnv::new(&cluster.node_addr(0), &store);
    env.with_token(&token);

    // Without a retention policy everything stays.
    let before = keys(&objects).await;
    let first = env.run(&["backup"]).await;
    first.assert_success();
    assert!(
        first.report.get("deletedKeys").is_none(),
        "{}",
        first.report_text
    );
    let first_key = first.key();
    let mut expected_listing = before.clone();
    expected_listing.extend([first_key.clone(), manifest_key(&first_key)]);
    expected_listing.sort();
    assert_eq!(keys(&objects).await, expected_listing);

    env.set(
        "EXECUTOR_RETENTION",
        r#"{"keepLast":2,"keepDaily":5,"keepWeekly":4,"keepMonthly":3,"keepPreUpgrade":2}"#,
    );
    let second = env.run(&["backup"]).await;
    second.assert_success();
    let second_key = second.key();

    let mut all = points.clone();
    for (key, kind) in [(&first_key, "manual"), (&second_key, "manual")] {
        let text = executor_support::read(&objects, &manifest_key(key)).await;
        let manifest: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let created = DateTime::parse_from_rfc3339(manifest["created"].as_str().unwrap())
            .unwrap()
            .to_utc();
        all.push(Point {
            key: key.clone(),
            created,
            kind,
        });
    }
    let kept = expected_kept(&all);
    let expected_deleted: BTreeSet<String> = all
        .iter()
        .map(|p| p.key.clone())
        .filter(|k| !kept.contains(k))
        .collect();
    assert!(
        expected_deleted.len() >= 20,
        "the policy should prune most points: {}",
        expected_deleted.len()
    );
    assert!(kept.contains(&second_key) && kept.contains(&first_key));

    let listing: BTreeSet<String> = keys(&objects).await.into_iter().collect();
    for point in &all {
        let present = listing.contains(&point.key);
        let manifest_present = listing.contains(&manifest_key(&point.key));
        let should_stay = kept.contains(&point.key);
        assert_eq!(
            present, should_stay,
            "{} ({}): kept by policy = {should_stay}",
            point.key, point.created
        );
        assert_eq!(manifest_present, should_stay, "manifest of {}", point.key);
    }
    for decoy in &decoys {
        assert!(listing.contains(decoy), "decoy {decoy} was deleted");
    }
    let reported: BTreeSet<String> = second.report["deletedKeys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let omitted = second.report["deletedKeysOmitted"].as_u64().unwrap_or(0) as usize;
    assert!(reported.is_subset(&expected_deleted));
    assert_eq!(
        reported.len() + omitted,
        expected_deleted.len(),
        "{}",
        second.report_text
    );
}

fn manifest_key(key: &str) -> String {
    format!("{key}.json")
}

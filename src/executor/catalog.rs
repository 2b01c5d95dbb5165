//! The recovery points of one cluster as stored: snapshots under the cluster prefix that have a valid manifest
//! describing them, with the size the manifest records. Anything else (an orphan snapshot from an aborted run, a
//! manifest without its snapshot, a manifest for another key) is not a recovery point and is never touched.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::key::{ClusterPrefix, manifest_key, snapshot_key_of_manifest};
use super::manifest::Manifest;
use crate::store::StoreError;

/// Manifests fetched in parallel while listing; small JSON documents.
const MANIFEST_FETCH_CONCURRENCY: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryPoint {
    pub key: String,
    pub manifest: Manifest,
}

pub async fn recovery_points(
    store: &Arc<dyn ObjectStore>,
    prefix: &ClusterPrefix,
) -> Result<Vec<RecoveryPoint>, StoreError> {
    let listing_prefix = Path::from(prefix.as_str().trim_end_matches('/'));
    let objects: Vec<object_store::ObjectMeta> = store
        .list(Some(&listing_prefix))
        .try_collect()
        .await
        .map_err(StoreError::request("listing", prefix.as_str()))?;
    let mut snapshot_sizes: HashMap<String, u64> = HashMap::new();
    let mut manifests = Vec::new();
    for object in &objects {
        let key = object.location.to_string();
        if prefix.holds_snapshot(&key) {
            snapshot_sizes.insert(key, object.size);
        } else if let Some(snapshot) =
            snapshot_key_of_manifest(&key).filter(|k| prefix.holds_snapshot(k))
        {
            manifests.push(snapshot.to_owned());
        }
    }
    let candidates: Vec<(String, u64)> = manifests
        .into_iter()
        .filter_map(|key| snapshot_sizes.get(&key).map(|size| (key, *size)))
        .collect();
    let fetched: Vec<Option<RecoveryPoint>> = futures::stream::iter(candidates)
        .map(|(key, size)| async move { read_point(store, key, size).await })
        .buffer_unordered(MANIFEST_FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(fetched.into_iter().flatten().collect())
}

/// `Ok(None)` for a manifest that does not vouch for its snapshot; only store failures are errors.
async fn read_point(
    store: &Arc<dyn ObjectStore>,
    key: String,
    stored_size: u64,
) -> Result<Option<RecoveryPoint>, StoreError> {
    let manifest_path = Path::from(manifest_key(&key));
    let bytes = match store.get(&manifest_path).await {
        Ok(result) => result.bytes().await,
        Err(err) => Err(err),
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        // Deleted between listing and reading (a concurrent retention run): not a point any more.
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(StoreError::request("reading the manifest of", key)(err)),
    };
    match Manifest::parse_for(&bytes, &key) {
        Ok(manifest) if manifest.size == stored_size => Ok(Some(RecoveryPoint { key, manifest })),
        Ok(manifest) => {
            tracing::warn!(%key, stored_size, manifest_size = manifest.size, "size differs from its manifest; ignored");
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(%key, %error, "invalid manifest; ignored");
            Ok(None)
        }
    }
}

/// The newest point by manifest creation time (ties broken by key, which embeds the time).
pub fn newest(points: &[RecoveryPoint]) -> Option<&RecoveryPoint> {
    points.iter().max_by(|a, b| {
        a.manifest
            .created
            .cmp(&b.manifest.created)
            .then_with(|| a.key.cmp(&b.key))
    })
}

/// Deletes a snapshot and then its manifest, so an interruption never leaves a manifest vouching for nothing
/// that still looks like a recovery point (the catalog ignores manifests without their snapshot).
pub async fn delete_point(store: &Arc<dyn ObjectStore>, key: &str) -> Result<(), StoreError> {
    delete_if_present(store, key).await?;
    delete_if_present(store, &manifest_key(key)).await
}

pub async fn delete_if_present(store: &Arc<dyn ObjectStore>, key: &str) -> Result<(), StoreError> {
    match store.delete(&Path::from(key)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(err) => Err(StoreError::request("deleting", key)(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::manifest::sample;
    use chrono::{TimeZone, Utc};
    use object_store::PutPayload;
    use object_store::memory::InMemory;
    use openbao_crds::BackupKind;

    async fn put(store: &Arc<dyn ObjectStore>, key: &str, bytes: Vec<u8>) {
        store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn only_snapshots_with_matching_manifests_are_points() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let prefix = ClusterPrefix::new(Some("p"), "ns", "c");
        let t = |d| Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap();
        let good = "p/ns/c/a.snap";
        put(&store, good, vec![0; 10]).await;
        put(
            &store,
            &manifest_key(good),
            sample(good, t(1), BackupKind::Manual).to_json(),
        )
        .await;
        let newer = "p/ns/c/b.snap";
        put(&store, newer, vec![0; 10]).await;
        put(
            &store,
            &manifest_key(newer),
            sample(newer, t(2), BackupKind::Scheduled).to_json(),
        )
        .await;
        // Orphan snapshot, orphan manifest, manifest for another key, wrong size, another cluster.
        put(&store, "p/ns/c/orphan.snap", vec![0; 10]).await;
        put(
            &store,
            "p/ns/c/gone.snap.json",
            sample("p/ns/c/gone.snap", t(3), BackupKind::Manual).to_json(),
        )
        .await;
        put(&store, "p/ns/c/copied.snap", vec![0; 10]).await;
        put(
            &store,
            "p/ns/c/copied.snap.json",
            sample(good, t(4), BackupKind::Manual).to_json(),
        )
        .await;
        put(&store, "p/ns/c/short.snap", vec![0; 9]).await;
        put(
            &store,
            "p/ns/c/short.snap.json",
            sample("p/ns/c/short.snap", t(5), BackupKind::Manual).to_json(),
        )
        .await;
        put(&store, "p/ns/c2/x.snap", vec![0; 10]).await;
        put(
            &store,
            "p/ns/c2/x.snap.json",
            sample("p/ns/c2/x.snap", t(6), BackupKind::Manual).to_json(),
        )
        .await;

        let mut points = recovery_points(&store, &prefix).await.unwrap();
        points.sort_by(|a, b| a.key.cmp(&b.key));
        let keys: Vec<&str> = points.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, [good, newer]);
        assert_eq!(newest(&points).unwrap().key, newer);

        delete_point(&store, good).await.unwrap();
        delete_point(&store, good).await.unwrap();
        let points = recovery_points(&store, &prefix).await.unwrap();
        assert_eq!(points.len(), 1);
    }
}

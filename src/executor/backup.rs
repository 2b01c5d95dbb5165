//! `executor backup`: leader → login → stream the snapshot into a verified multipart upload → manifest → stored
//! size check → retention. Any failure before the manifest is confirmed removes what this run uploaded.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use openbao_crds::StorageProvider;

use super::catalog;
use super::config::BackupConfig;
use super::leader;
use super::manifest::{FORMAT_VERSION, Manifest};
use super::prune;
use super::report::{Outcome, Report};
use super::stage::{AtStage, Failure, Stage};
use super::upload::{self, CLEANUP_TIMEOUT, TeeError, UploadTuning};
use super::verifier::VerifiedSnapshot;
use crate::store::{self, StoreError};

pub async fn run(config: &BackupConfig, report: &mut Report) -> Result<(), Failure> {
    let common = &config.common;
    let store = store::build(&common.store).map_err(|e| e.at(Stage::Config))?;

    let leader = leader::find_leader(common).await?;
    let cluster_id = leader.health.cluster_id.clone().unwrap_or_default();
    report.cluster_id = Some(cluster_id.clone()).filter(|id| !id.is_empty());
    report.version = Some(leader.health.version.clone());
    let client = leader::login(leader.client, &common.auth).await?;

    // Milliseconds, not finer: the manifest, the report and status.backup then carry the very same instant, so
    // the operator's newest recovery point and a `latest` restore's choice agree.
    let taken = Utc::now().trunc_subsecs(3);
    let key = config
        .key
        .clone()
        .unwrap_or_else(|| common.prefix.new_key(taken, config.kind, rand::random()));
    report.key = Some(key.clone());
    tracing::info!(%key, "streaming the snapshot");

    let stream = client
        .snapshot_stream()
        .await
        .map_err(|e| e.at(Stage::Snapshot))?;
    let tuning = UploadTuning {
        part_size: config.part_size,
        concurrency: config.upload_concurrency,
        discard_uncommitted_blocks: common.store.provider == StorageProvider::Azure,
    };
    let verified = upload::stream_to_store(&store, &key, stream, tuning)
        .await
        .map_err(|err| match err {
            TeeError::Source(e) => e.at(Stage::Snapshot),
            TeeError::Verify(e) => e.at(Stage::Verify),
            TeeError::Store(e) => e.at(Stage::Storage),
        })?;

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        key: key.clone(),
        digest: verified.digest.clone(),
        size: verified.size,
        cluster_id,
        cluster_name: leader.health.cluster_name.clone(),
        version: leader.health.version.clone(),
        raft_index: verified.archive.raft_index,
        raft_term: verified.archive.raft_term,
        created: taken,
        operator_version: env!("CARGO_PKG_VERSION").to_owned(),
        kind: config.kind,
        namespace: common.namespace.clone(),
        cluster: common.cluster.clone(),
    };
    if let Err(err) = publish(&store, &manifest, &verified).await {
        remove_partial(&store, &key).await;
        return Err(err.at(Stage::Storage));
    }
    fill_success(report, &manifest);
    tracing::info!(%key, size = verified.size, digest = %verified.digest, "backup stored and verified");

    let pruned = prune::prune(
        &store,
        &common.prefix,
        config.retention.as_ref(),
        Utc::now(),
        &key,
    )
    .await;
    report.deleted_keys = pruned.deleted;
    report.retention_error = pruned.error;
    Ok(())
}

/// Writes the manifest and confirms the stored snapshot has exactly the bytes we counted.
async fn publish(
    store: &Arc<dyn ObjectStore>,
    manifest: &Manifest,
    verified: &VerifiedSnapshot,
) -> Result<(), StoreError> {
    let key = &manifest.key;
    let meta = store
        .head(&Path::from(key.as_str()))
        .await
        .map_err(StoreError::request("reading back", key.as_str()))?;
    if meta.size != verified.size {
        return Err(StoreError::SizeMismatch {
            key: key.clone(),
            stored: meta.size,
            expected: verified.size,
        });
    }
    let manifest_key = super::key::manifest_key(key);
    store
        .put(
            &Path::from(manifest_key.as_str()),
            PutPayload::from(manifest.to_json()),
        )
        .await
        .map_err(StoreError::request(
            "writing the manifest",
            manifest_key.as_str(),
        ))?;
    Ok(())
}

/// Best effort: the snapshot and manifest this run wrote must not outlive its failure.
async fn remove_partial(store: &Arc<dyn ObjectStore>, key: &str) {
    let cleanup = catalog::delete_point(store, key);
    match tokio::time::timeout(CLEANUP_TIMEOUT, cleanup).await {
        Ok(Ok(())) => tracing::info!(%key, "removed the partial backup"),
        Ok(Err(error)) => tracing::warn!(%key, %error, "could not remove the partial backup"),
        Err(_) => {
            tracing::warn!(%key, timeout = ?CLEANUP_TIMEOUT, "removing the partial backup timed out")
        }
    }
}

fn fill_success(report: &mut Report, manifest: &Manifest) {
    report.outcome = Some(Outcome::Succeeded);
    report.digest = Some(manifest.digest.to_string());
    report.size = Some(manifest.size);
    report.raft_index = Some(manifest.raft_index);
    report.raft_term = Some(manifest.raft_term);
    report.created = Some(
        manifest
            .created
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
}

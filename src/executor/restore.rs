//! `executor restore`: resolve the snapshot, hold its manifest to the pinned digest, download and verify it
//! completely, and only then reach OpenBao: find the leader, refuse another cluster's snapshot unless forced, log
//! in, POST the snapshot (seal-checked, or `snapshot-force`), and wait until the cluster is active again or
//! sealed (a forced restore from another cluster seals it with that cluster's keys).

use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::catalog;
use super::config::{RestoreConfig, RestoreSource};
use super::download::{self, DownloadError};
use super::key::manifest_key;
use super::leader;
use super::manifest::Manifest;
use super::report::{Outcome, Report};
use super::restore_checks;
use super::scratch_io;
use super::stage::{AtStage, Failure, Stage};
use crate::openbao::{NodeState, OpenBaoClient};
use crate::store::{self, StoreError};

const HEALTH_POLL_INTERVAL: Duration = Duration::from_secs(1);

pub async fn run(config: &RestoreConfig, report: &mut Report) -> Result<(), Failure> {
    let started = Instant::now();
    let common = &config.common;
    let store = store::build(&common.store).map_err(|e| e.at(Stage::Config))?;

    let (key, manifest) = resolve(&store, config).await?;
    report.key = Some(key.clone());
    report.digest = Some(manifest.digest.to_string());
    report.size = Some(manifest.size);
    report.cluster_id = Some(manifest.cluster_id.clone());
    report.version = Some(manifest.version.clone());
    report.raft_index = Some(manifest.raft_index);
    report.raft_term = Some(manifest.raft_term);
    report.created = Some(
        manifest
            .created
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );

    // A pinned snapshot that changed since it was chosen is refused before its bytes are fetched.
    restore_checks::check_expected_digest(&key, &manifest, config.expected_digest.as_ref())
        .map_err(|e| e.at(Stage::Verify))?;

    let scratch =
        download::download_verified(&store, &key, &manifest, config.scratch_dir.as_deref())
            .await
            .map_err(|err| match err {
                DownloadError::Store(e) => e.at(Stage::Storage),
                scratch @ DownloadError::Scratch(_) => scratch.at(Stage::Verify),
                damage => not_restorable(&key, damage.at(Stage::Verify)),
            })?;
    tracing::info!(%key, size = scratch.verified.size, digest = %scratch.verified.digest, "snapshot verified");

    let leader = leader::find_leader(common).await?;
    // A seal-checked restore of another cluster's snapshot would be refused by OpenBao anyway; refusing it here
    // makes a dry run (the preflight) catch it and names the way out.
    restore_checks::check_same_cluster(
        &key,
        &manifest,
        leader.health.cluster_id.as_deref(),
        config.force,
    )
    .map_err(|e| e.at(Stage::Verify))?
    .log(&key);
    let client = leader::login(leader.client, &common.auth).await?;
    if config.dry_run {
        report.outcome = Some(Outcome::DryRun);
        report.message = Some(format!(
            "would restore {key} into the cluster led by {} (force: {})",
            client.address(),
            config.force
        ));
        return Ok(());
    }

    let body = scratch_io::file_body(&scratch.path).map_err(|e| {
        Failure::new(
            Stage::Verify,
            "ScratchSpaceError",
            format!("cannot reopen the scratch file: {e}"),
        )
    })?;
    tracing::info!(%key, force = config.force, leader = client.address(), "restoring");
    client
        .restore_snapshot(body, scratch.verified.size, config.force)
        .await
        .map_err(|err| {
            let mut failure = err.at(Stage::Snapshot);
            if failure.message.contains("snapshot-force") {
                failure.reason = "SnapshotFromAnotherCluster";
            }
            failure
        })?;
    let restored_at = Instant::now();
    report.restore_accepted_seconds = Some(round_millis(started.elapsed()));

    match wait_for_cluster(&client, config.health_timeout).await? {
        NodeState::Sealed => {
            report.outcome = Some(Outcome::SucceededSealed);
            report.message = Some(
                "restored; the cluster is sealed: unseal it with the unseal keys of the cluster the snapshot came from"
                    .to_owned(),
            );
        }
        _ => report.outcome = Some(Outcome::Succeeded),
    }
    tracing::info!(%key, waited = ?restored_at.elapsed(), "restore finished");
    Ok(())
}

/// A stored point that fails its checks. Nothing has reached OpenBao yet; the message names the point and the
/// way out, because the same key will fail the same way every time.
fn not_restorable(key: &str, failure: Failure) -> Failure {
    Failure {
        message: format!(
            "{key} cannot be restored: {}. Nothing was sent to OpenBao; restore another recovery point (`kubectl openbao points <cluster>` lists them)",
            failure.message
        ),
        ..failure
    }
}

fn round_millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1000.0).round() / 1000.0
}

/// The key and its manifest. For `latest`, the newest snapshot with a valid manifest under this cluster's prefix.
async fn resolve(
    store: &Arc<dyn ObjectStore>,
    config: &RestoreConfig,
) -> Result<(String, Manifest), Failure> {
    match &config.source {
        RestoreSource::Latest => {
            let points = catalog::recovery_points(store, &config.common.prefix)
                .await
                .map_err(|e| e.at(Stage::Storage))?;
            let newest = catalog::newest(&points).ok_or_else(|| {
                Failure::new(
                    Stage::Storage,
                    "NoRecoveryPoint",
                    format!(
                        "no snapshot with a valid manifest under {}",
                        config.common.prefix.as_str()
                    ),
                )
            })?;
            Ok((newest.key.clone(), newest.manifest.clone()))
        }
        RestoreSource::Key(key) => {
            let manifest_path = Path::from(manifest_key(key));
            let bytes = match store.get(&manifest_path).await {
                Ok(result) => result.bytes().await,
                Err(err) => Err(err),
            };
            let bytes = bytes.map_err(|err| {
                let err = StoreError::request("reading the manifest of", key.as_str())(err);
                if err.is_not_found() {
                    not_restorable(
                        key,
                        Failure::new(
                            Stage::Verify,
                            "ManifestMissing",
                            "it has no manifest, so it is not a verified recovery point",
                        ),
                    )
                } else {
                    err.at(Stage::Storage)
                }
            })?;
            let manifest = Manifest::parse_for(&bytes, key).map_err(|e| {
                not_restorable(
                    key,
                    Failure::new(Stage::Verify, "ManifestInvalid", e.to_string()),
                )
            })?;
            Ok((key.clone(), manifest))
        }
    }
}

/// What the health answers after a restore mean for the wait.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterRestore {
    Done(NodeState),
    KeepWaiting,
}

/// OpenBao answers the restore POST before it applies the snapshot: for a moment the node still reports active,
/// then it tears down, installs the snapshot (500s, or requests blocking for ~5.5 s) and comes back active, or
/// sealed when the snapshot brought another keyring. So "active" counts only once it has held for a while;
/// "sealed" is final at once.
pub const ACTIVE_SETTLE: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct SettleTracker {
    active_since: Option<Instant>,
}

impl SettleTracker {
    pub fn observe(&mut self, state: &NodeState, now: Instant) -> AfterRestore {
        match state {
            NodeState::Sealed => AfterRestore::Done(NodeState::Sealed),
            NodeState::Active => {
                let since = *self.active_since.get_or_insert(now);
                if now.duration_since(since) >= ACTIVE_SETTLE {
                    AfterRestore::Done(NodeState::Active)
                } else {
                    AfterRestore::KeepWaiting
                }
            }
            NodeState::Standby | NodeState::Uninitialized | NodeState::Unavailable { .. } => {
                self.active_since = None;
                AfterRestore::KeepWaiting
            }
        }
    }
}

async fn wait_for_cluster(client: &OpenBaoClient, timeout: Duration) -> Result<NodeState, Failure> {
    let deadline = Instant::now() + timeout;
    let mut tracker = SettleTracker::default();
    loop {
        let last = match client.health().await {
            Ok(health) => match tracker.observe(&health.state, Instant::now()) {
                AfterRestore::Done(state) => return Ok(state),
                AfterRestore::KeepWaiting => format!("{:?}", health.state),
            },
            Err(err) => {
                tracker.observe(&NodeState::Unavailable { status: 0 }, Instant::now());
                err.to_string()
            }
        };
        if Instant::now() >= deadline {
            return Err(Failure::new(
                Stage::Snapshot,
                "ClusterNotHealthyAfterRestore",
                format!(
                    "the cluster was neither steadily active nor sealed {} s after the restore (last: {last})",
                    timeout.as_secs()
                ),
            ));
        }
        tokio::time::sleep(HEALTH_POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_ends_the_wait_at_once() {
        let mut tracker = SettleTracker::default();
        let t0 = Instant::now();
        assert_eq!(
            tracker.observe(&NodeState::Sealed, t0),
            AfterRestore::Done(NodeState::Sealed)
        );
    }

    #[test]
    fn active_must_hold_for_the_settle_time_without_interruption() {
        let mut tracker = SettleTracker::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // Still active right after the POST, then teardown: the early "active" must not count.
        assert_eq!(
            tracker.observe(&NodeState::Active, at(0)),
            AfterRestore::KeepWaiting
        );
        assert_eq!(
            tracker.observe(&NodeState::Unavailable { status: 500 }, at(2)),
            AfterRestore::KeepWaiting
        );
        assert_eq!(
            tracker.observe(&NodeState::Active, at(11)),
            AfterRestore::KeepWaiting
        );
        assert_eq!(
            tracker.observe(&NodeState::Standby, at(15)),
            AfterRestore::KeepWaiting
        );
        assert_eq!(
            tracker.observe(&NodeState::Active, at(16)),
            AfterRestore::KeepWaiting
        );
        assert_eq!(
            tracker.observe(&NodeState::Active, at(25)),
            AfterRestore::KeepWaiting
        );
        assert_eq!(
            tracker.observe(&NodeState::Active, at(26)),
            AfterRestore::Done(NodeState::Active)
        );
    }
}

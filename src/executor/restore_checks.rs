//! Checks a restore makes before anything destructive: the resolved manifest must be the snapshot the caller
//! pinned (`EXECUTOR_EXPECTED_DIGEST`), and a seal-checked restore refuses a snapshot taken from another cluster
//! instead of leaving that verdict to OpenBao's POST.

use super::manifest::Manifest;
use super::stage::Reason;
use super::verifier::SnapshotDigest;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreCheckError {
    #[error(
        "the restore is pinned to {expected}, but the manifest of {key} names {actual}: the snapshot changed \
         since it was chosen"
    )]
    DigestMismatch {
        key: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{key} was taken from cluster {snapshot_cluster}, this cluster is {live_cluster}; restoring it needs \
         force: true (snapshot-force) and unsealing with the source cluster's keys afterwards"
    )]
    AnotherCluster {
        key: String,
        snapshot_cluster: String,
        live_cluster: String,
    },
}

impl Reason for RestoreCheckError {
    fn reason(&self) -> &'static str {
        match self {
            Self::DigestMismatch { .. } => "DigestMismatch",
            Self::AnotherCluster { .. } => "SnapshotFromAnotherCluster",
        }
    }
}

/// The manifest must name the pinned digest, if one is pinned. Runs before the download.
pub fn check_expected_digest(
    key: &str,
    manifest: &Manifest,
    expected: Option<&SnapshotDigest>,
) -> Result<(), RestoreCheckError> {
    match expected {
        Some(expected) if *expected != manifest.digest => Err(RestoreCheckError::DigestMismatch {
            key: key.to_owned(),
            expected: expected.to_string(),
            actual: manifest.digest.to_string(),
        }),
        _ => Ok(()),
    }
}

/// What the cluster check found when it did not refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCheck {
    /// The snapshot comes from this cluster.
    Same,
    /// One of the ids is unknown: nothing to refuse on.
    Unknown { snapshot: bool, live: bool },
    /// `force` and the ids differ: the cluster will come back sealed.
    ForcedAcross,
}

/// Compares the manifest's cluster id with the live leader's. Only a seal-checked restore (no `force`) refuses a
/// mismatch; an empty or missing id on either side never refuses.
pub fn check_same_cluster(
    key: &str,
    manifest: &Manifest,
    live_cluster_id: Option<&str>,
    force: bool,
) -> Result<ClusterCheck, RestoreCheckError> {
    let snapshot = manifest.cluster_id.trim();
    let live = live_cluster_id.map(str::trim).unwrap_or_default();
    if snapshot.is_empty() || live.is_empty() {
        return Ok(ClusterCheck::Unknown {
            snapshot: snapshot.is_empty(),
            live: live.is_empty(),
        });
    }
    match (snapshot == live, force) {
        (true, _) => Ok(ClusterCheck::Same),
        (false, true) => Ok(ClusterCheck::ForcedAcross),
        (false, false) => Err(RestoreCheckError::AnotherCluster {
            key: key.to_owned(),
            snapshot_cluster: snapshot.to_owned(),
            live_cluster: live.to_owned(),
        }),
    }
}

impl ClusterCheck {
    pub fn log(&self, key: &str) {
        match self {
            Self::Same => tracing::info!(%key, "the snapshot comes from this cluster"),
            Self::Unknown { snapshot, live } => tracing::warn!(
                %key,
                snapshot_cluster_id_unknown = snapshot,
                live_cluster_id_unknown = live,
                "cannot tell whether the snapshot comes from this cluster; OpenBao's seal check still applies"
            ),
            Self::ForcedAcross => tracing::warn!(
                %key,
                "forced restore of another cluster's snapshot: the cluster will come back sealed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::manifest::sample;
    use chrono::Utc;
    use openbao_crds::BackupKind;

    const KEY: &str = "ns/c/a.snap";

    fn manifest(cluster_id: &str) -> Manifest {
        let mut manifest = sample(KEY, Utc::now(), BackupKind::Manual);
        manifest.cluster_id = cluster_id.to_owned();
        manifest
    }

    #[test]
    fn a_pinned_digest_must_match_the_manifest() {
        let manifest = manifest("cid");
        assert_eq!(check_expected_digest(KEY, &manifest, None), Ok(()));
        assert_eq!(
            check_expected_digest(KEY, &manifest, Some(&manifest.digest)),
            Ok(())
        );
        let other = SnapshotDigest::from_sha256(&[1; 32]);
        let err = check_expected_digest(KEY, &manifest, Some(&other)).unwrap_err();
        assert_eq!(err.reason(), "DigestMismatch");
        let message = err.to_string();
        for part in [KEY, other.as_str(), manifest.digest.as_str()] {
            assert!(message.contains(part), "{message} lacks {part}");
        }
    }

    #[test]
    fn another_clusters_snapshot_is_refused_only_without_force() {
        let snapshot = manifest("source-id");
        let err = check_same_cluster(KEY, &snapshot, Some("target-id"), false).unwrap_err();
        assert_eq!(err.reason(), "SnapshotFromAnotherCluster");
        let message = err.to_string();
        for part in [
            KEY,
            "source-id",
            "target-id",
            "force: true",
            "source cluster's keys",
        ] {
            assert!(message.contains(part), "{message} lacks {part}");
        }
        assert_eq!(
            check_same_cluster(KEY, &snapshot, Some("target-id"), true),
            Ok(ClusterCheck::ForcedAcross)
        );
        assert_eq!(
            check_same_cluster(KEY, &snapshot, Some("source-id"), false),
            Ok(ClusterCheck::Same)
        );
    }

    #[test]
    fn an_unknown_id_on_either_side_is_no_ground_to_refuse() {
        assert_eq!(
            check_same_cluster(KEY, &manifest(""), Some("target-id"), false),
            Ok(ClusterCheck::Unknown {
                snapshot: true,
                live: false
            })
        );
        for live in [None, Some(""), Some("  ")] {
            assert_eq!(
                check_same_cluster(KEY, &manifest("source-id"), live, false),
                Ok(ClusterCheck::Unknown {
                    snapshot: false,
                    live: true
                })
            );
        }
    }
}

//! The manifest stored at `<key>.json` beside every snapshot. Its presence is what makes a snapshot a recovery
//! point: it is written only after the bytes were verified, and restore checks the digest against it.

use chrono::{DateTime, Utc};
use openbao_crds::BackupKind;
use serde::{Deserialize, Serialize};

use super::verifier::SnapshotDigest;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format_version: u32,
    pub key: String,
    pub digest: SnapshotDigest,
    pub size: u64,
    pub cluster_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// OpenBao version of the leader that produced the snapshot.
    pub version: String,
    pub raft_index: u64,
    pub raft_term: u64,
    pub created: DateTime<Utc>,
    pub operator_version: String,
    pub kind: BackupKind,
    pub namespace: String,
    pub cluster: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("manifest format version {0} is not supported")]
    UnsupportedFormat(u32),
    #[error("manifest describes {described}, not {expected}")]
    WrongKey { described: String, expected: String },
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest always serializes")
    }

    /// Parses a manifest and checks it describes `snapshot_key` (a manifest copied next to another object does
    /// not vouch for it).
    pub fn parse_for(bytes: &[u8], snapshot_key: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest = serde_json::from_slice(bytes)?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(ManifestError::UnsupportedFormat(manifest.format_version));
        }
        if manifest.key != snapshot_key {
            return Err(ManifestError::WrongKey {
                described: manifest.key,
                expected: snapshot_key.to_owned(),
            });
        }
        Ok(manifest)
    }
}

#[cfg(test)]
pub(crate) fn sample(key: &str, created: DateTime<Utc>, kind: BackupKind) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        key: key.to_owned(),
        digest: SnapshotDigest::from_sha256(&[0; 32]),
        size: 10,
        cluster_id: "cid".into(),
        cluster_name: Some("vault-cluster".into()),
        version: "2.7.2".into(),
        raft_index: 1,
        raft_term: 1,
        created,
        operator_version: "0.1.0".into(),
        kind,
        namespace: "ns".into(),
        cluster: "c".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_camel_case_fields() {
        let manifest = sample("ns/c/a.snap", Utc::now(), BackupKind::PreUpgrade);
        let json = manifest.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.contains("\"raftIndex\": 1"), "{text}");
        assert!(text.contains("\"kind\": \"pre-upgrade\""), "{text}");
        assert!(text.contains("\"digest\": \"sha256:"), "{text}");
        assert_eq!(Manifest::parse_for(&json, "ns/c/a.snap").unwrap(), manifest);
    }

    #[test]
    fn manifest_for_another_key_is_refused() {
        let json = sample("ns/c/a.snap", Utc::now(), BackupKind::Manual).to_json();
        assert!(matches!(
            Manifest::parse_for(&json, "ns/c/b.snap"),
            Err(ManifestError::WrongKey { .. })
        ));
        assert!(matches!(
            Manifest::parse_for(b"{", "x"),
            Err(ManifestError::Malformed(_))
        ));
    }
}

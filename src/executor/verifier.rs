//! One pass over snapshot bytes that yields everything we vouch for: SHA-256 digest, size and the archive check.
//! Backup feeds it from the OpenBao response, restore from the object store; neither keeps a copy in memory.

use sha2::{Digest, Sha256};

use super::archive::{ArchiveCheck, ArchiveError, ArchiveFacts};

/// `sha256:<hex>` over the stored bytes, exactly as written into manifests and status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SnapshotDigest(String);

impl SnapshotDigest {
    pub fn from_sha256(bytes: &[u8]) -> Self {
        Self(format!("sha256:{}", hex::encode(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SnapshotDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a verified snapshot is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSnapshot {
    pub digest: SnapshotDigest,
    pub size: u64,
    pub archive: ArchiveFacts,
}

#[derive(Default)]
pub struct StreamingVerifier {
    hasher: Sha256,
    size: u64,
    archive: ArchiveCheck,
}

impl StreamingVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, chunk: &[u8]) -> Result<(), ArchiveError> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.archive.feed(chunk)
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Result<VerifiedSnapshot, ArchiveError> {
        let archive = self.archive.finish()?;
        Ok(VerifiedSnapshot {
            digest: SnapshotDigest::from_sha256(&self.hasher.finalize()),
            size: self.size,
            archive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::archive::test_archives::snapshot;

    #[test]
    fn digest_and_size_cover_the_compressed_bytes() {
        let bytes = snapshot(b"some state", 9, 2);
        let mut verifier = StreamingVerifier::new();
        for chunk in bytes.chunks(100) {
            verifier.update(chunk).unwrap();
        }
        let verified = verifier.finish().unwrap();
        assert_eq!(verified.size, bytes.len() as u64);
        assert_eq!(
            verified.digest,
            SnapshotDigest::from_sha256(&Sha256::digest(&bytes))
        );
        assert!(verified.digest.as_str().starts_with("sha256:"));
        assert_eq!(verified.digest.as_str().len(), 7 + 64);
        assert_eq!(verified.archive.raft_index, 9);
    }
}

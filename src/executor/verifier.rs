//! One pass over snapshot bytes that yields everything we vouch for: SHA-256 digest, size and the archive check.
//! Backup feeds it from the OpenBao response (every member's digest checked), restore from the object store
//! (the stream digest, held to the manifest, stands for the members: see [`MemberDigests`]); neither keeps a
//! copy in memory.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::archive::{ArchiveCheck, ArchiveError, ArchiveFacts, MemberDigests};
use super::batch_queue::ChunkConsumer;

/// `sha256:<hex>` over the stored bytes, exactly as written into manifests and status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SnapshotDigest(String);

impl SnapshotDigest {
    pub fn from_sha256(bytes: &[u8]) -> Self {
        Self(format!("sha256:{}", hex::encode(bytes)))
    }

    /// Reads a digest as the operator writes it: `sha256:` and 64 lowercase hex digits, nothing else.
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("sha256:")?;
        let well_formed = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(text.to_owned()))
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

pub struct StreamingVerifier {
    hasher: Sha256,
    size: u64,
    archive: ArchiveCheck,
}

impl StreamingVerifier {
    pub fn new(digests: MemberDigests) -> Self {
        Self {
            hasher: Sha256::new(),
            size: 0,
            archive: ArchiveCheck::new(digests),
        }
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

/// A [`StreamingVerifier`] on a blocking thread, fed in batches through a bounded queue: hashing and inflating
/// then overlap the network reads and part uploads instead of stalling them.
pub struct BackgroundVerifier {
    checker: ChunkConsumer<Result<VerifiedSnapshot, ArchiveError>>,
}

impl BackgroundVerifier {
    pub fn start(digests: MemberDigests) -> Self {
        let checker = ChunkConsumer::spawn(move |chunks| {
            let mut verifier = StreamingVerifier::new(digests);
            for chunk in chunks {
                verifier.update(&chunk)?;
            }
            verifier.finish()
        });
        Self { checker }
    }

    /// Queues a chunk. `false` means the checker already stopped on a failure: call
    /// [`BackgroundVerifier::finish`] for it.
    pub async fn feed(&mut self, chunk: Bytes) -> bool {
        self.checker.push(chunk).await
    }

    /// Ends the stream and waits for the verdict.
    pub async fn finish(self) -> Result<VerifiedSnapshot, ArchiveError> {
        match self.checker.finish().await {
            Ok(verdict) => verdict,
            Err(join_error) => Err(ArchiveError::CheckerFailed(join_error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::archive::test_archives::snapshot;
    use crate::executor::batch_queue::BATCH_BYTES;

    #[test]
    fn digest_and_size_cover_the_compressed_bytes() {
        let bytes = snapshot(b"some state", 9, 2);
        let mut verifier = StreamingVerifier::new(MemberDigests::All);
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

    #[test]
    fn only_the_canonical_digest_form_parses() {
        let canonical = SnapshotDigest::from_sha256(&[0xab; 32]);
        assert_eq!(
            SnapshotDigest::parse(canonical.as_str()),
            Some(canonical.clone())
        );
        let hex = &canonical.as_str()[7..];
        for bad in [
            String::new(),
            hex.to_owned(),
            format!("sha256:{}", hex.to_uppercase()),
            format!("SHA256:{hex}"),
            format!("sha512:{hex}"),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha256:{}g", &hex[1..]),
            format!(" sha256:{hex}"),
        ] {
            assert_eq!(SnapshotDigest::parse(&bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn background_verdict_matches_the_inline_one() {
        // Several batches, with chunks that straddle their boundaries.
        let state: Vec<u8> = (0..3 * BATCH_BYTES).map(|i| (i % 251) as u8).collect();
        let bytes = snapshot(&state, 3, 1);
        let mut background = BackgroundVerifier::start(MemberDigests::All);
        for chunk in bytes.chunks(7777) {
            assert!(background.feed(Bytes::copy_from_slice(chunk)).await);
        }
        let verified = background.finish().await.unwrap();
        assert_eq!(verified.size, bytes.len() as u64);
        assert_eq!(
            verified.digest,
            SnapshotDigest::from_sha256(&Sha256::digest(&bytes))
        );
        assert_eq!(verified.archive.raft_index, 3);
    }

    #[tokio::test]
    async fn an_early_failure_stops_accepting_and_is_reported() {
        static MORE: [u8; 64 * 1024] = [0; 64 * 1024];
        let mut background = BackgroundVerifier::start(MemberDigests::All);
        background
            .feed(Bytes::from_static(b"not gzip at all"))
            .await;
        let mut accepted = 0;
        while background.feed(Bytes::from_static(&MORE)).await {
            accepted += 1;
            assert!(accepted < 10_000, "the checker never stopped");
            tokio::task::yield_now().await;
        }
        assert_eq!(background.finish().await, Err(ArchiveError::NotGzip));
    }
}

//! Restore's first half: copy a snapshot from the store to a scratch file while hashing and checking it, and
//! hold it to its manifest. Nothing here talks to OpenBao: a snapshot that fails these checks never reaches it.

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::archive::{ArchiveError, MemberDigests};
use super::manifest::Manifest;
use super::scratch_io::ScratchWriter;
use super::stage::Reason;
use super::verifier::{BackgroundVerifier, VerifiedSnapshot};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the scratch file: {0}")]
    Scratch(#[source] std::io::Error),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("the snapshot's digest {actual} differs from its manifest's {expected}")]
    DigestMismatch { expected: String, actual: String },
    #[error("the snapshot is {actual} bytes, its manifest says {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
}

impl Reason for DownloadError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Store(e) => e.reason(),
            Self::Scratch(_) => "ScratchSpaceError",
            Self::Archive(e) => e.reason(),
            Self::DigestMismatch { .. } => "DigestMismatch",
            Self::SizeMismatch { .. } => "SizeMismatch",
        }
    }
}

/// A verified copy on local disk; the directory goes away when this is dropped.
pub struct ScratchSnapshot {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub verified: VerifiedSnapshot,
}

pub async fn download_verified(
    store: &Arc<dyn ObjectStore>,
    key: &str,
    manifest: &Manifest,
    scratch_parent: Option<&std::path::Path>,
) -> Result<ScratchSnapshot, DownloadError> {
    let dir = match scratch_parent {
        Some(parent) => tempfile::Builder::new()
            .prefix("openbao-restore-")
            .tempdir_in(parent),
        None => tempfile::Builder::new()
            .prefix("openbao-restore-")
            .tempdir(),
    }
    .map_err(DownloadError::Scratch)?;
    let path = dir.path().join("snapshot.tar.gz");
    let mut writer =
        ScratchWriter::start(std::fs::File::create(&path).map_err(DownloadError::Scratch)?);

    let result = store
        .get(&Path::from(key))
        .await
        .map_err(StoreError::request("downloading", key))?;
    // The scratch file never grows past the manifest's size: a wrong or swapped object is refused before it
    // is downloaded (its listed size), or as soon as it delivers more bytes than the manifest names.
    if result.meta.size != manifest.size {
        return Err(DownloadError::SizeMismatch {
            expected: manifest.size,
            actual: result.meta.size,
        });
    }
    let mut stream = result.into_stream();
    let mut verifier = BackgroundVerifier::start(MemberDigests::Captured);
    let mut received: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                drop(verifier.finish().await);
                return Err(StoreError::request("downloading", key)(err).into());
            }
        };
        received += chunk.len() as u64;
        if received > manifest.size {
            drop(verifier.finish().await);
            return Err(DownloadError::SizeMismatch {
                expected: manifest.size,
                actual: received,
            });
        }
        if !verifier.feed(chunk.clone()).await || !writer.write(chunk).await {
            break;
        }
    }
    let verified = verifier.finish().await;
    let written = writer.finish().await;
    let verified = verified?;
    written.map_err(DownloadError::Scratch)?;
    check_against_manifest(&verified, manifest)?;
    Ok(ScratchSnapshot {
        _dir: dir,
        path,
        verified,
    })
}

pub fn check_against_manifest(
    verified: &VerifiedSnapshot,
    manifest: &Manifest,
) -> Result<(), DownloadError> {
    if verified.size != manifest.size {
        return Err(DownloadError::SizeMismatch {
            expected: manifest.size,
            actual: verified.size,
        });
    }
    if verified.digest != manifest.digest {
        return Err(DownloadError::DigestMismatch {
            expected: manifest.digest.to_string(),
            actual: verified.digest.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::archive::test_archives::snapshot;
    use crate::executor::manifest::sample;
    use crate::executor::verifier::SnapshotDigest;
    use object_store::PutPayload;
    use object_store::memory::InMemory;
    use openbao_crds::BackupKind;
    use sha2::{Digest, Sha256};

    async fn stored(bytes: &[u8]) -> (Arc<dyn ObjectStore>, Manifest) {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        store
            .put(&Path::from("ns/c/a.snap"), PutPayload::from(bytes.to_vec()))
            .await
            .unwrap();
        let mut manifest = sample("ns/c/a.snap", chrono::Utc::now(), BackupKind::Manual);
        manifest.size = bytes.len() as u64;
        manifest.digest = SnapshotDigest::from_sha256(&Sha256::digest(bytes));
        (store, manifest)
    }

    #[tokio::test]
    async fn good_snapshot_lands_in_a_scratch_file() {
        let bytes = snapshot(b"state", 5, 1);
        let (store, manifest) = stored(&bytes).await;
        let scratch = download_verified(&store, "ns/c/a.snap", &manifest, None)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&scratch.path).unwrap(), bytes);
        let dir = scratch.path.parent().unwrap().to_owned();
        drop(scratch);
        assert!(!dir.exists(), "scratch directory is removed");
    }

    #[tokio::test]
    async fn a_valid_archive_that_is_not_the_manifests_is_refused() {
        let (store, mut manifest) = stored(&snapshot(b"state", 5, 1)).await;
        manifest.digest = SnapshotDigest::from_sha256(&[1; 32]);
        let err = download_verified(&store, "ns/c/a.snap", &manifest, None)
            .await
            .err()
            .unwrap();
        assert_eq!(err.reason(), "DigestMismatch");
    }

    #[tokio::test]
    async fn damage_inside_state_bin_is_refused_even_with_a_manifest_rewritten_to_match() {
        // state.bin's digest is not recomputed at restore; gzip's CRC-32 still covers its bytes.
        let state: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut bytes = snapshot(&state, 5, 1);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        let (store, manifest) = stored(&bytes).await;
        let err = download_verified(&store, "ns/c/a.snap", &manifest, None)
            .await
            .err()
            .unwrap();
        assert_eq!(err.reason(), "SnapshotCorruptGzip", "{err}");
    }

    #[tokio::test]
    async fn an_object_larger_than_its_manifest_is_refused_before_it_fills_the_scratch_dir() {
        let bytes = snapshot(&[7; 4096], 5, 1);
        let (store, mut manifest) = stored(&bytes).await;
        manifest.size = 100;
        let scratch_parent = tempfile::tempdir().unwrap();
        let err = download_verified(
            &store,
            "ns/c/a.snap",
            &manifest,
            Some(scratch_parent.path()),
        )
        .await
        .err()
        .unwrap();
        assert_eq!(err.reason(), "SizeMismatch");
        assert!(err.to_string().contains("100"), "{err}");
        assert_eq!(
            std::fs::read_dir(scratch_parent.path()).unwrap().count(),
            0,
            "nothing left in the scratch dir"
        );
    }
}

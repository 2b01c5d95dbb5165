//! The backup tee: one pass over the snapshot stream feeds the SHA-256 hasher, the archive checker and a
//! multipart upload, with bounded memory (at most `concurrency` parts in flight plus the one being filled).
//!
//! The upload is completed only after the archive check passed, so a bad or empty snapshot never becomes a
//! visible object: on any failure the multipart upload is aborted instead.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::archive::{ArchiveError, MemberDigests};
use super::verifier::{BackgroundVerifier, VerifiedSnapshot};
use crate::openbao::OpenBaoError;
use crate::store::StoreError;

/// Cleanup must not hang a Job whose store just died; the Job's deadline is the outer bound anyway.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadTuning {
    pub part_size: usize,
    pub concurrency: usize,
    /// Azure: object_store's abort is a no-op there, and the uploaded blocks would stay (uncommitted, billed)
    /// for 7 days. A Put Blob on the name discards them; the empty blob it leaves is deleted right after.
    pub discard_uncommitted_blocks: bool,
}

/// Which side of the tee failed; each maps to its own stage.
#[derive(Debug, thiserror::Error)]
pub enum TeeError {
    #[error(transparent)]
    Source(OpenBaoError),
    #[error(transparent)]
    Verify(ArchiveError),
    #[error(transparent)]
    Store(StoreError),
}

pub async fn stream_to_store<S>(
    store: &Arc<dyn ObjectStore>,
    key: &str,
    source: S,
    tuning: UploadTuning,
) -> Result<VerifiedSnapshot, TeeError>
where
    S: Stream<Item = Result<Bytes, OpenBaoError>>,
{
    let mut source = std::pin::pin!(source);

    // Look at the first bytes before creating the upload: an empty or non-gzip answer (a standby's 200) fails
    // here without leaving even an unfinished upload behind.
    let first = loop {
        match source.next().await.transpose().map_err(TeeError::Source)? {
            Some(chunk) if chunk.is_empty() => continue,
            other => break other,
        }
    };
    let Some(first) = first else {
        return Err(TeeError::Verify(ArchiveError::Empty));
    };
    if first[0] != GZIP_MAGIC[0] || first.get(1).is_some_and(|b| *b != GZIP_MAGIC[1]) {
        return Err(TeeError::Verify(ArchiveError::NotGzip));
    }

    let mut verifier = BackgroundVerifier::start(MemberDigests::All);
    let path = Path::from(key);
    let upload = match store.put_multipart(&path).await {
        Ok(upload) => upload,
        Err(e) => {
            drop(verifier.finish().await);
            return Err(TeeError::Store(StoreError::request(
                "starting the multipart upload of",
                key,
            )(e)));
        }
    };
    let mut writer = WriteMultipart::new_with_chunk_size(upload, tuning.part_size);

    let pumped = pump(first, &mut source, &mut verifier, &mut writer, tuning, key).await;
    // A pump failure (OpenBao or store) cut the stream short, so the checker's verdict on the partial stream
    // says nothing; when the pump ran to the end (or stopped because the checker failed) the verdict decides.
    let verified = match pumped {
        Err(err) => {
            drop(verifier.finish().await);
            abort(writer, key).await;
            discard_blocks(store, key, tuning).await;
            return Err(err);
        }
        Ok(()) => match verifier.finish().await {
            Ok(verified) => verified,
            Err(err) => {
                abort(writer, key).await;
                discard_blocks(store, key, tuning).await;
                return Err(TeeError::Verify(err));
            }
        },
    };
    tracing::info!(
        key,
        size = verified.size,
        "snapshot streamed and verified; completing the upload"
    );
    // `finish` aborts the upload itself when completing fails.
    if let Err(e) = writer.finish().await {
        discard_blocks(store, key, tuning).await;
        return Err(TeeError::Store(StoreError::request(
            "completing the multipart upload of",
            key,
        )(e)));
    }
    Ok(verified)
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Moves every chunk to the checker and the uploader. Stops early (with `Ok`) when the checker has already
/// failed; the caller then reads its verdict.
async fn pump<S>(
    first: Bytes,
    source: &mut std::pin::Pin<&mut S>,
    verifier: &mut BackgroundVerifier,
    writer: &mut WriteMultipart,
    tuning: UploadTuning,
    key: &str,
) -> Result<(), TeeError>
where
    S: Stream<Item = Result<Bytes, OpenBaoError>>,
{
    let mut next = Some(first);
    while let Some(chunk) = next {
        if !verifier.feed(chunk.clone()).await {
            return Ok(());
        }
        // Back-pressure: wait for a free upload slot before buffering more, so memory stays at
        // (concurrency + 1) parts however fast OpenBao sends.
        writer
            .wait_for_capacity(tuning.concurrency)
            .await
            .map_err(|e| TeeError::Store(StoreError::request("uploading a part of", key)(e)))?;
        writer.put(chunk);
        next = source.next().await.transpose().map_err(TeeError::Source)?;
    }
    Ok(())
}

async fn abort(writer: WriteMultipart, key: &str) {
    match tokio::time::timeout(CLEANUP_TIMEOUT, writer.abort()).await {
        Ok(Ok(())) => tracing::info!(key, "aborted the multipart upload"),
        Ok(Err(error)) => tracing::warn!(key, %error, "aborting the multipart upload failed"),
        Err(_) => tracing::warn!(key, "aborting the multipart upload timed out"),
    }
}

/// See [`UploadTuning::discard_uncommitted_blocks`]. Best effort, like the abort: the key is this run's own.
async fn discard_blocks(store: &Arc<dyn ObjectStore>, key: &str, tuning: UploadTuning) {
    if !tuning.discard_uncommitted_blocks {
        return;
    }
    let path = Path::from(key);
    let discard = async {
        store.put(&path, PutPayload::new()).await?;
        store.delete(&path).await
    };
    match tokio::time::timeout(CLEANUP_TIMEOUT, discard).await {
        Ok(Ok(())) => tracing::info!(key, "discarded the uploaded blocks"),
        Ok(Err(error)) => tracing::warn!(key, %error, "discarding the uploaded blocks failed"),
        Err(_) => tracing::warn!(key, "discarding the uploaded blocks timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::archive::test_archives::snapshot;
    use object_store::memory::InMemory;

    fn chunks(
        bytes: &[u8],
        size: usize,
    ) -> impl Stream<Item = Result<Bytes, OpenBaoError>> + use<> {
        let pieces: Vec<Result<Bytes, OpenBaoError>> = bytes
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(pieces)
    }

    fn tuning() -> UploadTuning {
        UploadTuning {
            part_size: 5 << 20,
            concurrency: 2,
            discard_uncommitted_blocks: false,
        }
    }

    #[tokio::test]
    async fn verified_stream_lands_as_one_object() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let state: Vec<u8> = (0..12_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let bytes = snapshot(&state, 7, 2);
        let verified = stream_to_store(&store, "ns/c/a.snap", chunks(&bytes, 65536), tuning())
            .await
            .unwrap();
        assert_eq!(verified.size, bytes.len() as u64);
        let stored = store
            .get(&Path::from("ns/c/a.snap"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), bytes.as_slice());
    }

    #[tokio::test]
    async fn empty_answer_creates_nothing() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let err = stream_to_store(&store, "ns/c/a.snap", chunks(b"", 1), tuning())
            .await
            .unwrap_err();
        assert!(
            matches!(err, TeeError::Verify(ArchiveError::Empty)),
            "{err:?}"
        );
        assert!(store.list(None).next().await.is_none());
    }

    #[tokio::test]
    async fn corrupt_archive_is_never_completed() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut bytes = snapshot(&[3u8; 100_000], 1, 1);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        let err = stream_to_store(&store, "ns/c/a.snap", chunks(&bytes, 1000), tuning())
            .await
            .unwrap_err();
        assert!(matches!(err, TeeError::Verify(_)), "{err:?}");
        assert!(store.list(None).next().await.is_none());
    }
}

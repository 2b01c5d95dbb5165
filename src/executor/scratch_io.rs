//! The restore's scratch copy, written and read back on blocking threads with plain file calls.
//!
//! tokio's file type runs every call on the blocking pool and copies each buffer once more on the way; for a copy
//! of a whole snapshot those copies and hops are a measurable share of the restore's CPU.

use std::io::{Read, Write};
use std::path::Path;

use bytes::Bytes;

use super::batch_queue::ChunkConsumer;

/// Size of each piece of the request body read back from the scratch file.
const READ_CHUNK_BYTES: usize = 1 << 20;
/// Pieces read ahead of the request.
const READ_AHEAD_CHUNKS: usize = 2;

/// Appends chunks to a file on a blocking thread, fed in batches.
pub struct ScratchWriter {
    writer: ChunkConsumer<std::io::Result<()>>,
}

impl ScratchWriter {
    pub fn start(mut file: std::fs::File) -> Self {
        let writer = ChunkConsumer::spawn(move |chunks| {
            for chunk in chunks {
                file.write_all(&chunk)?;
            }
            // No fsync: the copy is read back by this process only, so the page cache is enough.
            Ok(())
        });
        Self { writer }
    }

    /// Queues a chunk. `false` means a write already failed: call [`ScratchWriter::finish`] for the error.
    pub async fn write(&mut self, chunk: Bytes) -> bool {
        self.writer.push(chunk).await
    }

    /// Writes what is still queued and reports the first failure.
    pub async fn finish(self) -> std::io::Result<()> {
        match self.writer.finish().await {
            Ok(result) => result,
            Err(join_error) => Err(std::io::Error::other(join_error.to_string())),
        }
    }
}

/// A request body that streams the file from a blocking thread, [`READ_CHUNK_BYTES`] at a time.
pub fn file_body(path: &Path) -> std::io::Result<reqwest::Body> {
    Ok(reqwest::Body::wrap_stream(file_chunks(path)?))
}

fn file_chunks(
    path: &Path,
) -> std::io::Result<impl futures::Stream<Item = std::io::Result<Bytes>> + use<>> {
    let mut file = std::fs::File::open(path)?;
    let (queue, chunks) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD_CHUNKS);
    tokio::task::spawn_blocking(move || {
        loop {
            // read_to_end fills the spare capacity without zeroing it first.
            let mut buffer = Vec::with_capacity(READ_CHUNK_BYTES);
            let read = (&mut file)
                .take(READ_CHUNK_BYTES as u64)
                .read_to_end(&mut buffer);
            let item = match read {
                Ok(0) => return,
                Ok(_) => Ok(Bytes::from(buffer)),
                Err(error) => Err(error),
            };
            let failed = item.is_err();
            // A closed queue means the request ended (sent, failed or dropped): stop reading.
            if queue.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    Ok(futures::stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|item| (item, chunks))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn what_is_written_is_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy");
        let data: Vec<u8> = (0..3 * READ_CHUNK_BYTES + 12_345)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut writer = ScratchWriter::start(std::fs::File::create(&path).unwrap());
        for chunk in data.chunks(7777) {
            assert!(writer.write(Bytes::copy_from_slice(chunk)).await);
        }
        writer.finish().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);

        let mut read = Vec::new();
        let mut stream = std::pin::pin!(file_chunks(&path).unwrap());
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= READ_CHUNK_BYTES);
            read.extend_from_slice(&chunk);
        }
        assert_eq!(read, data);
    }

    #[tokio::test]
    async fn a_failed_write_is_reported() {
        // A read-only handle: every write fails.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy");
        std::fs::write(&path, b"").unwrap();
        let mut writer = ScratchWriter::start(std::fs::File::open(&path).unwrap());
        let mut accepted = 0;
        while writer.write(Bytes::from_static(&[7; 64 * 1024])).await {
            accepted += 1;
            assert!(accepted < 10_000, "the writer never reported its failure");
            tokio::task::yield_now().await;
        }
        assert!(writer.finish().await.is_err());
    }
}

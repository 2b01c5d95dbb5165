//! Hands a stream of chunks to a blocking thread ([`ChunkConsumer`]) in batches of about [`BATCH_BYTES`]: the network yields chunks of
//! a few KiB to a few hundred KiB, and waking the thread for each one costs more CPU than the hand-over saves.
//! Batches hold references to the chunks, not copies, and the queue bound keeps memory bounded.

use bytes::Bytes;
use tokio::sync::mpsc;

/// Bytes gathered before the thread is woken.
pub const BATCH_BYTES: usize = 256 << 10;
/// Batches waiting for the thread: with [`BATCH_BYTES`], under 1 MiB.
const QUEUE_BATCHES: usize = 2;

struct BatchQueue {
    queue: Option<mpsc::Sender<Vec<Bytes>>>,
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

fn channel() -> (BatchQueue, mpsc::Receiver<Vec<Bytes>>) {
    let (queue, batches) = mpsc::channel(QUEUE_BATCHES);
    let sender = BatchQueue {
        queue: Some(queue),
        pending: Vec::new(),
        pending_bytes: 0,
    };
    (sender, batches)
}

impl BatchQueue {
    /// Queues a chunk (a cheap reference-counted clone). `false` means the thread stopped taking batches (it
    /// failed), noticed at the latest one batch later.
    async fn push(&mut self, chunk: Bytes) -> bool {
        self.pending_bytes += chunk.len();
        self.pending.push(chunk);
        if self.pending_bytes < BATCH_BYTES {
            return self.queue.as_ref().is_some_and(|q| !q.is_closed());
        }
        self.send_pending().await
    }

    /// Sends what is pending and ends the stream: the thread's receiver then yields `None`.
    async fn close(&mut self) {
        self.send_pending().await;
        self.queue.take();
    }

    async fn send_pending(&mut self) -> bool {
        let batch = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        match &self.queue {
            Some(queue) if batch.is_empty() => !queue.is_closed(),
            Some(queue) => queue.send(batch).await.is_ok(),
            None => false,
        }
    }
}

/// A blocking thread that gets every pushed chunk, in order, and ends with a result.
pub struct ChunkConsumer<T> {
    queue: BatchQueue,
    worker: tokio::task::JoinHandle<T>,
}

impl<T: Send + 'static> ChunkConsumer<T> {
    /// Runs `work` on a blocking thread over the chunks pushed until [`ChunkConsumer::finish`]. Returning early
    /// (a failure) makes later pushes answer `false`.
    pub fn spawn<F>(work: F) -> Self
    where
        F: FnOnce(&mut dyn Iterator<Item = Bytes>) -> T + Send + 'static,
    {
        let (queue, batches) = channel();
        let worker = tokio::task::spawn_blocking(move || {
            let mut chunks = BlockingChunks {
                batches,
                current: Vec::new().into_iter(),
            };
            work(&mut chunks)
        });
        Self { queue, worker }
    }

    /// Queues a chunk (a cheap reference-counted clone). `false` means the thread already returned.
    pub async fn push(&mut self, chunk: Bytes) -> bool {
        self.queue.push(chunk).await
    }

    /// Ends the stream and waits for the thread's result.
    pub async fn finish(mut self) -> Result<T, tokio::task::JoinError> {
        self.queue.close().await;
        self.worker.await
    }
}

/// The consumer thread's view: the chunks of each batch in turn, blocking while the queue is empty.
struct BlockingChunks {
    batches: mpsc::Receiver<Vec<Bytes>>,
    current: std::vec::IntoIter<Bytes>,
}

impl Iterator for BlockingChunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.current.next() {
                return Some(chunk);
            }
            self.current = self.batches.blocking_recv()?.into_iter();
        }
    }
}

//! API semantics independent of HTTP: storage, resources, admission, writes, lists, watches, tables.

pub mod admission;
pub mod age;
pub mod builtin;
pub mod error;
pub mod events;
pub mod lifecycle;
pub mod list;
pub mod meta;
pub mod request;
pub mod resources;
pub mod selectors;
pub mod state;
pub mod store;
pub mod table;
pub mod watch;
pub mod write;

pub use crate::patch::managed;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use state::State;

/// Everything the HTTP layer and the in-process controllers share.
pub struct Cluster {
    state: Mutex<State>,
    /// Wakes the lifecycle controllers (garbage collector, namespaces) after a write.
    pub changed: Notify,
    /// Bumped to end every open watch (fault injection, shutdown).
    pub watch_cut: tokio::sync::watch::Sender<u64>,
    pub bookmark_interval: Duration,
}

impl Cluster {
    pub fn new(history_limit: usize, bookmark_interval: Duration) -> Self {
        let (watch_cut, _) = tokio::sync::watch::channel(0);
        Self {
            state: Mutex::new(State::new(history_limit)),
            changed: Notify::new(),
            watch_cut,
            bookmark_interval,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn cut_watches(&self) {
        self.watch_cut.send_modify(|generation| *generation += 1);
    }
}

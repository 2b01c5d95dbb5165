//! kube-runtime watchers that record when they first saw each object and how many events they got.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct Seen {
    pub first_seen: HashMap<String, Instant>,
    pub events: usize,
    pub errors: usize,
}

/// A running watcher; aborted on drop.
pub struct Recorder {
    pub seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    pub fn start<K>(api: Api<K>, config: watcher::Config) -> Self
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            let stream = watcher(api, config);
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                let mut seen = record.lock().unwrap();
                match event {
                    Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                        seen.events += 1;
                        let name = object.meta().name.clone().unwrap_or_default();
                        seen.first_seen.entry(name).or_insert_with(Instant::now);
                    }
                    Ok(watcher::Event::Delete(_)) => seen.events += 1,
                    Ok(_) => {}
                    Err(_) => seen.errors += 1,
                }
            }
        });
        Self { seen, task }
    }

    pub fn distinct(&self) -> usize {
        self.seen.lock().unwrap().first_seen.len()
    }

    /// Waits (polling; this is a bench) until `count` distinct objects were seen or `deadline` passed.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < deadline {
            if self.distinct() >= count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Waits (polling) until the watcher got `count` add/modify/delete events or `deadline` passed.
    pub async fn wait_for_events(&self, count: usize, deadline: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < deadline {
            if self.seen.lock().unwrap().events >= count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// For each name in `sent`, how long after that instant the watcher first saw it.
    pub fn delays_after(&self, sent: &HashMap<String, Instant>) -> Vec<Duration> {
        let seen = self.seen.lock().unwrap();
        sent.iter()
            .filter_map(|(name, at)| {
                seen.first_seen
                    .get(name)
                    .map(|seen| seen.saturating_duration_since(*at))
            })
            .collect()
    }
}

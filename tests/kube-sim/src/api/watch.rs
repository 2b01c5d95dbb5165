//! Watch streams: replay from a resourceVersion (or synthetic ADDED events), then live changes, with selector
//! transitions, bookmarks, timeouts, 410 Expired and connection cuts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::Cluster;
use super::error::ApiError;
use super::selectors::Selectors;
use super::state::Scope;
use super::store::{EventType, StoreEvent, WatchStart};
use super::table::{IncludeObject, table};

pub struct WatchRequest {
    pub scope: Scope,
    pub selectors: Selectors,
    /// `None` or `"0"`: start with the current objects as ADDED events.
    pub resource_version: Option<u64>,
    pub bookmarks: bool,
    /// Watch-list (`sendInitialEvents=true`): current objects as ADDED, then a bookmark marking their end.
    pub send_initial_events: bool,
    pub timeout: Duration,
    pub as_table: Option<IncludeObject>,
}

/// Starts a watch; the returned receiver yields JSON lines until the watch ends.
pub fn start(cluster: &Arc<Cluster>, request: WatchRequest) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(256);
    let mut cut = cluster.watch_cut.subscribe();
    let (initial, live, start_rv) = {
        let state = cluster.lock();
        let gr = request.scope.group_resource();
        let live = state.store.subscribe();
        let current = state.store.resource_version();
        let start_from = if request.send_initial_events {
            None
        } else {
            request.resource_version
        };
        match start_from {
            None => {
                let namespace = if request.scope.resource.namespaced {
                    request.scope.namespace.as_deref()
                } else {
                    None
                };
                let added: Vec<Frame> = state
                    .store
                    .list(&gr, namespace)
                    .into_iter()
                    .filter(|o| request.selectors.matches(o))
                    .map(|o| Frame::Event(EventType::Added, o, None))
                    .collect();
                let mut added = added;
                if request.send_initial_events {
                    added.push(Frame::InitialEventsEnd(current));
                }
                (added, live, current)
            }
            Some(rv) => match state.store.events_after(rv) {
                WatchStart::Expired => {
                    let error = ApiError::expired(format!(
                        "too old resource version: {rv} ({})",
                        current.saturating_sub(1)
                    ));
                    (vec![Frame::Error(error.to_status())], live, current)
                }
                WatchStart::After(events) => {
                    let frames = events
                        .iter()
                        .filter_map(|e| transition(&request, e))
                        .collect();
                    (frames, live, current)
                }
            },
        }
    };
    let bookmark_interval = cluster.bookmark_interval;
    tokio::spawn(async move {
        let expired = initial.iter().any(|f| matches!(f, Frame::Error(_)));
        for frame in initial {
            if tx.send(render(&request, frame)).await.is_err() {
                return;
            }
        }
        if expired {
            return;
        }
        run_live(&request, live, start_rv, &tx, &mut cut, bookmark_interval).await;
    });
    rx
}

async fn run_live(
    request: &WatchRequest,
    mut live: broadcast::Receiver<Arc<StoreEvent>>,
    mut last_rv: u64,
    tx: &mpsc::Sender<Bytes>,
    cut: &mut tokio::sync::watch::Receiver<u64>,
    bookmark_interval: Duration,
) {
    let deadline = tokio::time::sleep(request.timeout);
    tokio::pin!(deadline);
    let mut bookmarks = tokio::time::interval_at(
        tokio::time::Instant::now() + bookmark_interval,
        bookmark_interval,
    );
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) => {
                    // Events older than the replayed window were already sent (or predate the watch).
                    if event.resource_version <= last_rv {
                        continue;
                    }
                    last_rv = event.resource_version;
                    if let Some(frame) = transition(request, &event)
                        && tx.send(render(request, frame)).await.is_err()
                    {
                        return;
                    }
                }
                // A watcher that cannot keep up is closed, as the apiserver's watch cache does; it resumes from
                // the last resourceVersion it saw.
                Err(_) => return,
            },
            _ = bookmarks.tick(), if request.bookmarks => {
                if tx.send(render(request, Frame::Bookmark(last_rv))).await.is_err() {
                    return;
                }
            }
            _ = &mut deadline => return,
            _ = cut.changed() => return,
            _ = tx.closed() => return,
        }
    }
}

enum Frame {
    /// With the store event it comes from, whose serialized object every watcher shares.
    Event(EventType, Arc<Value>, Option<Arc<StoreEvent>>),
    Bookmark(u64),
    InitialEventsEnd(u64),
    Error(Value),
}

/// What one store change means for this watcher, given its resource, namespace and selectors.
fn transition(request: &WatchRequest, event: &Arc<StoreEvent>) -> Option<Frame> {
    let scope = &request.scope;
    if event.resource != scope.group_resource() {
        return None;
    }
    if scope.resource.namespaced
        && let Some(ns) = &scope.namespace
        && super::meta::namespace_of(&event.object) != ns
    {
        return None;
    }
    let now = request.selectors.matches(&event.object);
    let before = event
        .previous
        .as_ref()
        .is_some_and(|p| request.selectors.matches(p));
    let frame = |event_type| Frame::Event(event_type, event.object.clone(), Some(event.clone()));
    match event.event_type {
        EventType::Added => now.then(|| frame(EventType::Added)),
        EventType::Deleted => before.then(|| frame(EventType::Deleted)),
        EventType::Modified => match (before, now) {
            (true, true) => Some(frame(EventType::Modified)),
            (false, true) => Some(frame(EventType::Added)),
            (true, false) => Some(frame(EventType::Deleted)),
            (false, false) => None,
        },
    }
}

fn render(request: &WatchRequest, frame: Frame) -> Bytes {
    let scope = &request.scope;
    let line = match frame {
        Frame::Event(event_type, object, shared)
            if request.as_table.is_none() && stored_as_presented(scope, &object) =>
        {
            let json = match shared {
                Some(event) => event.object_json().clone(),
                None => Bytes::from(serde_json::to_vec(&*object).expect("JSON values serialize")),
            };
            return event_line(event_type, &json);
        }
        Frame::Event(event_type, object, _) => {
            let object = match request.as_table {
                Some(include) => {
                    let rv = object["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    table(scope, &[(*object).clone()], include, &rv, None)
                }
                None => scope.present(&object),
            };
            json!({"type": event_type.as_str(), "object": object})
        }
        Frame::Bookmark(rv) => json!({
            "type": "BOOKMARK",
            "object": {"kind": scope.resource.kind, "apiVersion": scope.api_version(),
                "metadata": {"resourceVersion": rv.to_string()}},
        }),
        Frame::InitialEventsEnd(rv) => json!({
            "type": "BOOKMARK",
            "object": {"kind": scope.resource.kind, "apiVersion": scope.api_version(),
                "metadata": {"resourceVersion": rv.to_string(),
                    "annotations": {"k8s.io/initial-events-end": "true"}}},
        }),
        Frame::Error(status) => json!({"type": "ERROR", "object": status}),
    };
    let mut bytes = serde_json::to_vec(&line).expect("JSON values serialize");
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// Whether the stored object already carries the apiVersion and kind this watch presents.
fn stored_as_presented(scope: &Scope, object: &Value) -> bool {
    object["kind"] == scope.resource.kind.as_str()
        && object["apiVersion"].as_str() == Some(scope.api_version().as_str())
}

/// `{"type":…,"object":…}` and a newline, around an already serialized object.
fn event_line(event_type: EventType, object_json: &[u8]) -> Bytes {
    let head = format!("{{\"type\":\"{}\",\"object\":", event_type.as_str());
    let mut line = Vec::with_capacity(head.len() + object_json.len() + 2);
    line.extend_from_slice(head.as_bytes());
    line.extend_from_slice(object_json);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

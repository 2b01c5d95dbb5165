//! Objects in memory, one cluster-wide resourceVersion counter, and a bounded history of changes from which
//! watches resume (like etcd's compaction window).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

use super::resources::GroupResource;

mod ownership;
mod snapshot;

pub use ownership::{Location, OwnershipIndex, owner_uids};
pub use snapshot::SnapshotError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One committed change. `previous` lets a selector-filtered watch turn "stopped matching" into DELETED.
#[derive(Debug)]
pub struct StoreEvent {
    pub resource_version: u64,
    pub resource: GroupResource,
    pub event_type: EventType,
    pub object: Arc<Value>,
    pub previous: Option<Arc<Value>>,
    /// `object` as JSON, serialized by the first watcher that sends it and shared by all others.
    pub json: OnceLock<Bytes>,
}

impl StoreEvent {
    pub fn object_json(&self) -> &Bytes {
        self.json.get_or_init(|| {
            Bytes::from(serde_json::to_vec(&*self.object).expect("JSON values serialize"))
        })
    }
}

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects. Ordered like etcd keys.
pub type ObjectKey = (String, String);

/// Where a watch starts.
pub enum WatchStart {
    /// Replay history after this resourceVersion.
    After(Vec<Arc<StoreEvent>>),
    /// The version is older than the history window: the client must re-list (410 Gone).
    Expired,
}

/// Changes the lifecycle controllers (garbage collector, namespaces) have not looked at yet.
pub enum Changes {
    Events(Vec<Arc<StoreEvent>>),
    /// Too many piled up (nobody drained them): everything must be looked at.
    Everything,
}

/// Beyond this many undrained changes the store stops recording them and asks for a full scan instead.
const PENDING_LIMIT: usize = 100_000;

pub struct Store {
    objects: BTreeMap<GroupResource, BTreeMap<ObjectKey, Arc<Value>>>,
    ownership: OwnershipIndex,
    pending: Vec<Arc<StoreEvent>>,
    pending_overflowed: bool,
    resource_version: u64,
    history: VecDeque<Arc<StoreEvent>>,
    history_limit: usize,
    /// Every change after this version is still in `history`.
    oldest_resumable: u64,
    events: broadcast::Sender<Arc<StoreEvent>>,
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (events, _) = broadcast::channel(65_536);
        Self {
            objects: BTreeMap::new(),
            ownership: OwnershipIndex::default(),
            pending: Vec::new(),
            pending_overflowed: false,
            resource_version: 1,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            oldest_resumable: 1,
            events,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoreEvent>> {
        self.events.subscribe()
    }

    pub fn get(&self, resource: &GroupResource, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(resource)?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Objects of one resource in key order; `namespace` `None` means all namespaces.
    pub fn list(&self, resource: &GroupResource, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let Some(objects) = self.objects.get(resource) else {
            return Vec::new();
        };
        match namespace {
            None => objects.values().cloned().collect(),
            Some(ns) => objects
                .range((ns.to_string(), String::new())..)
                .take_while(|((object_ns, _), _)| object_ns == ns)
                .map(|(_, object)| object.clone())
                .collect(),
        }
    }

    /// Every stored object with its resource, for cross-resource scans (garbage collection, namespaces).
    pub fn all_objects(&self) -> impl Iterator<Item = (&GroupResource, &Arc<Value>)> {
        self.objects
            .iter()
            .flat_map(|(resource, objects)| objects.values().map(move |o| (resource, o)))
    }

    /// Every object in one namespace, of every resource.
    pub fn namespace_contents(
        &self,
        namespace: &str,
    ) -> impl Iterator<Item = (&GroupResource, &Arc<Value>)> {
        let start = (namespace.to_string(), String::new());
        self.objects.iter().flat_map(move |(resource, objects)| {
            objects
                .range(start.clone()..)
                .take_while(move |((object_ns, _), _)| object_ns == namespace)
                .map(move |(_, object)| (resource, object))
        })
    }

    pub fn get_at(&self, location: &Location) -> Option<Arc<Value>> {
        self.objects.get(&location.0)?.get(&location.1).cloned()
    }

    pub fn ownership(&self) -> &OwnershipIndex {
        &self.ownership
    }

    /// Hands over the changes made since the last call.
    pub fn take_changes(&mut self) -> Changes {
        if std::mem::take(&mut self.pending_overflowed) {
            self.pending.clear();
            return Changes::Everything;
        }
        Changes::Events(std::mem::take(&mut self.pending))
    }

    /// Stores a new or changed object under a fresh resourceVersion and publishes the change.
    pub fn put(&mut self, resource: &GroupResource, mut object: Value) -> Arc<Value> {
        let key = object_key(&object);
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
        let object = Arc::new(object);
        let location = (resource.clone(), key);
        let previous = self
            .objects
            .entry(resource.clone())
            .or_default()
            .insert(location.1.clone(), object.clone());
        if let Some(previous) = &previous {
            self.ownership.remove(&location, previous);
        }
        self.ownership.insert(&location, &object);
        let event_type = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.publish(resource, event_type, object.clone(), previous);
        object
    }

    /// Removes an object; the DELETED event carries the object's last state under a fresh resourceVersion.
    pub fn remove(
        &mut self,
        resource: &GroupResource,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<Value>> {
        let key = (namespace.to_string(), name.to_string());
        let previous = self.objects.get_mut(resource)?.remove(&key)?;
        self.ownership.remove(&(resource.clone(), key), &previous);
        self.resource_version += 1;
        let mut last = (*previous).clone();
        last["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
        let last = Arc::new(last);
        self.publish(resource, EventType::Deleted, last.clone(), Some(previous));
        Some(last)
    }

    /// Forgets every object of a resource without events (its CRD went away, so nobody can watch it).
    pub fn drop_resource(&mut self, resource: &GroupResource) {
        for (key, object) in self.objects.remove(resource).unwrap_or_default() {
            self.ownership.remove(&(resource.clone(), key), &object);
        }
        // No events tell the garbage collector that these owners are gone: it has to look at everything.
        self.pending_overflowed = true;
    }

    /// Events after `resource_version` for a watch to replay, or `Expired` if they are no longer all kept.
    pub fn events_after(&self, resource_version: u64) -> WatchStart {
        if resource_version < self.oldest_resumable {
            return WatchStart::Expired;
        }
        let start = self
            .history
            .partition_point(|e| e.resource_version <= resource_version);
        WatchStart::After(self.history.range(start..).cloned().collect())
    }

    fn publish(
        &mut self,
        resource: &GroupResource,
        event_type: EventType,
        object: Arc<Value>,
        previous: Option<Arc<Value>>,
    ) {
        let event = Arc::new(StoreEvent {
            resource_version: self.resource_version,
            resource: resource.clone(),
            event_type,
            object,
            previous,
            json: OnceLock::new(),
        });
        self.history.push_back(event.clone());
        if !self.pending_overflowed {
            self.pending.push(event.clone());
            if self.pending.len() > PENDING_LIMIT {
                self.pending_overflowed = true;
                self.pending.clear();
            }
        }
        while self.history.len() > self.history_limit {
            if let Some(evicted) = self.history.pop_front() {
                self.oldest_resumable = evicted.resource_version;
            }
        }
        // No receivers is normal (nobody watching).
        let _ = self.events.send(event);
    }
}

pub fn object_key(object: &Value) -> ObjectKey {
    let metadata = &object["metadata"];
    (
        metadata["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        metadata["name"].as_str().unwrap_or_default().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pods() -> GroupResource {
        GroupResource::new("", "pods")
    }

    fn pod(ns: &str, name: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name}})
    }

    #[test]
    fn every_write_gets_a_higher_resource_version() {
        let mut store = Store::new(100);
        let a = store.put(&pods(), pod("a", "x"));
        let b = store.put(&pods(), pod("a", "x"));
        let rv = |o: &Value| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        assert!(rv(&b) > rv(&a));
        let deleted = store.remove(&pods(), "a", "x").unwrap();
        assert!(rv(&deleted) > rv(&b));
    }

    #[test]
    fn list_by_namespace_is_key_ordered_and_scoped() {
        let mut store = Store::new(100);
        store.put(&pods(), pod("b", "2"));
        store.put(&pods(), pod("a", "9"));
        store.put(&pods(), pod("b", "1"));
        let names: Vec<_> = store
            .list(&pods(), Some("b"))
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["1", "2"]);
        assert_eq!(store.list(&pods(), None).len(), 3);
    }

    #[test]
    fn resuming_before_the_history_window_is_expired() {
        let mut store = Store::new(2);
        let start = store.resource_version();
        for i in 0..5 {
            store.put(&pods(), pod("a", &i.to_string()));
        }
        assert!(matches!(store.events_after(start), WatchStart::Expired));
        let WatchStart::After(events) = store.events_after(store.resource_version() - 1) else {
            panic!("recent version must resume")
        };
        assert_eq!(events.len(), 1);
    }
}

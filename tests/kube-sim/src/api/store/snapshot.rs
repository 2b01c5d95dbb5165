//! The objects of a resource as they were at an earlier resourceVersion, rebuilt from the change history. A paged
//! list serves every page from the first page's snapshot, like etcd, so a watch started from that version misses
//! nothing: objects created between two pages under a key before the continue key are not listed, but their
//! ADDED events come after the snapshot's version.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::{EventType, ObjectKey, Store, object_key};
use crate::api::resources::GroupResource;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Changes after the version were compacted away.
    #[error("the resource version is older than the history kept")]
    Expired,
    #[error("the resource version is newer than the store's")]
    Future,
}

impl Store {
    /// Objects of one resource (one namespace, or all with `None`) at `resource_version`, in key order.
    pub fn list_at(
        &self,
        resource: &GroupResource,
        namespace: Option<&str>,
        resource_version: u64,
    ) -> Result<Vec<Arc<Value>>, SnapshotError> {
        if resource_version > self.resource_version {
            return Err(SnapshotError::Future);
        }
        if resource_version < self.oldest_resumable {
            return Err(SnapshotError::Expired);
        }
        let in_scope = |key: &ObjectKey| namespace.is_none_or(|ns| key.0 == ns);
        let start = self
            .history
            .partition_point(|e| e.resource_version <= resource_version);
        // Undo newer changes, newest first, so each key ends up as it was before its oldest newer change.
        let mut undone: BTreeMap<ObjectKey, Option<Arc<Value>>> = BTreeMap::new();
        for event in self.history.range(start..).rev() {
            if event.resource != *resource {
                continue;
            }
            let key = object_key(&event.object);
            if !in_scope(&key) {
                continue;
            }
            let before = match event.event_type {
                EventType::Added => None,
                EventType::Modified | EventType::Deleted => event.previous.clone(),
            };
            undone.insert(key, before);
        }
        let mut objects: BTreeMap<ObjectKey, Arc<Value>> = match namespace {
            Some(ns) => self
                .objects
                .get(resource)
                .into_iter()
                .flat_map(|objects| {
                    objects
                        .range((ns.to_string(), String::new())..)
                        .take_while(|((object_ns, _), _)| object_ns == ns)
                })
                .filter(|(key, _)| !undone.contains_key(*key))
                .map(|(key, object)| (key.clone(), object.clone()))
                .collect(),
            None => self
                .objects
                .get(resource)
                .into_iter()
                .flatten()
                .filter(|(key, _)| !undone.contains_key(*key))
                .map(|(key, object)| (key.clone(), object.clone()))
                .collect(),
        };
        objects.extend(
            undone
                .into_iter()
                .filter_map(|(key, before)| before.map(|object| (key, object))),
        );
        Ok(objects.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pods() -> GroupResource {
        GroupResource::new("", "pods")
    }

    fn pod(name: &str, value: i64) -> Value {
        json!({"metadata": {"namespace": "a", "name": name}, "value": value})
    }

    fn values(objects: &[Arc<Value>]) -> Vec<(String, i64)> {
        objects
            .iter()
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                    o["value"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn rebuilds_the_state_at_an_earlier_version() {
        let mut store = Store::new(100);
        store.put(&pods(), pod("b", 1));
        store.put(&pods(), pod("d", 1));
        let at = store.resource_version();
        store.put(&pods(), pod("a", 1));
        store.put(&pods(), pod("b", 2));
        store.put(&pods(), pod("b", 3));
        store.remove(&pods(), "a", "d");
        store.put(&GroupResource::new("", "configmaps"), pod("c", 1));

        let then = store.list_at(&pods(), Some("a"), at).unwrap();
        assert_eq!(values(&then), [("b".into(), 1), ("d".into(), 1)]);
        let now = store
            .list_at(&pods(), None, store.resource_version())
            .unwrap();
        assert_eq!(values(&now), [("a".into(), 1), ("b".into(), 3)]);
        assert_eq!(store.list_at(&pods(), Some("other"), at).unwrap().len(), 0);
    }

    #[test]
    fn versions_outside_the_history_are_errors() {
        let mut store = Store::new(2);
        let start = store.resource_version();
        for i in 0..5 {
            store.put(&pods(), pod(&i.to_string(), i));
        }
        assert_eq!(
            store.list_at(&pods(), None, start),
            Err(SnapshotError::Expired)
        );
        assert_eq!(
            store.list_at(&pods(), None, store.resource_version() + 1),
            Err(SnapshotError::Future)
        );
    }
}

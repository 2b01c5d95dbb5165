//! Indexes the garbage collector needs without scanning the store: which uids are live and where, and which objects
//! name a given uid as owner. Kept in step with every put and remove.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::ObjectKey;
use crate::api::resources::GroupResource;

/// Where an object is stored.
pub type Location = (GroupResource, ObjectKey);

#[derive(Default)]
pub struct OwnershipIndex {
    uids: HashMap<String, Location>,
    dependents: HashMap<String, BTreeSet<Location>>,
}

impl OwnershipIndex {
    pub fn insert(&mut self, location: &Location, object: &Value) {
        let uid = crate::api::meta::uid_of(object);
        if !uid.is_empty() {
            self.uids.insert(uid.to_string(), location.clone());
        }
        for owner in owner_uids(object) {
            self.dependents
                .entry(owner.to_string())
                .or_default()
                .insert(location.clone());
        }
    }

    pub fn remove(&mut self, location: &Location, object: &Value) {
        let uid = crate::api::meta::uid_of(object);
        if self.uids.get(uid) == Some(location) {
            self.uids.remove(uid);
        }
        for owner in owner_uids(object) {
            if let Some(dependents) = self.dependents.get_mut(owner) {
                dependents.remove(location);
                if dependents.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }

    pub fn location_of(&self, uid: &str) -> Option<&Location> {
        self.uids.get(uid)
    }

    pub fn dependents_of(&self, uid: &str) -> impl Iterator<Item = &Location> {
        self.dependents.get(uid).into_iter().flatten()
    }
}

pub fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|reference| reference["uid"].as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn location(name: &str) -> Location {
        (
            GroupResource::new("", "pods"),
            ("ns".to_string(), name.to_string()),
        )
    }

    #[test]
    fn tracks_live_uids_and_dependents_through_changes() {
        let mut index = OwnershipIndex::default();
        let owner = json!({"metadata": {"uid": "o"}});
        let child = json!({"metadata": {"uid": "c", "ownerReferences": [{"uid": "o"}]}});
        index.insert(&location("owner"), &owner);
        index.insert(&location("child"), &child);
        assert_eq!(index.location_of("o"), Some(&location("owner")));
        assert_eq!(
            index.dependents_of("o").collect::<Vec<_>>(),
            [&location("child")]
        );

        let orphaned = json!({"metadata": {"uid": "c"}});
        index.remove(&location("child"), &child);
        index.insert(&location("child"), &orphaned);
        assert_eq!(index.dependents_of("o").count(), 0);
        index.remove(&location("owner"), &owner);
        assert_eq!(index.location_of("o"), None);
    }
}

//! Which owned fields a write changed, found by walking the old and new object together. Subtrees that are equal
//! are not walked: a status write to a large object costs what its status costs.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{FieldPath, ListShape};
use crate::patch::keys::item_identity;

/// Metadata fields a manager can own; the rest of `metadata` belongs to the server.
const OWNED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

#[derive(Debug, Default)]
pub struct FieldDiff {
    /// Leaf paths of the new object below subtrees that differ.
    pub present: BTreeSet<FieldPath>,
    /// Leaf paths whose value differs from (or is absent in) the old object.
    pub changed: BTreeSet<FieldPath>,
    /// Roots of subtrees equal in both objects.
    unchanged: BTreeSet<FieldPath>,
}

impl FieldDiff {
    pub fn between(old: Option<&Value>, new: &Value, shape: ListShape) -> Self {
        let mut diff = Self::default();
        let Value::Object(map) = new else {
            return diff;
        };
        for (key, value) in map {
            match key.as_str() {
                "apiVersion" | "kind" => {}
                "metadata" => {
                    for owned in OWNED_METADATA {
                        if let Some(child) = value.get(owned) {
                            let mut prefix = vec!["f:metadata".to_string(), format!("f:{owned}")];
                            let before = old.and_then(|o| o["metadata"].get(owned));
                            // Metadata lists are keyed/sets in every resource, whatever its schema says.
                            diff.walk(before, child, ListShape::Builtin, owned, &mut prefix);
                        }
                    }
                }
                _ => {
                    let mut prefix = vec![format!("f:{key}")];
                    let before = old.and_then(|o| o.get(key));
                    diff.walk(before, value, shape.child(key), key, &mut prefix);
                }
            }
        }
        diff
    }

    /// Whether `path` is a leaf of the new object (given that it was one of the old object, as owned paths are).
    pub fn still_present(&self, path: &[String]) -> bool {
        self.is_unchanged(path) || self.present.contains(path)
    }

    pub fn is_unchanged(&self, path: &[String]) -> bool {
        (1..=path.len()).any(|length| self.unchanged.contains(&path[..length]))
    }

    fn leaf(&mut self, old: Option<&Value>, new: &Value, prefix: &FieldPath) {
        self.present.insert(prefix.clone());
        if old != Some(new) {
            self.changed.insert(prefix.clone());
        }
    }

    fn walk(
        &mut self,
        old: Option<&Value>,
        new: &Value,
        shape: ListShape,
        field: &str,
        prefix: &mut FieldPath,
    ) {
        if old == Some(new) {
            self.unchanged.insert(prefix.clone());
            return;
        }
        match new {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    prefix.push(format!("f:{key}"));
                    let before = old.and_then(|o| o.get(key));
                    self.walk(before, child, shape.child(key), key, prefix);
                    prefix.pop();
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let old_items = old.and_then(Value::as_array);
                if shape.is_set(field) && items.iter().all(|i| !i.is_object()) {
                    for item in items {
                        prefix.push(format!("v:{item}"));
                        let before = old_items.and_then(|o| o.iter().find(|i| *i == item));
                        self.leaf(before, item, prefix);
                        prefix.pop();
                    }
                } else if let Some(keys) = shape
                    .keys(field, items)
                    .filter(|_| items.iter().all(Value::is_object))
                {
                    // First item per identity, as a path lookup finds it.
                    let mut before_by_identity: HashMap<String, &Value> = HashMap::new();
                    for item in old_items.into_iter().flatten() {
                        before_by_identity
                            .entry(item_identity(item, &keys).to_string())
                            .or_insert(item);
                    }
                    for item in items {
                        let identity = item_identity(item, &keys).to_string();
                        let before = before_by_identity.get(&identity).copied();
                        prefix.push(format!("k:{identity}"));
                        self.walk(before, item, shape.items(), "", prefix);
                        prefix.pop();
                    }
                } else {
                    self.leaf(old, new, prefix);
                }
            }
            _ => self.leaf(old, new, prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{leaf_paths, value_at};
    use super::*;

    fn path(text: &str) -> FieldPath {
        text.split('/').map(str::to_string).collect()
    }

    /// The walk agrees with the definition: leaves of the new object, changed where the old value differs.
    #[test]
    fn agrees_with_a_path_by_path_comparison() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "E", "value": "1"}]}], "args": ["1"]},
            "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}});
        let new = json!({"metadata": {"labels": {"a": "1", "b": "3"}, "finalizers": ["x", "y"]},
            "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "E", "value": "2"}]}], "args": ["1"]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "Init", "status": "True"}]}});
        let diff = FieldDiff::between(Some(&old), &new, ListShape::Builtin);
        let all = leaf_paths(&new, ListShape::Builtin);
        for leaf in &all {
            assert!(diff.still_present(leaf), "{leaf:?} is present");
            let changed = value_at(&old, leaf) != value_at(&new, leaf);
            assert_eq!(diff.changed.contains(leaf), changed, "{leaf:?}");
        }
        assert!(diff.is_unchanged(&path("f:spec/f:args")));
        assert!(!diff.still_present(&path("f:spec/f:gone")));
        assert!(
            diff.changed
                .contains(&path("f:metadata/f:finalizers/v:\"y\""))
        );
    }

    #[test]
    fn without_an_old_object_every_leaf_changed() {
        let new = json!({"spec": {"containers": [{"name": "c", "image": "i"}]}});
        let diff = FieldDiff::between(None, &new, ListShape::Builtin);
        assert_eq!(diff.changed, leaf_paths(&new, ListShape::Builtin));
        assert_eq!(diff.present, diff.changed);
    }
}

//! Field ownership (`metadata.managedFields`, `FieldsV1`): which manager set which field. Updates take over the
//! fields they change; server-side apply uses the sets to detect conflicts and to remove fields a manager stops
//! applying.

mod diff;

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use diff::FieldDiff;

use super::keys::{child_schema, is_merged_scalar_list, item_identity, item_schema, list_keys};
use crate::api::resources::Origin;
use crate::api::state::Scope;

/// A path in FieldsV1 notation: `f:<field>`, `k:<json identity>` for keyed list items, `v:<json>` for set items.
pub type FieldPath = Vec<String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub fields: BTreeSet<FieldPath>,
}

/// How keyed lists are recognised while walking an object.
#[derive(Clone, Copy)]
pub enum ListShape<'a> {
    Builtin,
    Schema(Option<&'a Value>),
}

impl<'a> ListShape<'a> {
    pub fn for_scope(scope: &'a Scope) -> ListShape<'a> {
        match &scope.resource.origin {
            Origin::Builtin { .. } => ListShape::Builtin,
            Origin::Custom { .. } => ListShape::Schema(
                scope
                    .resource
                    .version(&scope.version)
                    .and_then(|v| v.schema.as_ref())
                    .map(|s| &s.raw),
            ),
        }
    }

    fn child(self, field: &str) -> Self {
        match self {
            Self::Builtin => Self::Builtin,
            Self::Schema(schema) => Self::Schema(child_schema(schema, field)),
        }
    }

    fn items(self) -> Self {
        match self {
            Self::Builtin => Self::Builtin,
            Self::Schema(schema) => Self::Schema(item_schema(schema)),
        }
    }

    fn keys(self, field: &str, items: &[Value]) -> Option<Vec<String>> {
        match self {
            Self::Builtin => list_keys(field, None, items),
            Self::Schema(Some(schema)) => list_keys(field, Some(schema), items),
            Self::Schema(None) => None,
        }
    }

    fn is_set(self, field: &str) -> bool {
        match self {
            Self::Builtin => is_merged_scalar_list(field),
            Self::Schema(Some(schema)) => {
                schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set")
            }
            Self::Schema(None) => false,
        }
    }
}

/// Leaf paths of every field a manager can own (server-owned metadata excluded).
pub fn leaf_paths(object: &Value, shape: ListShape) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Value::Object(map) = object else {
        return out;
    };
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                for owned in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(child) = value.get(owned) {
                        let mut prefix = vec!["f:metadata".to_string(), format!("f:{owned}")];
                        // Metadata lists are keyed/sets in every resource, whatever its schema says.
                        walk(child, ListShape::Builtin, owned, &mut prefix, &mut out);
                    }
                }
            }
            _ => {
                let mut prefix = vec![format!("f:{key}")];
                walk(value, shape.child(key), key, &mut prefix, &mut out);
            }
        }
    }
    out
}

fn walk(
    value: &Value,
    shape: ListShape,
    field: &str,
    prefix: &mut FieldPath,
    out: &mut BTreeSet<FieldPath>,
) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(format!("f:{key}"));
                walk(child, shape.child(key), key, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            if shape.is_set(field) && items.iter().all(|i| !i.is_object()) {
                for item in items {
                    prefix.push(format!("v:{item}"));
                    out.insert(prefix.clone());
                    prefix.pop();
                }
            } else if let Some(keys) = shape
                .keys(field, items)
                .filter(|_| items.iter().all(Value::is_object))
            {
                for item in items {
                    prefix.push(format!("k:{}", item_identity(item, &keys)));
                    walk(item, shape.items(), "", prefix, out);
                    prefix.pop();
                }
            } else {
                out.insert(prefix.clone());
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// The value at a path, if present.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = object;
    for element in path {
        current = step(current, element)?;
    }
    Some(current)
}

fn step<'a>(current: &'a Value, element: &str) -> Option<&'a Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return current.get(field);
    }
    let items = current.as_array()?;
    if let Some(identity) = element.strip_prefix("k:") {
        let identity: Value = serde_json::from_str(identity).ok()?;
        let keys: Vec<String> = identity.as_object()?.keys().cloned().collect();
        return items.iter().find(|i| item_identity(i, &keys) == identity);
    }
    let wanted: Value = serde_json::from_str(element.strip_prefix("v:")?).ok()?;
    items.iter().find(|i| **i == wanted)
}

/// Removes the field at `path`, then list items and objects the removal left empty.
pub fn remove_path(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = &mut *object;
    for element in parents {
        let next = match element.strip_prefix("f:") {
            Some(field) => current.get_mut(field),
            None => {
                let Some(index) = current.as_array().and_then(|items| {
                    let target = step(current, element)?;
                    items.iter().position(|i| std::ptr::eq(i, target))
                }) else {
                    return;
                };
                current.get_mut(index)
            }
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match last.strip_prefix("f:") {
        Some(field) => {
            if let Some(map) = current.as_object_mut() {
                map.remove(field);
            }
        }
        None => {
            let target = step(current, last).map(|t| t as *const Value);
            if let (Some(target), Some(items)) = (target, current.as_array_mut()) {
                items.retain(|i| !std::ptr::eq(i, target));
            }
        }
    }
    prune_empty(object, path.len());
}

fn prune_empty(value: &mut Value, depth: usize) {
    if depth == 0 {
        return;
    }
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                prune_empty(child, depth - 1);
            }
            map.retain(|_, child| !matches!(child, Value::Object(m) if m.is_empty()));
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                prune_empty(item, depth - 1);
            }
        }
        _ => {}
    }
}

pub fn read(object: &Value) -> Vec<Entry> {
    let Some(entries) = object["metadata"]["managedFields"].as_array() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let mut fields = BTreeSet::new();
            collect_fields(&entry["fieldsV1"], &mut Vec::new(), &mut fields);
            Some(Entry {
                manager: entry["manager"].as_str()?.to_string(),
                operation: if entry["operation"] == "Apply" {
                    Operation::Apply
                } else {
                    Operation::Update
                },
                api_version: entry["apiVersion"].as_str().unwrap_or_default().to_string(),
                time: entry["time"].as_str().unwrap_or_default().to_string(),
                fields,
            })
        })
        .collect()
}

fn collect_fields(node: &Value, prefix: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    let Value::Object(map) = node else { return };
    let children: Vec<_> = map.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if children.is_empty() {
        if !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        return;
    }
    for (key, child) in children {
        prefix.push(key.clone());
        collect_fields(child, prefix, out);
        prefix.pop();
    }
}

pub fn write(object: &mut Value, entries: &[Entry]) {
    let rendered: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": render_fields(&e.fields),
            })
        })
        .collect();
    if let Some(metadata) = object["metadata"].as_object_mut() {
        if rendered.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(rendered));
        }
    }
}

fn render_fields(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for element in path {
            let child = node.entry(element.clone()).or_insert_with(|| json!({}));
            node = child.as_object_mut().expect("fieldsV1 nodes are objects");
        }
    }
    Value::Object(root)
}

/// Gives `manager` (an Update) the fields this write changed, taking them from whoever owned them, and drops
/// ownership of fields that no longer exist. An empty manager name leaves ownership as the caller set it.
pub fn record_update(new: &mut Value, old: Option<&Value>, manager: &str, scope: &Scope) {
    if manager.is_empty() {
        return;
    }
    let shape = ListShape::for_scope(scope);
    let diff = FieldDiff::between(old, new, shape);
    let mut entries = old.map(read).unwrap_or_default();
    let mut dropped = false;
    for entry in entries.iter_mut() {
        let before = entry.fields.len();
        entry.fields.retain(|p| {
            diff.still_present(p) && !(diff.changed.contains(p) && entry.manager != manager)
        });
        dropped |= entry.fields.len() != before;
    }
    let changed = diff.changed;
    if changed.is_empty()
        && !dropped
        && let Some(old) = old
        && new["metadata"].get("managedFields") == old["metadata"].get("managedFields")
    {
        // Ownership is as stored: skip rendering it again.
        return;
    }
    if !changed.is_empty() {
        let api_version = scope.api_version();
        let now = crate::api::meta::now();
        match entries
            .iter_mut()
            .find(|e| e.manager == manager && e.operation == Operation::Update)
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.time = now;
                entry.api_version = api_version;
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version,
                time: now,
                fields: changed,
            }),
        }
    }
    write(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_paths_key_lists_and_skip_server_metadata() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "c", "image": "i"}], "args": ["1"]}});
        let paths: Vec<String> = leaf_paths(&pod, ListShape::Builtin)
            .into_iter()
            .map(|p| p.join("/"))
            .collect();
        assert_eq!(
            paths,
            [
                "f:metadata/f:finalizers/v:\"x\"",
                "f:metadata/f:labels/f:a",
                "f:spec/f:args",
                "f:spec/f:containers/k:{\"name\":\"c\"}/f:image",
                "f:spec/f:containers/k:{\"name\":\"c\"}/f:name",
            ]
        );
    }

    #[test]
    fn fields_v1_round_trips() {
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "i"}], "replicas": 2}});
        let fields = leaf_paths(&pod, ListShape::Builtin);
        let mut holder = json!({"metadata": {}});
        write(
            &mut holder,
            &[Entry {
                manager: "m".into(),
                operation: Operation::Apply,
                api_version: "v1".into(),
                time: "t".into(),
                fields: fields.clone(),
            }],
        );
        assert_eq!(read(&holder)[0].fields, fields);
    }

    #[test]
    fn remove_path_drops_emptied_items() {
        let mut o = json!({"spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d"}], "x": {"y": 1}}});
        remove_path(
            &mut o,
            &[
                "f:spec".into(),
                "f:containers".into(),
                "k:{\"name\":\"c\"}".into(),
            ],
        );
        remove_path(&mut o, &["f:spec".into(), "f:x".into(), "f:y".into()]);
        assert_eq!(o, json!({"spec": {"containers": [{"name": "d"}]}}));
    }
}

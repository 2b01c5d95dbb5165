//! Server-side apply: the applied configuration is merged into the live object, fields another manager owns with a
//! different value conflict (unless forced), and fields this manager applied before but no longer does are removed.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::keys::item_identity;
use super::managed::{self, Entry, FieldPath, ListShape, Operation};
use crate::api::error::{ApiError, ApiResult, Cause, StatusReason};
use crate::api::state::Scope;

/// Parses an apply body (YAML or JSON) into an object.
pub fn decode(body: &[u8]) -> ApiResult<Value> {
    let value: Value = serde_norway::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("apply patches must be objects"));
    }
    Ok(value)
}

/// The object after applying `applied` as `manager` onto `current` (`None` when the object does not exist yet).
pub fn apply(
    scope: &Scope,
    current: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    let shape = ListShape::for_scope(scope);
    let applied_paths = managed::leaf_paths(applied, shape);
    let empty = json!({"metadata": {}});
    let live = current.unwrap_or(&empty);
    let mut entries = managed::read(live);
    let is_self = |e: &Entry| e.manager == manager && e.operation == Operation::Apply;

    let mut conflicts: Vec<(String, FieldPath)> = Vec::new();
    for entry in entries.iter_mut().filter(|e| !is_self(e)) {
        let contested: Vec<FieldPath> = entry
            .fields
            .intersection(&applied_paths)
            .filter(|p| managed::value_at(live, p) != managed::value_at(applied, p))
            .cloned()
            .collect();
        if force {
            entry.fields.retain(|p| !contested.contains(p));
        } else {
            conflicts.extend(contested.into_iter().map(|p| (entry.manager.clone(), p)));
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict_error(scope, applied, &conflicts));
    }

    let previously: BTreeSet<FieldPath> = entries
        .iter()
        .filter(|e| is_self(e))
        .flat_map(|e| e.fields.clone())
        .collect();
    let mut object = live.clone();
    for path in previously.difference(&applied_paths) {
        let owned_elsewhere = entries
            .iter()
            .filter(|e| !is_self(e))
            .any(|e| e.fields.contains(path));
        if !owned_elsewhere {
            managed::remove_path(&mut object, path);
        }
    }
    merge(&mut object, applied, shape, "");

    entries.retain(|e| !is_self(e));
    entries.push(Entry {
        manager: manager.to_string(),
        operation: Operation::Apply,
        api_version: scope.api_version(),
        time: crate::api::meta::now(),
        fields: applied_paths,
    });
    managed::write(&mut object, &entries);
    Ok(object)
}

fn conflict_error(scope: &Scope, applied: &Value, conflicts: &[(String, FieldPath)]) -> ApiError {
    let version = scope.api_version();
    let render = |path: &FieldPath| -> String {
        path.iter()
            .map(|e| match e.strip_prefix("f:") {
                Some(field) => format!(".{field}"),
                None => format!("[{}]", &e[2..]),
            })
            .collect()
    };
    let causes: Vec<Cause> = conflicts
        .iter()
        .map(|(manager, path)| {
            Cause::new(
                "FieldManagerConflict",
                render(path),
                format!("conflict with \"{manager}\" using {version}"),
            )
        })
        .collect();
    let list: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.message, c.field))
        .collect();
    let noun = if conflicts.len() == 1 {
        "conflict"
    } else {
        "conflicts"
    };
    let mut error = ApiError::new(
        StatusReason::Conflict,
        format!(
            "Apply failed with {} {noun}: {}",
            conflicts.len(),
            list.join("\n")
        ),
    );
    error.causes = causes;
    error.subject = Some(Box::new(crate::api::error::Subject {
        group: scope.resource.group.clone(),
        kind: scope.resource.plural.clone(),
        name: crate::api::meta::name_of(applied).to_string(),
    }));
    error
}

/// Deep merge for apply: maps recurse, keyed lists merge by key, set lists union, other lists are replaced.
fn merge(target: &mut Value, applied: &Value, shape: ListShape, field: &str) {
    let _ = field;
    match (target, applied) {
        (Value::Object(live), Value::Object(applied)) => {
            for (key, value) in applied {
                if value.is_null() {
                    live.remove(key);
                    continue;
                }
                let child_shape = if key == "metadata" {
                    ListShape::Builtin
                } else {
                    shape_child(shape, key)
                };
                match live.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value, child_shape, key)
                    }
                    Some(Value::Array(existing)) if value.is_array() => {
                        merge_list(existing, value.as_array().unwrap(), child_shape, key)
                    }
                    _ => {
                        live.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

fn shape_child<'a>(shape: ListShape<'a>, key: &str) -> ListShape<'a> {
    match shape {
        ListShape::Builtin => ListShape::Builtin,
        ListShape::Schema(schema) => ListShape::Schema(super::keys::child_schema(schema, key)),
    }
}

fn merge_list(existing: &mut Vec<Value>, applied: &[Value], shape: ListShape, field: &str) {
    let (keys, is_set, item_shape) = match shape {
        ListShape::Builtin => (
            super::keys::list_keys(field, None, applied),
            super::keys::is_merged_scalar_list(field),
            ListShape::Builtin,
        ),
        ListShape::Schema(schema) => (
            schema.and_then(|s| super::keys::list_keys(field, Some(s), applied)),
            schema
                .and_then(|s| s.get("x-kubernetes-list-type"))
                .and_then(Value::as_str)
                == Some("set"),
            ListShape::Schema(super::keys::item_schema(schema)),
        ),
    };
    if is_set && applied.iter().all(|i| !i.is_object()) {
        for item in applied {
            if !existing.contains(item) {
                existing.push(item.clone());
            }
        }
        return;
    }
    let Some(keys) = keys.filter(|_| applied.iter().all(Value::is_object)) else {
        *existing = applied.to_vec();
        return;
    };
    for item in applied {
        let identity = item_identity(item, &keys);
        match existing
            .iter_mut()
            .find(|e| item_identity(e, &keys) == identity)
        {
            Some(found) => merge(found, item, item_shape, ""),
            None => existing.push(item.clone()),
        }
    }
}

//! Pruning of undeclared fields and dropping of non-nullable nulls, as the apiserver does before defaulting.

use serde_json::Value;

use super::preserves_unknown;

pub(super) fn prune_value(schema: &Value, value: &mut Value, path: &str, pruned: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let embedded = schema
                .get("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                == Some(true);
            if preserves_unknown(schema) && schema.get("properties").is_none() {
                return;
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child_path = format!("{path}.{key}");
                if embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(child) = properties.and_then(|p| p.get(&key)) {
                    prune_value(child, map.get_mut(&key).unwrap(), &child_path, pruned);
                } else if let Some(additional) = additional.filter(|a| a.is_object()) {
                    prune_value(additional, map.get_mut(&key).unwrap(), &child_path, pruned);
                } else if additional.and_then(Value::as_bool) == Some(true)
                    || preserves_unknown(schema)
                {
                    // Declared as a free-form map: keep.
                } else {
                    map.remove(&key);
                    pruned.push(child_path);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_value(item_schema, item, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

/// A `null` for a field that is not `nullable` is dropped, as the apiserver does before defaulting.
pub(super) fn drop_non_nullable_nulls(schema: &Value, value: &mut Value) {
    let Value::Object(map) = value else { return };
    let properties = schema.get("properties").and_then(Value::as_object);
    map.retain(|key, child| {
        let child_schema = properties.and_then(|p| p.get(key));
        !(child.is_null()
            && child_schema
                .is_some_and(|s| s.get("nullable").and_then(Value::as_bool) != Some(true)))
    });
    for (key, child) in map.iter_mut() {
        if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            drop_non_nullable_nulls(child_schema, child);
        }
    }
}

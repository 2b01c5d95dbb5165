//! Which lists merge item-by-item and by which key: the built-in types' `patchMergeKey`s, and for custom resources
//! the schema's `x-kubernetes-list-type: map` with `x-kubernetes-list-map-keys`.

use serde_json::Value;

/// Merge keys of a list field, if it is a keyed list.
pub fn list_keys(field: &str, schema: Option<&Value>, items: &[Value]) -> Option<Vec<String>> {
    if let Some(schema) = schema {
        if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
            let keys = schema.get("x-kubernetes-list-map-keys")?.as_array()?;
            return Some(
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            );
        }
        return None;
    }
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        // Container ports merge by containerPort, Service ports by port.
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        _ => return None,
    };
    Some(vec![key.to_string()])
}

/// Lists of scalars that merge as sets under strategic merge patch.
pub fn is_merged_scalar_list(field: &str) -> bool {
    field == "finalizers"
}

/// The schema node for a child field or for list items, when walking a custom resource's schema.
pub fn child_schema<'a>(schema: Option<&'a Value>, field: &str) -> Option<&'a Value> {
    let schema = schema?;
    schema
        .get("properties")
        .and_then(|p| p.get(field))
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
}

pub fn item_schema(schema: Option<&Value>) -> Option<&Value> {
    schema?.get("items")
}

/// Identity of a keyed list item.
pub fn item_identity(item: &Value, keys: &[String]) -> Value {
    let mut identity = serde_json::Map::new();
    for key in keys {
        identity.insert(key.clone(), item.get(key).cloned().unwrap_or(Value::Null));
    }
    Value::Object(identity)
}

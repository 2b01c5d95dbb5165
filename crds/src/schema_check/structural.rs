//! Turns a CRD's openAPIV3Schema into what the API server's structural checks enforce, expressed as JSON Schema
//! (draft 4, the closest relative of OpenAPI 3.0), and drops the nulls the API server would prune.

use serde_json::{Map, Value, json};

/// The JSON Schema equivalent of a CRD's `openAPIV3Schema` under strict field validation:
/// - every object without `x-kubernetes-preserve-unknown-fields` rejects fields its schema does not list (the API
///   server rejects them with `fieldValidation=Strict`, kubectl's default, and prunes them otherwise);
/// - `nullable: true` admits `null`;
/// - `x-kubernetes-int-or-string` admits an integer or a string;
/// - the root admits `apiVersion`, `kind` and `metadata`, which the API server checks itself.
pub fn to_json_schema(open_api_v3: &Value) -> Value {
    let mut root = convert(open_api_v3);
    if let Some(properties) = root.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert("apiVersion".into(), json!({ "type": "string" }));
        properties.insert("kind".into(), json!({ "type": "string" }));
        properties.insert("metadata".into(), json!({ "type": "object" }));
    }
    root
}

fn convert(schema: &Value) -> Value {
    let Some(node) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in node {
        let converted = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .map(|properties| {
                        properties
                            .iter()
                            .map(|(name, sub)| (name.clone(), convert(sub)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "additionalProperties" | "not" => convert(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .map(|subs| subs.iter().map(convert).collect())
                    .unwrap_or_default(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }

    let preserves_unknown = flag(node, "x-kubernetes-preserve-unknown-fields");
    let is_object = node.get("type").and_then(Value::as_str) == Some("object");
    if is_object && !preserves_unknown && !node.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if flag(node, "x-kubernetes-int-or-string") {
        out.insert("type".into(), json!(["integer", "string"]));
    }
    if flag(node, "nullable") {
        admit_null(&mut out);
    }
    Value::Object(out)
}

fn admit_null(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(single)) => {
            let single = std::mem::take(single);
            out.insert("type".into(), json!([single, "null"]));
        }
        Some(Value::Array(types)) => types.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(values)) = out.get_mut("enum") {
        values.push(Value::Null);
    }
}

fn flag(node: &Map<String, Value>, key: &str) -> bool {
    node.get(key).and_then(Value::as_bool) == Some(true)
}

/// Removes `null` values of fields that are not `nullable`, as the API server does before defaulting.
pub fn drop_pruned_nulls(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema
                .get("additionalProperties")
                .filter(|sub| sub.is_object());
            fields.retain(|name, field| {
                let sub = properties
                    .and_then(|properties| properties.get(name))
                    .or(additional);
                !(field.is_null() && sub.is_some_and(|sub| !is_nullable(sub)))
            });
            for (name, field) in fields.iter_mut() {
                if let Some(sub) = properties
                    .and_then(|properties| properties.get(name))
                    .or(additional)
                {
                    drop_pruned_nulls(sub, field);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                items
                    .iter_mut()
                    .for_each(|item| drop_pruned_nulls(sub, item));
            }
        }
        _ => {}
    }
}

/// Removes fields the schema does not know, as the API server does for requests without strict field validation.
/// Returns the dotted paths of the removed fields (the API server's warnings name them).
pub fn prune_unknown_fields(schema: &Value, value: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    prune_at(schema, value, "", &mut pruned);
    pruned
}

fn prune_at(schema: &Value, value: &mut Value, path: &str, pruned: &mut Vec<String>) {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match value {
        Value::Object(fields) => {
            if schema
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true)
            {
                return;
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema
                .get("additionalProperties")
                .filter(|sub| sub.is_object());
            fields.retain(|name, _| {
                let known = properties.is_some_and(|properties| properties.contains_key(name))
                    || additional.is_some();
                if !known {
                    pruned.push(join(name));
                }
                known
            });
            for (name, field) in fields.iter_mut() {
                if let Some(sub) = properties
                    .and_then(|properties| properties.get(name))
                    .or(additional)
                {
                    prune_at(sub, field, &join(name), pruned);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    prune_at(sub, item, &format!("{path}[{index}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// Where `schema` breaks the API server's structural-schema rules (it refuses such CRDs): every node has a `type`
/// unless it is int-or-string or preserves unknown fields, arrays have `items`, `properties` and
/// `additionalProperties` exclude each other, no `$ref`, and map-list keys are required in their items.
/// Returns `path: problem` lines; empty means structural.
pub fn structural_problems(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check_node(schema, "<root>", &mut problems);
    problems
}

fn check_node(schema: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(node) = schema.as_object() else {
        problems.push(format!("{path}: schema is not an object"));
        return;
    };
    let exempt = flag(node, "x-kubernetes-int-or-string")
        || flag(node, "x-kubernetes-preserve-unknown-fields");
    if !node.contains_key("type") && !exempt {
        problems.push(format!("{path}: no type"));
    }
    for forbidden in ["$ref", "definitions", "$defs"] {
        if node.contains_key(forbidden) {
            problems.push(format!("{path}: {forbidden} is not allowed"));
        }
    }
    if node.contains_key("properties") && node.contains_key("additionalProperties") {
        problems.push(format!(
            "{path}: properties and additionalProperties together"
        ));
    }
    if node.get("type").and_then(Value::as_str) == Some("array") {
        match node.get("items") {
            Some(items) => {
                check_node(items, &format!("{path}[]"), problems);
                check_list_map_keys(node, items, path, problems);
            }
            None => problems.push(format!("{path}: array without items")),
        }
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            check_node(sub, &format!("{path}.{name}"), problems);
        }
    }
    if let Some(additional) = node
        .get("additionalProperties")
        .filter(|sub| sub.is_object())
    {
        check_node(additional, &format!("{path}.*"), problems);
    }
}

fn check_list_map_keys(
    node: &Map<String, Value>,
    items: &Value,
    path: &str,
    problems: &mut Vec<String>,
) {
    if node.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map") {
        return;
    }
    let required: Vec<&str> = items
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let keys = node
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array);
    if keys.is_none_or(|keys| keys.is_empty()) {
        problems.push(format!(
            "{path}: list-type map without x-kubernetes-list-map-keys"
        ));
    }
    for key in keys.into_iter().flatten().filter_map(Value::as_str) {
        let defaulted = items
            .pointer(&format!("/properties/{key}/default"))
            .is_some();
        if !required.contains(&key) && !defaulted {
            problems.push(format!(
                "{path}: map-list key {key} is neither required nor defaulted"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_become_closed_unless_they_preserve_unknown_fields() {
        let schema = json!({
            "type": "object",
            "properties": {
                "closed": { "type": "object", "properties": { "a": { "type": "string" } } },
                "open": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                "map": { "type": "object", "additionalProperties": { "type": "string" } }
            }
        });
        let converted = to_json_schema(&schema);
        assert_eq!(converted["additionalProperties"], json!(false));
        assert_eq!(
            converted["properties"]["closed"]["additionalProperties"],
            json!(false)
        );
        assert!(
            converted["properties"]["open"]
                .get("additionalProperties")
                .is_none()
        );
        assert_eq!(
            converted["properties"]["map"]["additionalProperties"],
            json!({ "type": "string" })
        );
        assert_eq!(converted["properties"]["kind"], json!({ "type": "string" }));
    }

    #[test]
    fn nullable_admits_null_in_type_and_enum() {
        let converted = convert(&json!({ "type": "string", "enum": ["a"], "nullable": true }));
        assert_eq!(converted["type"], json!(["string", "null"]));
        assert_eq!(converted["enum"], json!(["a", null]));
    }

    #[test]
    fn structural_problems_name_the_offending_node() {
        let schema = json!({
            "type": "object",
            "properties": {
                "untyped": { "description": "no type" },
                "quantity": { "x-kubernetes-int-or-string": true },
                "list": { "type": "array" },
                "both": { "type": "object", "properties": {}, "additionalProperties": { "type": "string" } },
                "conditions": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                    "items": { "type": "object", "properties": { "type": { "type": "string" } } }
                }
            }
        });
        let mut problems = structural_problems(&schema);
        problems.sort();
        assert_eq!(
            problems,
            [
                "<root>.both: properties and additionalProperties together",
                "<root>.conditions: map-list key type is neither required nor defaulted",
                "<root>.list: array without items",
                "<root>.untyped: no type",
            ]
        );
    }

    #[test]
    fn unknown_fields_are_pruned_except_where_preserved() {
        let schema = json!({
            "type": "object",
            "properties": {
                "known": { "type": "object", "properties": { "a": { "type": "string" } } },
                "list": { "type": "array", "items": { "type": "object", "properties": { "b": { "type": "string" } } } },
                "map": { "type": "object", "additionalProperties": { "type": "string" } },
                "open": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
            }
        });
        let mut value = json!({
            "known": { "a": "x", "typo": 1 },
            "list": [{ "b": "y", "extra": true }],
            "map": { "any": "z" },
            "open": { "anything": { "goes": 1 } },
            "stray": 2
        });
        let mut pruned = prune_unknown_fields(&schema, &mut value);
        pruned.sort();
        assert_eq!(pruned, ["known.typo", "list[0].extra", "stray"]);
        assert_eq!(
            value,
            json!({ "known": { "a": "x" }, "list": [{ "b": "y" }], "map": { "any": "z" }, "open": { "anything": { "goes": 1 } } })
        );
    }

    #[test]
    fn int_or_string_admits_both() {
        let converted = convert(&json!({ "x-kubernetes-int-or-string": true }));
        assert_eq!(converted["type"], json!(["integer", "string"]));
    }

    #[test]
    fn nulls_of_non_nullable_fields_are_dropped_and_nullable_ones_kept() {
        let schema = json!({
            "type": "object",
            "properties": {
                "kept": { "type": "string", "nullable": true },
                "dropped": { "type": "string" },
                "nested": { "type": "object", "properties": { "dropped": { "type": "integer" } } }
            }
        });
        let mut value = json!({ "kept": null, "dropped": null, "nested": { "dropped": null } });
        drop_pruned_nulls(&schema, &mut value);
        assert_eq!(value, json!({ "kept": null, "nested": {} }));
    }
}

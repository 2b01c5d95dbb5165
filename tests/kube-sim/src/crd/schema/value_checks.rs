//! OpenAPI value checks of the structural schema (types, enums, bounds, lengths, patterns, list uniqueness), worded
//! like the apiextensions apiserver's field errors.

use serde_json::{Map, Value};

use super::{StructuralSchema, required_fields};
use crate::api::error::Cause;

impl StructuralSchema {
    pub(super) fn check(&self, schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        if value.is_null() {
            if schema.get("nullable").and_then(Value::as_bool) != Some(true) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    path,
                    format!("{path}: Invalid value: \"null\": {path} in body must be of type {}: \"null\"", type_name(schema)),
                ));
            }
            return;
        }
        if !type_matches(schema, value) {
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "{path}: Invalid value: \"{}\": {path} in body must be of type {}: \"{}\"",
                    json_type(value),
                    type_name(schema),
                    json_type(value)
                ),
            ));
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let supported: Vec<String> = allowed.iter().map(Value::to_string).collect();
            causes.push(Cause::new(
                "FieldValueNotSupported",
                path,
                format!(
                    "{path}: Unsupported value: {value}: supported values: {}",
                    supported.join(", ")
                ),
            ));
        }
        match value {
            Value::String(s) => self.check_string(schema, s, path, causes),
            Value::Number(n) => {
                check_number(schema, n.as_f64().unwrap_or_default(), value, path, causes)
            }
            Value::Array(items) => {
                check_array(schema, items, path, causes);
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{path}[{i}]"), causes);
                    }
                }
            }
            Value::Object(map) => self.check_object(schema, map, path, causes),
            _ => {}
        }
    }

    fn check_string(&self, schema: &Value, s: &str, path: &str, causes: &mut Vec<Cause>) {
        let length = s.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            causes.push(Cause::new(
                "FieldValueTooLong",
                path,
                format!("{path}: Too long: may not be more than {max} bytes"),
            ));
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                path,
                format!("{path}: Invalid value: \"{s}\": {path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Some(regex) = self.patterns.get(pattern)
            && !regex.is_match(s)
        {
            causes.push(Cause::new(
                "FieldValueInvalid",
                path,
                format!("{path}: Invalid value: \"{s}\": {path} in body should match '{pattern}'"),
            ));
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        map: &Map<String, Value>,
        path: &str,
        causes: &mut Vec<Cause>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        for (key, value) in map {
            let child_path = format!("{path}.{key}");
            if let Some(child) = properties.and_then(|p| p.get(key)) {
                self.check(child, value, &child_path, causes);
            } else if let Some(additional) = additional {
                self.check(additional, value, &child_path, causes);
            }
        }
        for required in required_fields(schema) {
            if !map.contains_key(required) {
                let field = format!("{path}.{required}");
                causes.push(Cause::new(
                    "FieldValueRequired",
                    &field,
                    format!("{field}: Required value"),
                ));
            }
        }
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && map.len() as u64 > max
        {
            causes.push(Cause::new(
                "FieldValueTooMany",
                path,
                format!(
                    "{path}: Too many: {}: must have at most {max} items",
                    map.len()
                ),
            ));
        }
    }
}

fn check_number(schema: &Value, n: f64, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    let exclusive_min = schema.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
    let exclusive_max = schema.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && (n < min || (exclusive_min && n == min))
    {
        let op = if exclusive_min {
            "greater than"
        } else {
            "greater than or equal to"
        };
        causes.push(Cause::new(
            "FieldValueInvalid",
            path,
            format!(
                "{path}: Invalid value: {value}: {path} in body should be {op} {}",
                format_bound(min)
            ),
        ));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && (n > max || (exclusive_max && n == max))
    {
        let op = if exclusive_max {
            "less than"
        } else {
            "less than or equal to"
        };
        causes.push(Cause::new(
            "FieldValueInvalid",
            path,
            format!(
                "{path}: Invalid value: {value}: {path} in body should be {op} {}",
                format_bound(max)
            ),
        ));
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, causes: &mut Vec<Cause>) {
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        causes.push(Cause::new(
            "FieldValueTooMany",
            path,
            format!(
                "{path}: Too many: {}: must have at most {max} items",
                items.len()
            ),
        ));
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            path,
            format!(
                "{path}: Invalid value: {}: {path} in body should have at least {min} items",
                items.len()
            ),
        ));
    }
    let list_type = schema.get("x-kubernetes-list-type").and_then(Value::as_str);
    let keys: Vec<&str> = schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let identity = |item: &Value| -> Value {
        match list_type {
            Some("map") => Value::Array(keys.iter().map(|k| item[*k].clone()).collect()),
            _ => item.clone(),
        }
    };
    if matches!(list_type, Some("set" | "map")) {
        for (i, item) in items.iter().enumerate() {
            if items[..i]
                .iter()
                .any(|earlier| identity(earlier) == identity(item))
            {
                causes.push(Cause::new(
                    "FieldValueDuplicate",
                    format!("{path}[{i}]"),
                    format!("{path}[{i}]: Duplicate value: {}", identity(item)),
                ));
            }
        }
    }
}

fn format_bound(bound: f64) -> String {
    if bound.fract() == 0.0 {
        format!("{}", bound as i64)
    } else {
        bound.to_string()
    }
}

fn is_int_or_string(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
}

fn type_name(schema: &Value) -> &str {
    if is_int_or_string(schema) {
        return "integer,string";
    }
    schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object")
}

fn type_matches(schema: &Value, value: &Value) -> bool {
    if is_int_or_string(schema) {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    match schema.get("type").and_then(Value::as_str) {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        Some("number") => value.is_number(),
        Some(_) => true,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

//! Structural schemas of custom resources: pruning, defaulting and OpenAPI validation the way the apiextensions
//! apiserver applies them, plus CEL `x-kubernetes-validations` through kube-cel.

use std::collections::HashMap;

use kube_cel::{CompiledSchema, RootContext, Validator};
use regex::Regex;
use serde_json::{Map, Value};

use crate::api::error::Cause;

pub struct StructuralSchema {
    pub raw: Value,
    cel: CompiledSchema,
    patterns: HashMap<String, Regex>,
}

impl std::fmt::Debug for StructuralSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StructuralSchema").finish_non_exhaustive()
    }
}

impl StructuralSchema {
    /// Compiles patterns and CEL rules; errors name the offending rule or pattern (they make the CRD invalid).
    pub fn compile(raw: Value, field: &str) -> Result<Self, Vec<Cause>> {
        let mut patterns = HashMap::new();
        let mut causes = Vec::new();
        collect_patterns(&raw, field, &mut patterns, &mut causes);
        let cel = kube_cel::compile_schema(&raw);
        collect_cel_errors(&cel, field, &mut causes);
        if causes.is_empty() {
            Ok(Self { raw, cel, patterns })
        } else {
            Err(causes)
        }
    }

    /// Removes fields the schema does not declare; returns their paths (for strict field validation).
    pub fn prune(&self, object: &mut Value) -> Vec<String> {
        let mut pruned = Vec::new();
        if let Value::Object(map) = object {
            // apiVersion, kind and metadata at the root are the server's, never pruned by the schema.
            let properties = self.raw.get("properties").and_then(Value::as_object);
            let preserve = preserves_unknown(&self.raw);
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match properties.and_then(|p| p.get(&key)) {
                    Some(child) => prune_value(
                        child,
                        map.get_mut(&key).unwrap(),
                        &format!(".{key}"),
                        &mut pruned,
                    ),
                    None if preserve => {}
                    None => {
                        map.remove(&key);
                        pruned.push(format!(".{key}"));
                    }
                }
            }
        }
        pruned
    }

    pub fn apply_defaults(&self, object: &Value) -> Value {
        let mut defaulted = kube_cel::apply_defaults(&self.raw, object);
        drop_non_nullable_nulls(&self.raw, &mut defaulted);
        defaulted
    }

    /// OpenAPI checks, then CEL rules (transition rules see `old`).
    pub fn validate(&self, object: &Value, old: Option<&Value>, root: &RootContext) -> Vec<Cause> {
        let mut causes = Vec::new();
        if let Value::Object(map) = object {
            let properties = self.raw.get("properties").and_then(Value::as_object);
            for (key, value) in map {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(child) = properties.and_then(|p| p.get(key)) {
                    self.check(child, value, key, &mut causes);
                }
            }
            for required in required_fields(&self.raw) {
                if !map.contains_key(required) {
                    causes.push(Cause::new(
                        "FieldValueRequired",
                        required,
                        format!("{required}: Required value"),
                    ));
                }
            }
        }
        if !causes.is_empty() {
            return causes;
        }
        if let Err(errors) =
            Validator::new().validate_compiled_with_context(&self.cel, object, old, Some(root))
        {
            for error in errors.into_vec() {
                let field = error.field_path.trim_start_matches('.').to_string();
                let reason = error
                    .reason
                    .clone()
                    .unwrap_or_else(|| "FieldValueInvalid".to_string());
                let shown = if field.is_empty() {
                    "<nil>".to_string()
                } else {
                    field.clone()
                };
                let message = match reason.as_str() {
                    "FieldValueForbidden" => format!("{shown}: Forbidden: {}", error.message),
                    "FieldValueRequired" => format!("{shown}: Required value: {}", error.message),
                    "FieldValueDuplicate" => format!("{shown}: Duplicate value: {}", error.message),
                    _ => format!("{shown}: Invalid value: \"object\": {}", error.message),
                };
                causes.push(Cause::new(&reason, field, message));
            }
        }
        causes
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
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

fn required_fields(schema: &Value) -> impl Iterator<Item = &str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
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

fn prune_value(schema: &Value, value: &mut Value, path: &str, pruned: &mut Vec<String>) {
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
fn drop_non_nullable_nulls(schema: &Value, value: &mut Value) {
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

fn collect_patterns(
    schema: &Value,
    path: &str,
    patterns: &mut HashMap<String, Regex>,
    causes: &mut Vec<Cause>,
) {
    let Value::Object(map) = schema else { return };
    if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
        match Regex::new(pattern) {
            Ok(regex) => {
                patterns.insert(pattern.to_string(), regex);
            }
            Err(e) => causes.push(Cause::new(
                "FieldValueInvalid",
                format!("{path}.pattern"),
                format!("{path}.pattern: Invalid value: \"{pattern}\": must be a valid regular expression: {e}"),
            )),
        }
    }
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        for (key, child) in properties {
            collect_patterns(
                child,
                &format!("{path}.properties[{key}]"),
                patterns,
                causes,
            );
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get(key) {
            collect_patterns(child, &format!("{path}.{key}"), patterns, causes);
        }
    }
}

fn collect_cel_errors(compiled: &CompiledSchema, path: &str, causes: &mut Vec<Cause>) {
    for error in compiled.compilation_errors() {
        causes.push(Cause::new(
            "FieldValueInvalid",
            format!("{path}.x-kubernetes-validations"),
            format!("{path}.x-kubernetes-validations: Invalid value: \"rule\": compilation failed: {error}"),
        ));
    }
    for (key, child) in &compiled.properties {
        collect_cel_errors(child, &format!("{path}.properties[{key}]"), causes);
    }
    if let Some(items) = &compiled.items {
        collect_cel_errors(items, &format!("{path}.items"), causes);
    }
    if let Some(additional) = &compiled.additional_properties {
        collect_cel_errors(additional, &format!("{path}.additionalProperties"), causes);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> StructuralSchema {
        StructuralSchema::compile(
            json!({
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["version"],
                        "properties": {
                            "version": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"},
                            "replicas": {"type": "integer", "minimum": 1, "maximum": 7, "default": 3},
                            "mode": {"type": "string", "enum": ["a", "b"]},
                            "port": {"x-kubernetes-int-or-string": true},
                            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                            "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}}
                        },
                        "x-kubernetes-validations": [
                            {"rule": "self == oldSelf", "message": "spec is immutable"}
                        ]
                    }
                }
            }),
            "spec.versions[0].schema.openAPIV3Schema",
        )
        .unwrap()
    }

    fn root() -> RootContext {
        RootContext {
            api_version: "x.io/v1".into(),
            api_group: "x.io".into(),
            kind: "Thing".into(),
        }
    }

    #[test]
    fn prunes_unknown_but_keeps_preserved() {
        let mut o = json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "a"},
            "spec": {"version": "1.2.3", "bogus": 1, "extra": {"anything": {"goes": true}}}, "junk": 2});
        let pruned = schema().prune(&mut o);
        assert_eq!(pruned, vec![".junk".to_string(), ".spec.bogus".to_string()]);
        assert_eq!(o["spec"]["extra"]["anything"]["goes"], true);
        assert_eq!(o["metadata"]["name"], "a");
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let o = schema().apply_defaults(&json!({"spec": {"version": "1.0.0"}}));
        assert_eq!(o["spec"]["replicas"], 3);
    }

    #[test]
    fn openapi_violations_are_reported_per_field() {
        let o = json!({"spec": {"version": "latest", "replicas": 9, "mode": "c", "port": true, "labels": {"k": "long"}}});
        let causes = schema().validate(&o, None, &root());
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.labels.k",
                "spec.mode",
                "spec.port",
                "spec.replicas",
                "spec.version"
            ],
            "{causes:?}"
        );
        assert!(causes.iter().any(|c| c.message.contains("should match")));
        assert!(
            causes
                .iter()
                .any(|c| c.message.contains("less than or equal to 7"))
        );
        let missing = schema().validate(&json!({"spec": {}}), None, &root());
        assert_eq!(missing[0].message, "spec.version: Required value");
    }

    #[test]
    fn transition_rule_sees_old_self() {
        let old = json!({"spec": {"version": "1.0.0"}});
        let new = json!({"spec": {"version": "1.0.1"}});
        assert!(schema().validate(&new, None, &root()).is_empty());
        let causes = schema().validate(&new, Some(&old), &root());
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(
            causes[0].message.contains("spec is immutable"),
            "{causes:?}"
        );
    }

    #[test]
    fn bad_cel_rule_fails_compilation() {
        let result = StructuralSchema::compile(
            json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.("}]}),
            "schema",
        );
        assert!(result.is_err());
    }
}

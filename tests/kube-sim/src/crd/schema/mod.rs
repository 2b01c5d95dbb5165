//! Structural schemas of custom resources: pruning, defaulting and OpenAPI validation the way the apiextensions
//! apiserver applies them, plus CEL `x-kubernetes-validations` through kube-cel.

use std::collections::HashMap;

use kube_cel::{CompiledSchema, RootContext, Validator};
use regex::Regex;
use serde_json::Value;

use crate::api::error::Cause;

mod compile;
mod pruning;
mod value_checks;

use compile::{collect_cel_errors, collect_patterns};
use pruning::{drop_non_nullable_nulls, prune_value};

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
        // Like the apiextensions apiserver: errors that leave the object's shape unknown skip the CEL rules (and say
        // so); other OpenAPI errors (patterns, bounds) are reported together with the rules' verdicts.
        if causes.iter().any(|c| blocks_cel(&c.reason)) {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "<nil>",
                "<nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ));
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
}

/// The OpenAPI error types after which the apiserver does not run CEL rules (`hasBlockingErr`).
fn blocks_cel(reason: &str) -> bool {
    matches!(
        reason,
        "FieldValueNotSupported"
            | "FieldValueRequired"
            | "FieldValueTooLong"
            | "FieldValueTooMany"
            | "FieldValueTypeInvalid"
    )
}

pub(super) fn required_fields(schema: &Value) -> impl Iterator<Item = &str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

pub(super) fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

#[cfg(test)]
mod tests;

//! Compiling a CRD schema: regular expressions of `pattern` and CEL rules, whose errors make the CRD invalid.

use std::collections::HashMap;

use kube_cel::CompiledSchema;
use regex::Regex;
use serde_json::Value;

use crate::api::error::Cause;

pub(super) fn collect_patterns(
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

pub(super) fn collect_cel_errors(compiled: &CompiledSchema, path: &str, causes: &mut Vec<Cause>) {
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

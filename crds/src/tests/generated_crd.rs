//! Properties of the generated CRDs the API server insists on: structural schemas, CEL rules that compile and use
//! only CRD variables, and bounded sizes under the whole-spec transition rule so its cost estimate stays small.

use kube_cel::{ScopeContext, check_rule_scope};
use serde_json::Value;

use crate::schema_check::{openbao_validators, structural_problems};

fn schemas() -> Vec<(String, Value)> {
    openbao_validators()
        .into_iter()
        .map(|validator| (validator.kind().to_owned(), validator.open_api_v3().clone()))
        .collect()
}

fn rules(schema: &Value, path: &str, found: &mut Vec<(String, String)>) {
    if let Some(list) = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for rule in list {
            found.push((
                path.to_owned(),
                rule["rule"].as_str().expect("rule is a string").to_owned(),
            ));
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            rules(sub, &format!("{path}.{name}"), found);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = schema.get(key).filter(|sub| sub.is_object()) {
            rules(sub, &format!("{path}[]"), found);
        }
    }
}

/// Strings without `maxLength` (enums and timestamps are bounded already), maps without `maxProperties` and arrays
/// without `maxItems`: each makes the API server assume the worst when it estimates a rule's cost.
fn unbounded(schema: &Value, path: &str, found: &mut Vec<String>) {
    match schema.get("type").and_then(Value::as_str) {
        Some("string")
            if schema.get("maxLength").is_none()
                && schema.get("enum").is_none()
                && schema.get("format").and_then(Value::as_str) != Some("date-time") =>
        {
            found.push(format!("{path}: string without maxLength"));
        }
        Some("array") if schema.get("maxItems").is_none() => {
            found.push(format!("{path}: array without maxItems"))
        }
        Some("object")
            if schema.get("additionalProperties").is_some()
                && schema.get("maxProperties").is_none() =>
        {
            found.push(format!("{path}: map without maxProperties"));
        }
        _ => {}
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            unbounded(sub, &format!("{path}.{name}"), found);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = schema.get(key).filter(|sub| sub.is_object()) {
            unbounded(sub, &format!("{path}[]"), found);
        }
    }
}

#[test]
fn generated_schemas_are_structural() {
    for (kind, schema) in schemas() {
        assert_eq!(structural_problems(&schema), Vec::<String>::new(), "{kind}");
    }
}

#[test]
fn rules_use_only_crd_variables() {
    let mut all = Vec::new();
    for (kind, schema) in schemas() {
        rules(&schema, &kind, &mut all);
    }
    assert_eq!(all.len(), 14, "every rule is found: {all:#?}");
    for (path, rule) in &all {
        assert_eq!(
            check_rule_scope(rule, ScopeContext::CrdValidation),
            Vec::new(),
            "{path}: {rule}"
        );
    }
}

#[test]
fn restore_spec_compared_as_a_whole_is_bounded() {
    let (_, schema) = schemas()
        .into_iter()
        .find(|(kind, _)| kind == "OpenBaoRestore")
        .expect("restore CRD");
    let spec = &schema["properties"]["spec"];
    assert!(
        spec["x-kubernetes-validations"]
            .as_array()
            .expect("spec has rules")
            .iter()
            .any(|rule| rule["rule"] == "self == oldSelf"),
        "the immutability rule sits on the whole spec"
    );
    let mut found = Vec::new();
    unbounded(spec, "spec", &mut found);
    assert_eq!(found, Vec::<String>::new());
}

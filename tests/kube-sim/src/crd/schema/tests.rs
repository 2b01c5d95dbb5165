//! Pruning, defaulting, OpenAPI checks and CEL rules of a small structural schema.

use serde_json::json;

use kube_cel::RootContext;

use super::StructuralSchema;

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
            "spec.version",
            // The enum and type errors keep CEL from running; the apiserver says so in a last cause.
            "<nil>"
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

#[test]
fn cel_rules_run_alongside_non_blocking_errors() {
    let old = json!({"spec": {"version": "1.0.0"}});
    let new = json!({"spec": {"version": "latest"}});
    let causes = schema().validate(&new, Some(&old), &root());
    let messages: Vec<&str> = causes.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(causes.len(), 2, "{messages:?}");
    assert!(messages[0].contains("should match"), "{messages:?}");
    assert!(messages[1].contains("spec is immutable"), "{messages:?}");
}

#[test]
fn blocking_errors_skip_cel_rules_and_say_so() {
    let old = json!({"spec": {"version": "1.0.0"}});
    let new = json!({"spec": {"version": "1.0.1", "mode": "c"}});
    let causes = schema().validate(&new, Some(&old), &root());
    let messages: Vec<&str> = causes.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(causes.len(), 2, "{messages:?}");
    assert_eq!(causes[0].reason, "FieldValueNotSupported");
    assert!(
        messages[1].contains("some validation rules were not checked"),
        "{messages:?}"
    );
}

//! Every install document loads strictly, and the strict load does fail on a misspelled field.

use std::collections::BTreeSet;

use crate::support::install::install;
use crate::support::json_diff::Difference;
use crate::support::typed_manifest::{StrictLoadError, TypedManifest, load_strict};
use crate::support::yaml_documents::parse_documents;

#[test]
fn every_manifest_loads_strictly_into_its_typed_object() {
    let install = install();
    let kinds: BTreeSet<&str> = install
        .iter()
        .map(|manifest| match manifest {
            TypedManifest::Namespace(_) => "Namespace",
            TypedManifest::ServiceAccount(_) => "ServiceAccount",
            TypedManifest::ClusterRole(_) => "ClusterRole",
            TypedManifest::ClusterRoleBinding(_) => "ClusterRoleBinding",
            TypedManifest::Role(_) => "Role",
            TypedManifest::RoleBinding(_) => "RoleBinding",
            TypedManifest::Deployment(_) => "Deployment",
            TypedManifest::Service(_) => "Service",
            TypedManifest::NetworkPolicy(_) => "NetworkPolicy",
        })
        .collect();
    let expected: BTreeSet<&str> = [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "NetworkPolicy",
    ]
    .into();
    assert_eq!(
        kinds, expected,
        "the install must contain every kind it is made of"
    );
}

#[test]
fn a_misspelled_field_fails_the_strict_load_and_names_its_path() {
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
spec:
  replicsa: 1
  selector:
    matchLabels: {app: typo}
  template:
    metadata:
      labels: {app: typo}
    spec:
      containers:
        - name: main
          imagee: example.org/typo:1
"#;
    let documents = parse_documents(manifest).expect("valid YAML");
    let error =
        load_strict(&documents[0]).expect_err("a misspelled field must fail the strict load");
    let StrictLoadError::NotRoundTrip { kind, differences } = &error else {
        panic!("expected a round-trip difference, got: {error}");
    };
    assert_eq!(*kind, "Deployment");
    let mut dropped: Vec<&str> = differences
        .iter()
        .filter(|difference| matches!(difference, Difference::Dropped { .. }))
        .map(Difference::path)
        .collect();
    dropped.sort();
    assert_eq!(
        dropped,
        ["spec.replicsa", "spec.template.spec.containers[0].imagee"]
    );
    assert_eq!(differences.len(), 2, "nothing else differs: {error}");
    assert!(
        error.to_string().contains("spec.replicsa: unknown field"),
        "message names the path: {error}"
    );
}

#[test]
fn a_wrongly_typed_value_or_an_unknown_kind_fails_the_strict_load() {
    let wrong_type = parse_documents(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: one}\n",
    )
    .expect("valid YAML");
    assert!(matches!(
        load_strict(&wrong_type[0]),
        Err(StrictLoadError::Deserialize {
            kind: "Deployment",
            ..
        })
    ));

    // A Secret in the install would be unchecked (and would mean the operator ships secrets): refuse unknown kinds.
    let secret =
        parse_documents("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n").expect("valid YAML");
    assert!(matches!(
        load_strict(&secret[0]),
        Err(StrictLoadError::UnsupportedKind { .. })
    ));

    let untyped = parse_documents("metadata: {name: x}\n").expect("valid YAML");
    assert!(matches!(
        load_strict(&untyped[0]),
        Err(StrictLoadError::MissingTypeMeta)
    ));
}

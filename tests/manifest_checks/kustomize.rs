//! kustomization.yaml lists exactly the manifests, and the real `kubectl kustomize` renders them.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::install::{COMMON_LABELS, OPERATOR_NAMESPACE};
use crate::support::typed_manifest::load_strict;
use crate::support::yaml_documents::{
    KUSTOMIZATION_FILE, deploy_dir, discover_manifest_files, parse_documents, read_documents,
};
use openbao_test_harness::kubectl::Kubectl;

fn kustomization() -> Value {
    let documents = read_documents(&deploy_dir(), KUSTOMIZATION_FILE);
    assert_eq!(documents.len(), 1, "{KUSTOMIZATION_FILE} is one document");
    documents.into_iter().next().expect("one document").value
}

fn kustomization_resources(kustomization: &Value) -> Vec<String> {
    let resources = kustomization
        .get("resources")
        .and_then(Value::as_array)
        .expect("resources list");
    resources
        .iter()
        .map(|entry| entry.as_str().expect("resource path").to_owned())
        .collect()
}

#[test]
fn kustomization_lists_every_manifest_and_only_existing_files() {
    let deploy = deploy_dir();
    let kustomization = kustomization();
    assert_eq!(
        kustomization["apiVersion"],
        "kustomize.config.k8s.io/v1beta1"
    );
    assert_eq!(kustomization["kind"], "Kustomization");
    assert_eq!(kustomization["namespace"], OPERATOR_NAMESPACE);

    let resources = kustomization_resources(&kustomization);
    let missing: Vec<&String> = resources
        .iter()
        .filter(|resource| !deploy.join(resource).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "kustomization.yaml lists missing files {missing:?} (generate deploy/crds/crds.yaml with \
         `cargo run -q -- crds > deploy/crds/crds.yaml`)"
    );
    let listed: BTreeSet<&str> = resources.iter().map(String::as_str).collect();
    assert_eq!(
        listed.len(),
        resources.len(),
        "a resource is listed twice: {resources:?}"
    );
    for file in discover_manifest_files(&deploy) {
        assert!(
            listed.contains(file.as_str()),
            "deploy/{file} is not listed in kustomization.yaml resources"
        );
    }
    assert!(
        listed.contains("crds/crds.yaml"),
        "the CRDs install with the operator"
    );

    let label_sets = kustomization
        .get("labels")
        .and_then(Value::as_array)
        .expect("labels");
    for (key, value) in COMMON_LABELS {
        assert!(
            label_sets
                .iter()
                .any(|set| set["pairs"][key] == value && set["includeTemplates"] == true),
            "common label {key}={value} on every object and pod template"
        );
    }
}

/// (apiVersion, kind, name) of a document.
fn identity(document: &Value) -> (String, String, String) {
    let text = |pointer: &str| {
        document
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("/apiVersion"), text("/kind"), text("/metadata/name"))
}

fn is_cluster_scoped_kind(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace" | "ClusterRole" | "ClusterRoleBinding" | "CustomResourceDefinition"
    )
}

#[test]
fn kubectl_kustomize_renders_every_resource_into_the_operator_namespace() {
    let deploy = deploy_dir();
    let rendered = Kubectl::on_path().in_dir(&deploy).run(&["kustomize", "."]);
    assert!(
        rendered.status.success(),
        "kubectl kustomize deploy/ failed ({}): {}",
        rendered.status,
        rendered.stderr
    );
    let rendered = parse_documents(&rendered.stdout).expect("kubectl kustomize prints YAML");

    // Everything the kustomization lists, including the CRD file colleagues generate.
    let expected: BTreeSet<_> = kustomization_resources(&kustomization())
        .iter()
        .flat_map(|file| read_documents(&deploy, file))
        .map(|document| identity(&document.value))
        .collect();
    let produced: BTreeSet<_> = rendered.iter().map(identity).collect();
    assert_eq!(
        produced, expected,
        "rendered resources differ from the listed manifests"
    );
    assert_eq!(
        rendered.len(),
        expected.len(),
        "no resource is rendered twice"
    );

    for document in &rendered {
        let (_, kind, name) = identity(document);
        let namespace = document
            .pointer("/metadata/namespace")
            .and_then(Value::as_str);
        if is_cluster_scoped_kind(&kind) {
            assert_eq!(namespace, None, "{kind}/{name} is cluster-scoped");
        } else {
            assert_eq!(
                namespace,
                Some(OPERATOR_NAMESPACE),
                "{kind}/{name} namespace"
            );
        }
        for (key, value) in COMMON_LABELS {
            let label = document
                .pointer("/metadata/labels")
                .and_then(|labels| labels.get(key));
            assert_eq!(
                label.and_then(Value::as_str),
                Some(value),
                "{kind}/{name} label {key}"
            );
        }
        // The rendered output is what gets applied: it must still load strictly.
        if kind != "CustomResourceDefinition" {
            load_strict(document).unwrap_or_else(|error| panic!("rendered {kind}/{name}: {error}"));
        }
    }

    let deployment = rendered
        .iter()
        .find(|document| document["kind"] == "Deployment")
        .expect("Deployment");
    let template_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for (key, value) in COMMON_LABELS {
        assert_eq!(template_labels[key], value, "pod template label {key}");
    }
    assert!(
        deployment["spec"]["selector"]["matchLabels"]
            .get("app.kubernetes.io/part-of")
            .is_none(),
        "the selector stays as written: it is immutable on a live Deployment"
    );
}

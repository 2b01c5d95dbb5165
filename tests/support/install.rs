//! The install manifests loaded strictly, and the lookups the checks share.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::typed_manifest::{TypedManifest, load_strict};
use super::yaml_documents::{deploy_dir, load_install_documents};

pub const OPERATOR_NAMESPACE: &str = "openbao-operator-system";
pub const OPERATOR_SERVICE_ACCOUNT: &str = "openbao-operator";
pub const OPERATOR_IMAGE: &str = "ghcr.io/openbao-operator/openbao-operator:v0.1.0";
pub const METRICS_PORT: i32 = 8080;
pub const COMMON_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/name", "openbao-operator"),
    ("app.kubernetes.io/part-of", "openbao-operator"),
];

/// Every install manifest, strictly loaded; panics listing every document that fails.
pub fn install() -> Vec<TypedManifest> {
    let documents = load_install_documents();
    assert!(
        !documents.is_empty(),
        "no manifests found under {}",
        deploy_dir().display()
    );
    let mut loaded = Vec::new();
    let mut failures = Vec::new();
    for document in &documents {
        match load_strict(&document.value) {
            Ok(manifest) => loaded.push(manifest),
            Err(error) => failures.push(format!("{}: {error}", document.describe())),
        }
    }
    assert!(
        failures.is_empty(),
        "manifests that do not load strictly:\n{}",
        failures.join("\n")
    );
    loaded
}

macro_rules! all_of_kind {
    ($fn_name:ident, $variant:ident) => {
        pub fn $fn_name(install: &[TypedManifest]) -> Vec<&$variant> {
            install
                .iter()
                .filter_map(|manifest| match manifest {
                    TypedManifest::$variant(object) => Some(&**object),
                    _ => None,
                })
                .collect()
        }
    };
}

all_of_kind!(namespaces, Namespace);
all_of_kind!(service_accounts, ServiceAccount);
all_of_kind!(cluster_roles, ClusterRole);
all_of_kind!(cluster_role_bindings, ClusterRoleBinding);
all_of_kind!(roles, Role);
all_of_kind!(role_bindings, RoleBinding);
all_of_kind!(deployments, Deployment);
all_of_kind!(services, Service);
all_of_kind!(network_policies, NetworkPolicy);

pub fn the_only<'a, T>(objects: Vec<&'a T>, what: &str) -> &'a T {
    assert_eq!(objects.len(), 1, "expected exactly one {what} in deploy/");
    objects[0]
}

pub fn operator_deployment(install: &[TypedManifest]) -> &Deployment {
    the_only(deployments(install), "Deployment")
}

pub fn operator_container(deployment: &Deployment) -> &Container {
    let pod = pod_spec(deployment);
    assert_eq!(
        pod.containers.len(),
        1,
        "the operator pod has exactly one container"
    );
    &pod.containers[0]
}

pub fn pod_spec(deployment: &Deployment) -> &PodSpec {
    let spec = deployment.spec.as_ref().expect("Deployment spec");
    spec.template.spec.as_ref().expect("pod template spec")
}

pub fn pod_labels(deployment: &Deployment) -> BTreeMap<String, String> {
    let spec = deployment.spec.as_ref().expect("Deployment spec");
    let metadata = spec
        .template
        .metadata
        .as_ref()
        .expect("pod template metadata");
    metadata.labels.clone().unwrap_or_default()
}

/// The container port a Service target or probe port refers to, by number or by name.
pub fn resolve_container_port(container: &Container, port: &IntOrString) -> i32 {
    match port {
        IntOrString::Int(number) => *number,
        IntOrString::String(name) => {
            container
                .ports
                .iter()
                .flatten()
                .find(|declared| declared.name.as_deref() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("port name {name:?} is not declared by the container"))
                .container_port
        }
    }
}

pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

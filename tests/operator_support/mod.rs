//! Shared pieces of the operator system and end-to-end tests: the operator binary as a guarded process, polling
//! with deadlines, and a whole world (Kubernetes API simulator running Jobs, real OpenBao, real S3) per test.
#![allow(dead_code)] // Each test binary uses a different subset.

pub mod gate;
pub mod kubectl;
pub mod leaks;
pub mod monitoring;
pub mod operator_process;
pub mod promtool;
pub mod runbook;
pub mod upgrade_world;
pub mod wait;
pub mod world;

pub use operator_process::Operator;
pub use wait::{eventually, wait_ready};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;
use serde::Deserialize;

pub const NAMESPACE: &str = "default";
/// The image backup Jobs name; the simulator's kubelet maps it to the real binary (or a gate in front of it).
pub const EXECUTOR_IMAGE: &str = "openbao-operator:test";

/// Applies the project's CRDs (the same YAML `openbao-operator crds` prints and the install ships).
pub async fn apply_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for document in serde_norway::Deserializer::from_str(&openbao_crds::crd_yaml()) {
        let crd = CustomResourceDefinition::deserialize(document).expect("a CRD document");
        api.create(&PostParams::default(), &crd)
            .await
            .expect("the simulator accepts the CRD");
    }
}

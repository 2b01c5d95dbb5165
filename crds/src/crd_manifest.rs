//! The CustomResourceDefinitions generated from the types, as applied by users.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::cluster::OpenBaoCluster;
use crate::restore::OpenBaoRestore;

/// Both CRDs: OpenBaoCluster first, then OpenBaoRestore.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![OpenBaoCluster::crd(), OpenBaoRestore::crd()]
}

/// Both CRDs as one multi-document YAML stream. Deterministic: the same types always give the same bytes.
pub fn crd_yaml() -> String {
    crds()
        .iter()
        .map(|crd| {
            let document = serde_norway::to_string(crd)
                .expect("a CustomResourceDefinition always serializes to YAML");
            format!("---\n{document}")
        })
        .collect()
}

//! Strict loading of install manifests into typed k8s-openapi objects.
//!
//! k8s-openapi ignores unknown fields when deserializing, so a misspelled field would load silently and be lost on
//! apply. Strictness comes from a round trip instead: the typed object, serialized again, must equal the original
//! document; anything the type does not know shows up as a difference with its path.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::json_diff::{self, Difference};

/// Boxed: the variants differ a lot in size (a Deployment is several kilobytes).
#[derive(Debug, Clone)]
pub enum TypedManifest {
    Namespace(Box<Namespace>),
    ServiceAccount(Box<ServiceAccount>),
    ClusterRole(Box<ClusterRole>),
    ClusterRoleBinding(Box<ClusterRoleBinding>),
    Role(Box<Role>),
    RoleBinding(Box<RoleBinding>),
    Deployment(Box<Deployment>),
    Service(Box<Service>),
    NetworkPolicy(Box<NetworkPolicy>),
}

#[derive(Debug, thiserror::Error)]
pub enum StrictLoadError {
    #[error("document has no string `apiVersion` and `kind`")]
    MissingTypeMeta,
    #[error("{api_version} {kind} is not an install manifest kind this check knows")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("{kind} does not deserialize: {source}")]
    Deserialize {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{kind} does not serialize: {source}")]
    Serialize {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{kind} changes in a round trip through its typed object:\n  {}",
        list(differences)
    )]
    NotRoundTrip {
        kind: &'static str,
        differences: Vec<Difference>,
    },
}

fn list(differences: &[Difference]) -> String {
    differences
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

pub fn load_strict(document: &Value) -> Result<TypedManifest, StrictLoadError> {
    let api_version = document.get("apiVersion").and_then(Value::as_str);
    let kind = document.get("kind").and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Err(StrictLoadError::MissingTypeMeta);
    };
    Ok(match (api_version, kind) {
        (Namespace::API_VERSION, Namespace::KIND) => {
            TypedManifest::Namespace(Box::new(round_trip(document)?))
        }
        (ServiceAccount::API_VERSION, ServiceAccount::KIND) => {
            TypedManifest::ServiceAccount(Box::new(round_trip(document)?))
        }
        (ClusterRole::API_VERSION, ClusterRole::KIND) => {
            TypedManifest::ClusterRole(Box::new(round_trip(document)?))
        }
        (ClusterRoleBinding::API_VERSION, ClusterRoleBinding::KIND) => {
            TypedManifest::ClusterRoleBinding(Box::new(round_trip(document)?))
        }
        (Role::API_VERSION, Role::KIND) => TypedManifest::Role(Box::new(round_trip(document)?)),
        (RoleBinding::API_VERSION, RoleBinding::KIND) => {
            TypedManifest::RoleBinding(Box::new(round_trip(document)?))
        }
        (Deployment::API_VERSION, Deployment::KIND) => {
            TypedManifest::Deployment(Box::new(round_trip(document)?))
        }
        (Service::API_VERSION, Service::KIND) => {
            TypedManifest::Service(Box::new(round_trip(document)?))
        }
        (NetworkPolicy::API_VERSION, NetworkPolicy::KIND) => {
            TypedManifest::NetworkPolicy(Box::new(round_trip(document)?))
        }
        _ => {
            return Err(StrictLoadError::UnsupportedKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            });
        }
    })
}

fn round_trip<K>(document: &Value) -> Result<K, StrictLoadError>
where
    K: Resource + DeserializeOwned + Serialize,
{
    let typed: K = serde_json::from_value(document.clone()).map_err(|source| {
        StrictLoadError::Deserialize {
            kind: K::KIND,
            source,
        }
    })?;
    let serialized = serde_json::to_value(&typed).map_err(|source| StrictLoadError::Serialize {
        kind: K::KIND,
        source,
    })?;
    let differences = json_diff::differences(document, &serialized);
    if differences.is_empty() {
        Ok(typed)
    } else {
        Err(StrictLoadError::NotRoundTrip {
            kind: K::KIND,
            differences,
        })
    }
}

impl TypedManifest {
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            TypedManifest::Namespace(object) => &object.metadata,
            TypedManifest::ServiceAccount(object) => &object.metadata,
            TypedManifest::ClusterRole(object) => &object.metadata,
            TypedManifest::ClusterRoleBinding(object) => &object.metadata,
            TypedManifest::Role(object) => &object.metadata,
            TypedManifest::RoleBinding(object) => &object.metadata,
            TypedManifest::Deployment(object) => &object.metadata,
            TypedManifest::Service(object) => &object.metadata,
            TypedManifest::NetworkPolicy(object) => &object.metadata,
        }
    }

    pub fn is_cluster_scoped(&self) -> bool {
        matches!(
            self,
            TypedManifest::Namespace(_)
                | TypedManifest::ClusterRole(_)
                | TypedManifest::ClusterRoleBinding(_)
        )
    }
}

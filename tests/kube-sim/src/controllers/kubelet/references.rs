//! The Secrets, ConfigMaps and ServiceAccount tokens a Pod refers to, fetched before its container starts.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};

/// Kubernetes' default lifetime for projected ServiceAccount tokens.
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;

pub type KeyValues = BTreeMap<String, Vec<u8>>;

/// Which token a projected `serviceAccountToken` source asks for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenKey {
    pub audience: Option<String>,
    pub expiration_seconds: i64,
}

/// What the Pod's references resolved to; an absent name means the object does not exist.
#[derive(Clone, Debug, Default)]
pub struct ReferencedObjects {
    pub secrets: BTreeMap<String, KeyValues>,
    pub config_maps: BTreeMap<String, KeyValues>,
    pub tokens: BTreeMap<TokenKey, String>,
}

/// Names the Pod refers to, gathered from `env`, `envFrom` and volumes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    pub secrets: BTreeSet<String>,
    pub config_maps: BTreeSet<String>,
    pub tokens: BTreeSet<TokenKey>,
}

impl References {
    pub fn of(pod: &Pod) -> Self {
        let mut references = Self::default();
        let Some(spec) = pod.spec.as_ref() else {
            return references;
        };
        if let Some(container) = spec.containers.first() {
            for env in container.env.iter().flatten() {
                let Some(source) = env.value_from.as_ref() else {
                    continue;
                };
                if let Some(secret) = &source.secret_key_ref {
                    references.secrets.insert(secret.name.clone());
                }
                if let Some(config_map) = &source.config_map_key_ref {
                    references.config_maps.insert(config_map.name.clone());
                }
            }
            for source in container.env_from.iter().flatten() {
                if let Some(secret) = &source.secret_ref {
                    references.secrets.insert(secret.name.clone());
                }
                if let Some(config_map) = &source.config_map_ref {
                    references.config_maps.insert(config_map.name.clone());
                }
            }
        }
        for volume in spec.volumes.iter().flatten() {
            if let Some(name) = volume
                .secret
                .as_ref()
                .and_then(|secret| secret.secret_name.clone())
            {
                references.secrets.insert(name);
            }
            if let Some(config_map) = &volume.config_map {
                references.config_maps.insert(config_map.name.clone());
            }
            for source in volume
                .projected
                .iter()
                .flat_map(|projected| projected.sources.iter().flatten())
            {
                if let Some(secret) = &source.secret {
                    references.secrets.insert(secret.name.clone());
                }
                if let Some(config_map) = &source.config_map {
                    references.config_maps.insert(config_map.name.clone());
                }
                if let Some(token) = &source.service_account_token {
                    references.tokens.insert(TokenKey {
                        audience: token
                            .audience
                            .clone()
                            .filter(|audience| !audience.is_empty()),
                        expiration_seconds: token
                            .expiration_seconds
                            .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS),
                    });
                }
            }
        }
        references
    }

    /// Reads every referenced object; a missing one is left out (whether that is an error depends on `optional`).
    /// Tokens come from the TokenRequest API, bound to the Pod, as the kubelet gets them.
    pub async fn fetch(
        &self,
        client: &Client,
        pod: &Pod,
    ) -> Result<ReferencedObjects, kube::Error> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let mut objects = ReferencedObjects::default();

        let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
        for name in &self.secrets {
            if let Some(secret) = secrets.get_opt(name).await? {
                objects.secrets.insert(name.clone(), secret_data(secret));
            }
        }
        let config_maps = Api::<ConfigMap>::namespaced(client.clone(), &namespace);
        for name in &self.config_maps {
            if let Some(config_map) = config_maps.get_opt(name).await? {
                objects
                    .config_maps
                    .insert(name.clone(), config_map_data(config_map));
            }
        }
        if !self.tokens.is_empty() {
            let service_account = pod
                .spec
                .as_ref()
                .and_then(|spec| spec.service_account_name.clone())
                .unwrap_or_else(|| "default".to_string());
            let service_accounts = Api::<ServiceAccount>::namespaced(client.clone(), &namespace);
            for key in &self.tokens {
                let request = token_request(pod, key);
                let granted: TokenRequest = service_accounts
                    .create_subresource("token", &service_account, &PostParams::default(), &request)
                    .await?;
                let token = granted
                    .status
                    .map(|status| status.token)
                    .unwrap_or_default();
                objects.tokens.insert(key.clone(), token);
            }
        }
        Ok(objects)
    }
}

fn token_request(pod: &Pod, key: &TokenKey) -> TokenRequest {
    TokenRequest {
        spec: TokenRequestSpec {
            audiences: key.audience.clone().into_iter().collect(),
            expiration_seconds: Some(key.expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("Pod".to_string()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..TokenRequest::default()
    }
}

fn secret_data(secret: Secret) -> KeyValues {
    let mut data: KeyValues = secret
        .string_data
        .into_iter()
        .flatten()
        .map(|(key, value)| (key, value.into_bytes()))
        .collect();
    data.extend(
        secret
            .data
            .into_iter()
            .flatten()
            .map(|(key, value)| (key, value.0)),
    );
    data
}

fn config_map_data(config_map: ConfigMap) -> KeyValues {
    let mut data: KeyValues = config_map
        .binary_data
        .into_iter()
        .flatten()
        .map(|(key, value)| (key, value.0))
        .collect();
    data.extend(
        config_map
            .data
            .into_iter()
            .flatten()
            .map(|(key, value)| (key, value.into_bytes())),
    );
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gathers_names_from_env_env_from_and_volumes() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": [{
                    "name": "main",
                    "env": [
                        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "k"}}},
                        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "k"}}},
                        {"name": "C", "value": "plain"}
                    ],
                    "envFrom": [{"secretRef": {"name": "s-from"}}, {"configMapRef": {"name": "cm-from"}}]
                }],
                "volumes": [
                    {"name": "v1", "secret": {"secretName": "s-vol"}},
                    {"name": "v2", "configMap": {"name": "cm-vol"}},
                    {"name": "v3", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token", "audience": "openbao", "expirationSeconds": 600}},
                        {"serviceAccountToken": {"path": "default-token"}},
                        {"secret": {"name": "s-proj"}}
                    ]}}
                ]
            }
        }))
        .unwrap();
        let references = References::of(&pod);
        assert_eq!(
            references.secrets,
            ["s-env", "s-from", "s-proj", "s-vol"]
                .map(String::from)
                .into_iter()
                .collect()
        );
        assert_eq!(
            references.config_maps,
            ["cm-env", "cm-from", "cm-vol"]
                .map(String::from)
                .into_iter()
                .collect()
        );
        assert_eq!(
            references.tokens,
            BTreeSet::from([
                TokenKey {
                    audience: Some("openbao".into()),
                    expiration_seconds: 600
                },
                TokenKey {
                    audience: None,
                    expiration_seconds: 3600
                },
            ])
        );
    }
}

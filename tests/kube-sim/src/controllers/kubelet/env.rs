//! A container's environment, resolved the way the kubelet does: `envFrom` first, then `env` in order (later
//! entries override earlier ones), each `value` `$(VAR)`-expanded against what is defined before it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use super::downward::{UnsupportedField, pod_field};
use super::expansion::expand;
use super::paths::PathRewriter;
use super::references::ReferencedObjects;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("secret \"{name}\" not found")]
    SecretNotFound { name: String },
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("configmap \"{name}\" not found")]
    ConfigMapNotFound { name: String },
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("env {name}: {source}")]
    Field {
        name: String,
        source: UnsupportedField,
    },
    #[error("env {name}: resourceFieldRef is not supported by the simulator")]
    ResourceField { name: String },
}

impl EnvError {
    /// The container's waiting reason while its configuration cannot be resolved.
    pub fn reason(&self) -> &'static str {
        "CreateContainerConfigError"
    }
}

/// The Pod-defined variables of `container` (not the base environment), with container paths rewritten to host
/// paths. `base` is visible to `$(VAR)` references but is not part of the result.
pub fn resolve_env(
    pod: &Pod,
    container: &Container,
    objects: &ReferencedObjects,
    base: &BTreeMap<String, String>,
    paths: &PathRewriter,
) -> Result<BTreeMap<String, String>, EnvError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mut env: BTreeMap<String, String> = BTreeMap::new();

    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        let (data, optional, missing) = if let Some(secret) = &source.secret_ref {
            let missing = EnvError::SecretNotFound {
                name: secret.name.clone(),
            };
            (objects.secrets.get(&secret.name), secret.optional, missing)
        } else if let Some(config_map) = &source.config_map_ref {
            let missing = EnvError::ConfigMapNotFound {
                name: config_map.name.clone(),
            };
            (
                objects.config_maps.get(&config_map.name),
                config_map.optional,
                missing,
            )
        } else {
            continue;
        };
        match data {
            Some(data) => {
                for (key, value) in data {
                    env.insert(
                        format!("{prefix}{key}"),
                        String::from_utf8_lossy(value).into_owned(),
                    );
                }
            }
            None if optional == Some(true) => {}
            None => return Err(missing),
        }
    }

    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => {
                let raw = var.value.clone().unwrap_or_default();
                Some(expand(&raw, |name| {
                    env.get(name).or_else(|| base.get(name)).cloned()
                }))
            }
            Some(source) => {
                if let Some(selector) = &source.secret_key_ref {
                    lookup_key(
                        objects.secrets.get(&selector.name),
                        &selector.key,
                        selector.optional == Some(true),
                        || EnvError::SecretNotFound {
                            name: selector.name.clone(),
                        },
                        || EnvError::SecretKeyNotFound {
                            namespace: namespace.clone(),
                            name: selector.name.clone(),
                            key: selector.key.clone(),
                        },
                    )?
                } else if let Some(selector) = &source.config_map_key_ref {
                    lookup_key(
                        objects.config_maps.get(&selector.name),
                        &selector.key,
                        selector.optional == Some(true),
                        || EnvError::ConfigMapNotFound {
                            name: selector.name.clone(),
                        },
                        || EnvError::ConfigMapKeyNotFound {
                            namespace: namespace.clone(),
                            name: selector.name.clone(),
                            key: selector.key.clone(),
                        },
                    )?
                } else if let Some(field) = &source.field_ref {
                    Some(
                        pod_field(pod, &field.field_path).map_err(|source| EnvError::Field {
                            name: var.name.clone(),
                            source,
                        })?,
                    )
                } else {
                    return Err(EnvError::ResourceField {
                        name: var.name.clone(),
                    });
                }
            }
        };
        // An optional reference to something missing leaves the variable unset, as in Kubernetes.
        if let Some(value) = value {
            env.insert(var.name.clone(), value);
        }
    }

    Ok(env
        .into_iter()
        .map(|(name, value)| (name, paths.rewrite(&value)))
        .collect())
}

fn lookup_key(
    data: Option<&BTreeMap<String, Vec<u8>>>,
    key: &str,
    optional: bool,
    object_missing: impl FnOnce() -> EnvError,
    key_missing: impl FnOnce() -> EnvError,
) -> Result<Option<String>, EnvError> {
    match data.map(|data| data.get(key)) {
        Some(Some(value)) => Ok(Some(String::from_utf8_lossy(value).into_owned())),
        _ if optional => Ok(None),
        Some(None) => Err(key_missing()),
        None => Err(object_missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(env: Value, env_from: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "backup-x", "namespace": "ns", "uid": "u-1", "labels": {"app": "bao"}},
            "spec": {"serviceAccountName": "backup", "containers": [{"name": "main", "env": env, "envFrom": env_from}]}
        }))
        .unwrap()
    }

    fn objects() -> ReferencedObjects {
        let mut objects = ReferencedObjects::default();
        objects.secrets.insert(
            "creds".into(),
            BTreeMap::from([("token".into(), b"s3cr3t".to_vec())]),
        );
        objects.config_maps.insert(
            "settings".into(),
            BTreeMap::from([
                ("LEVEL".into(), b"debug".to_vec()),
                ("DIR".into(), b"/etc/bao".to_vec()),
            ]),
        );
        objects
    }

    fn resolve(pod: &Pod) -> Result<BTreeMap<String, String>, EnvError> {
        let mut paths = PathRewriter::default();
        paths.add("/etc/bao", "/host/pod/volumes/config");
        let base = BTreeMap::from([("PATH".to_string(), "/usr/bin".to_string())]);
        resolve_env(
            pod,
            &pod.spec.as_ref().unwrap().containers[0],
            &objects(),
            &base,
            &paths,
        )
    }

    #[test]
    fn resolves_values_references_and_fields() {
        let pod = pod(
            json!([
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                {"name": "LEVEL_COPY", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "LEVEL"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "GREETING", "value": "pod $(POD) in $(MISSING) with $(PATH)"},
                {"name": "CONFIG", "value": "$(DIR)/config.hcl"}
            ]),
            json!([{"configMapRef": {"name": "settings"}}, {"prefix": "S_", "secretRef": {"name": "creds"}}]),
        );
        let env = resolve(&pod).unwrap();
        let expected: BTreeMap<String, String> = [
            ("TOKEN", "s3cr3t"),
            ("LEVEL_COPY", "debug"),
            ("POD", "backup-x"),
            ("SA", "backup"),
            ("IP", "127.0.0.1"),
            ("GREETING", "pod backup-x in $(MISSING) with /usr/bin"),
            ("CONFIG", "/host/pod/volumes/config/config.hcl"),
            ("LEVEL", "debug"),
            ("DIR", "/host/pod/volumes/config"),
            ("S_token", "s3cr3t"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        assert_eq!(env, expected);
    }

    #[test]
    fn env_overrides_env_from_and_only_sees_earlier_variables() {
        let pod = pod(
            json!([
                {"name": "EARLY", "value": "$(LATE)"},
                {"name": "LEVEL", "value": "info"},
                {"name": "LATE", "value": "late"}
            ]),
            json!([{"configMapRef": {"name": "settings"}}]),
        );
        let env = resolve(&pod).unwrap();
        assert_eq!(env["EARLY"], "$(LATE)");
        assert_eq!(env["LEVEL"], "info");
    }

    #[test]
    fn missing_required_references_fail_and_optional_ones_are_skipped() {
        let missing_secret = pod(
            json!([{"name": "T", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]),
            json!([]),
        );
        let error = resolve(&missing_secret).unwrap_err();
        assert_eq!(error.to_string(), "secret \"nope\" not found");
        assert_eq!(error.reason(), "CreateContainerConfigError");

        let missing_key = pod(
            json!([{"name": "T", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope"}}}]),
            json!([]),
        );
        assert_eq!(
            resolve(&missing_key).unwrap_err().to_string(),
            "couldn't find key nope in Secret ns/creds"
        );

        let optional = pod(
            json!([{"name": "T", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}}]),
            json!([{"configMapRef": {"name": "absent", "optional": true}}]),
        );
        assert!(resolve(&optional).unwrap().is_empty());

        let missing_env_from = pod(json!([]), json!([{"configMapRef": {"name": "absent"}}]));
        assert_eq!(
            resolve(&missing_env_from).unwrap_err(),
            EnvError::ConfigMapNotFound {
                name: "absent".into()
            }
        );
    }
}

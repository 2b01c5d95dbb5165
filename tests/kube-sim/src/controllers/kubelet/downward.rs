//! The downward API: Pod fields a container can read through `env[].valueFrom.fieldRef` or a `downwardAPI`
//! volume item.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

/// Every process runs on loopback, so that is the Pod's (and the node's) IP.
pub const POD_IP: &str = "127.0.0.1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported fieldRef fieldPath {0:?}")]
pub struct UnsupportedField(pub String);

pub fn pod_field(pod: &Pod, field_path: &str) -> Result<String, UnsupportedField> {
    let metadata = &pod.metadata;
    let spec = pod.spec.as_ref();
    if let Some(key) = bracketed_key(field_path, "metadata.labels") {
        return Ok(metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(key))
            .cloned()
            .unwrap_or_default());
    }
    if let Some(key) = bracketed_key(field_path, "metadata.annotations") {
        return Ok(metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(key))
            .cloned()
            .unwrap_or_default());
    }
    let value = match field_path {
        "metadata.name" => metadata.name.clone(),
        "metadata.namespace" => metadata.namespace.clone(),
        "metadata.uid" => metadata.uid.clone(),
        "metadata.labels" => Some(key_value_lines(metadata.labels.as_ref())),
        "metadata.annotations" => Some(key_value_lines(metadata.annotations.as_ref())),
        "spec.serviceAccountName" => spec.and_then(|spec| spec.service_account_name.clone()),
        "spec.nodeName" => spec.and_then(|spec| spec.node_name.clone()),
        "status.podIP" | "status.podIPs" | "status.hostIP" | "status.hostIPs" => {
            Some(POD_IP.to_string())
        }
        unsupported => return Err(UnsupportedField(unsupported.to_string())),
    };
    Ok(value.unwrap_or_default())
}

fn bracketed_key<'a>(field_path: &'a str, prefix: &str) -> Option<&'a str> {
    let key = field_path
        .strip_prefix(prefix)?
        .strip_prefix("['")?
        .strip_suffix("']")?;
    Some(key)
}

/// The kubelet's format for whole label/annotation maps: `key="value"` lines, sorted by key.
fn key_value_lines(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u-1",
                         "labels": {"app": "bao", "tier": "db"}, "annotations": {"note": "x"}},
            "spec": {"serviceAccountName": "backup", "containers": []}
        }))
        .unwrap()
    }

    #[test]
    fn reads_metadata_spec_and_status_fields() {
        let pod = pod();
        assert_eq!(pod_field(&pod, "metadata.name").unwrap(), "p");
        assert_eq!(pod_field(&pod, "metadata.namespace").unwrap(), "ns");
        assert_eq!(pod_field(&pod, "metadata.uid").unwrap(), "u-1");
        assert_eq!(pod_field(&pod, "metadata.labels['app']").unwrap(), "bao");
        assert_eq!(pod_field(&pod, "metadata.labels['absent']").unwrap(), "");
        assert_eq!(
            pod_field(&pod, "metadata.annotations['note']").unwrap(),
            "x"
        );
        assert_eq!(
            pod_field(&pod, "metadata.labels").unwrap(),
            "app=\"bao\"\ntier=\"db\""
        );
        assert_eq!(
            pod_field(&pod, "spec.serviceAccountName").unwrap(),
            "backup"
        );
        assert_eq!(pod_field(&pod, "status.podIP").unwrap(), "127.0.0.1");
    }

    #[test]
    fn rejects_unknown_fields() {
        assert_eq!(
            pod_field(&pod(), "spec.bogus"),
            Err(UnsupportedField("spec.bogus".to_string()))
        );
    }
}

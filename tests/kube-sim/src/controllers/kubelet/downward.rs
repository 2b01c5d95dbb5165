//! The downward API: Pod fields a container can read through `env[].valueFrom.fieldRef` or a `downwardAPI`
//! volume item.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use sha2::{Digest, Sha256};

use crate::controllers::labels;

/// Every process runs on loopback, so that is the node's IP, and the IP of every Pod [`pod_ip`] gives no address of
/// its own.
pub const HOST_IP: &str = "127.0.0.1";

/// The Pod's IP (`status.podIP`). A StatefulSet Pod gets `127.A.B.(ordinal + 1)`, where `A` (1..=254) and `B`
/// (0..=255) come from a stable hash of the owning StatefulSet's uid: each StatefulSet has its own /24 (also across
/// simulators in one process, since uids are random), its Pods can all listen on the same port, and a replaced Pod
/// keeps its IP. Linux routes all of 127.0.0.0/8 to loopback, so these addresses can be bound without setup.
/// Every other Pod, and a StatefulSet Pod whose ordinal is 254 or more (no room left in the /24) or whose
/// `apps.kubernetes.io/pod-index` label is missing, gets [`HOST_IP`].
pub fn pod_ip(pod: &Pod) -> String {
    statefulset_pod_ip(pod).unwrap_or_else(|| HOST_IP.to_string())
}

fn statefulset_pod_ip(pod: &Pod) -> Option<String> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.kind == "StatefulSet")?;
    let ordinal: u32 = pod
        .metadata
        .labels
        .as_ref()?
        .get(labels::POD_INDEX)?
        .parse()
        .ok()?;
    if ordinal >= 254 {
        return None;
    }
    let digest = Sha256::digest(owner.uid.as_bytes());
    let a = u16::from_be_bytes([digest[0], digest[1]]) % 254 + 1;
    let b = digest[2];
    Some(format!("127.{a}.{b}.{}", ordinal + 1))
}

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
        "status.podIP" | "status.podIPs" => Some(pod_ip(pod)),
        "status.hostIP" | "status.hostIPs" => Some(HOST_IP.to_string()),
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
        assert_eq!(pod_field(&pod, "status.hostIP").unwrap(), "127.0.0.1");
    }

    fn statefulset_pod(set_uid: &str, ordinal: u32) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("bao-{ordinal}"), "namespace": "ns", "uid": format!("pod-{ordinal}"),
                         "labels": {"apps.kubernetes.io/pod-index": ordinal.to_string()},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "bao",
                                              "uid": set_uid, "controller": true}]},
            "spec": {"containers": []}
        }))
        .unwrap()
    }

    fn prefix(ip: &str) -> &str {
        ip.rsplit_once('.').unwrap().0
    }

    #[test]
    fn a_statefulset_pod_gets_its_ordinal_in_its_sets_own_24() {
        let ip = pod_ip(&statefulset_pod("set-uid-1", 2));
        let octets: Vec<u32> = ip.split('.').map(|octet| octet.parse().unwrap()).collect();
        assert_eq!((octets[0], octets[3]), (127, 3), "{ip}");
        assert!((1..=254).contains(&octets[1]), "{ip}");
        assert!(octets[2] <= 255, "{ip}");
        let pod = statefulset_pod("set-uid-1", 2);
        assert_eq!(pod_field(&pod, "status.podIP").unwrap(), ip);
        assert_eq!(pod_field(&pod, "status.hostIP").unwrap(), "127.0.0.1");
    }

    #[test]
    fn other_pods_and_out_of_range_ordinals_get_the_host_ip() {
        assert_eq!(pod_ip(&pod()), "127.0.0.1");
        let mut job_pod = statefulset_pod("job-uid", 0);
        job_pod.metadata.owner_references.as_mut().unwrap()[0].kind = "Job".into();
        assert_eq!(pod_ip(&job_pod), "127.0.0.1");
        let mut unlabelled = statefulset_pod("set-uid-1", 0);
        unlabelled.metadata.labels = None;
        assert_eq!(pod_ip(&unlabelled), "127.0.0.1");
        assert!(pod_ip(&statefulset_pod("set-uid-1", 253)).ends_with(".254"));
        assert_eq!(pod_ip(&statefulset_pod("set-uid-1", 254)), "127.0.0.1");
    }

    #[test]
    fn two_statefulsets_get_different_24s() {
        let first = pod_ip(&statefulset_pod("6f1c2a9e-0b7d-4e1a-a3c5-9d2e8f41b6a0", 0));
        let second = pod_ip(&statefulset_pod("c04e7b18-52f3-4a96-a8d1-7e3b0c95f2d4", 0));
        assert_ne!(prefix(&first), prefix(&second));
    }

    #[test]
    fn pods_of_one_statefulset_share_a_24_and_a_replaced_pod_keeps_its_ip() {
        let uid = "6f1c2a9e-0b7d-4e1a-a3c5-9d2e8f41b6a0";
        let ips: Vec<String> = (0..3)
            .map(|ordinal| pod_ip(&statefulset_pod(uid, ordinal)))
            .collect();
        assert!(
            ips.iter().all(|ip| prefix(ip) == prefix(&ips[0])),
            "{ips:?}"
        );
        assert_eq!(ips[0], format!("{}.1", prefix(&ips[0])));
        assert_eq!(pod_ip(&statefulset_pod(uid, 1)), ips[1]);
    }

    #[test]
    fn rejects_unknown_fields() {
        assert_eq!(
            pod_field(&pod(), "spec.bogus"),
            Err(UnsupportedField("spec.bogus".to_string()))
        );
    }
}

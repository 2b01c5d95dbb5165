//! The Pod for one StatefulSet ordinal, built as the StatefulSet controller builds it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::controllers::labels;

pub fn statefulset_pod(
    set: &StatefulSet,
    template: &PodTemplateSpec,
    ordinal: u32,
    revision: &str,
) -> Pod {
    let set_name = set.metadata.name.clone().unwrap_or_default();
    let pod_name = format!("{set_name}-{ordinal}");
    let template_metadata = template.metadata.clone().unwrap_or_default();
    let mut pod_labels = template_metadata.labels.unwrap_or_default();
    pod_labels.extend(BTreeMap::from([
        (
            labels::CONTROLLER_REVISION_HASH.to_string(),
            revision.to_string(),
        ),
        (labels::STATEFULSET_POD_NAME.to_string(), pod_name.clone()),
        (labels::POD_INDEX.to_string(), ordinal.to_string()),
    ]));

    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(pod_name.clone());
    spec.subdomain = set.spec.as_ref().and_then(|spec| spec.service_name.clone());
    // Each volumeClaimTemplate becomes a claim named `<template>-<pod>`, mounted under the template's name.
    let claim_volumes = set
        .spec
        .iter()
        .flat_map(|spec| spec.volume_claim_templates.iter().flatten())
        .filter_map(|claim| claim.metadata.name.clone())
        .map(|claim| Volume {
            name: claim.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: format!("{claim}-{pod_name}"),
                read_only: None,
            }),
            ..Volume::default()
        });
    let mut volumes: Vec<Volume> = spec.volumes.take().unwrap_or_default();
    for claim_volume in claim_volumes {
        if !volumes
            .iter()
            .any(|volume| volume.name == claim_volume.name)
        {
            volumes.push(claim_volume);
        }
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);

    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name),
            namespace: set.metadata.namespace.clone(),
            labels: Some(pod_labels),
            annotations: template_metadata.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".to_string(),
                kind: "StatefulSet".to_string(),
                name: set_name,
                uid: set.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The template a Pod was built from, recovered from the Pod itself (for a revision whose template the
/// controller no longer has, e.g. the current one after a restart).
pub fn template_of(pod: &Pod) -> PodTemplateSpec {
    let mut labels = pod.metadata.labels.clone().unwrap_or_default();
    for generated in [
        labels::CONTROLLER_REVISION_HASH,
        labels::STATEFULSET_POD_NAME,
        labels::POD_INDEX,
    ] {
        labels.remove(generated);
    }
    let mut spec = pod.spec.clone().unwrap_or_default();
    spec.hostname = None;
    spec.subdomain = None;
    if let Some(volumes) = spec.volumes.as_mut() {
        volumes.retain(|volume| volume.persistent_volume_claim.is_none());
    }
    spec.volumes = spec.volumes.filter(|volumes| !volumes.is_empty());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: pod.metadata.annotations.clone(),
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_has_stable_identity_revision_and_claims() {
        let set: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "bao", "namespace": "ns", "uid": "s-1"},
            "spec": {
                "serviceName": "bao-internal",
                "selector": {"matchLabels": {"app": "bao"}},
                "template": {"metadata": {"labels": {"app": "bao"}},
                             "spec": {"containers": [{"name": "openbao", "image": "openbao:2.7.2"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}}]
            }
        }))
        .unwrap();
        let template = set.spec.as_ref().unwrap().template.clone();
        let pod = statefulset_pod(&set, &template, 2, "bao-abc");
        let expected: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "bao-2", "namespace": "ns",
                "labels": {"app": "bao", "controller-revision-hash": "bao-abc",
                           "statefulset.kubernetes.io/pod-name": "bao-2", "apps.kubernetes.io/pod-index": "2"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "bao", "uid": "s-1",
                                     "controller": true, "blockOwnerDeletion": true}]
            },
            "spec": {
                "hostname": "bao-2", "subdomain": "bao-internal",
                "containers": [{"name": "openbao", "image": "openbao:2.7.2"}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-bao-2"}}]
            }
        }))
        .unwrap();
        assert_eq!(pod, expected);
        assert_eq!(
            template_of(&pod).spec,
            Some(
                serde_json::from_value(json!({
                    "containers": [{"name": "openbao", "image": "openbao:2.7.2"}]
                }))
                .unwrap()
            )
        );
    }
}

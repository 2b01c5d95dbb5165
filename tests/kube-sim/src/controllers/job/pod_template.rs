//! The Pod a Job attempt runs in, built the way the Job controller builds it.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use rand::Rng;

use crate::controllers::labels;

/// The alphabet the API server uses for `generateName` suffixes (no vowels, no look-alike digits).
const NAME_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn random_name_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| char::from(NAME_SUFFIX_ALPHABET[rng.random_range(0..NAME_SUFFIX_ALPHABET.len())]))
        .collect()
}

/// A Pod for one attempt of `job`, named `<job>-<suffix>`, owned by the Job (controller reference) and labelled
/// so that `kubectl logs job/<name>` and label selectors find it.
pub fn job_pod(job: &Job, name_suffix: &str) -> Pod {
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let job_uid = job.metadata.uid.clone().unwrap_or_default();
    let template = job
        .spec
        .as_ref()
        .map(|spec| spec.template.clone())
        .unwrap_or_default();
    let template_metadata = template.metadata.unwrap_or_default();

    let mut pod_labels = template_metadata.labels.unwrap_or_default();
    pod_labels.extend(BTreeMap::from([
        (labels::JOB_NAME.to_string(), job_name.clone()),
        (labels::BATCH_JOB_NAME.to_string(), job_name.clone()),
        (labels::CONTROLLER_UID.to_string(), job_uid.clone()),
        (labels::BATCH_CONTROLLER_UID.to_string(), job_uid.clone()),
    ]));

    Pod {
        metadata: ObjectMeta {
            name: Some(format!("{job_name}-{name_suffix}")),
            namespace: job.metadata.namespace.clone(),
            labels: Some(pod_labels),
            annotations: template_metadata.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".to_string(),
                kind: "Job".to_string(),
                name: job_name,
                uid: job_uid,
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_is_owned_and_labelled_like_the_job_controller_does() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "backup-1", "namespace": "ns", "uid": "u-1"},
            "spec": {"template": {
                "metadata": {"labels": {"app": "backup"}, "annotations": {"a": "b"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "img"}]}
            }}
        }))
        .unwrap();
        let pod = job_pod(&job, "x2b4z");
        let expected: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "backup-1-x2b4z", "namespace": "ns",
                "labels": {"app": "backup", "job-name": "backup-1", "batch.kubernetes.io/job-name": "backup-1",
                           "controller-uid": "u-1", "batch.kubernetes.io/controller-uid": "u-1"},
                "annotations": {"a": "b"},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "backup-1", "uid": "u-1",
                                     "controller": true, "blockOwnerDeletion": true}]
            },
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "img"}]}
        }))
        .unwrap();
        assert_eq!(pod, expected);
    }

    #[test]
    fn name_suffix_uses_the_generate_name_alphabet() {
        let suffix = random_name_suffix();
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix
                .bytes()
                .all(|byte| NAME_SUFFIX_ALPHABET.contains(&byte))
        );
    }
}

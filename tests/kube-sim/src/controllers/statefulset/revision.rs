//! Revision names for StatefulSet Pod templates: `<statefulset>-<hash of the template>`, the value of the Pods'
//! `controller-revision-hash` label and of `status.currentRevision`/`updateRevision`.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use sha2::{Digest, Sha256};

/// The alphabet Kubernetes uses for hashes in names (no vowels, no look-alike characters).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const HASH_LENGTH: usize = 10;

pub fn revision_name(statefulset: &str, template: &PodTemplateSpec) -> String {
    // Struct fields serialize in a fixed order and maps are BTreeMaps, so equal templates hash equally.
    let encoded = serde_json::to_vec(template).expect("a PodTemplateSpec always serializes");
    let digest = Sha256::digest(&encoded);
    let hash: String = digest
        .iter()
        .take(HASH_LENGTH)
        .map(|byte| char::from(SAFE_ALPHABET[usize::from(*byte) % SAFE_ALPHABET.len()]))
        .collect();
    format!("{statefulset}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "bao", "tier": "db"}},
            "spec": {"containers": [{"name": "openbao", "image": image}]}
        }))
        .unwrap()
    }

    #[test]
    fn equal_templates_share_a_revision_and_changes_make_a_new_one() {
        let first = revision_name("bao", &template("openbao:2.6.0"));
        assert_eq!(first, revision_name("bao", &template("openbao:2.6.0")));
        assert_ne!(first, revision_name("bao", &template("openbao:2.7.2")));
        assert!(first.starts_with("bao-"));
        assert_eq!(first.len(), "bao-".len() + HASH_LENGTH);
    }
}

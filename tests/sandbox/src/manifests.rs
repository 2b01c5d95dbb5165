//! The objects the sandbox applies: the project's CRDs, OpenBao's StatefulSet (from the harness's workload) and a
//! sample OpenBaoCluster naming it, with its S3 credentials Secret. Pure: addresses in, JSON out.

use serde_json::{Value, json};

/// The CRDs as `openbao-operator crds` prints them (a test in the root package keeps this file in sync).
pub const CRDS_YAML: &str = include_str!("../../../deploy/crds/crds.yaml");

pub const NAMESPACE: &str = "default";
pub const CLUSTER_NAME: &str = "sandbox";
pub const CREDENTIALS_SECRET: &str = "sandbox-backup-s3";
/// The image of backup Jobs; the simulator's kubelet maps it to the local operator binary.
pub const EXECUTOR_IMAGE: &str = "openbao-operator:sandbox";
pub const JWT_ROLE: &str = "backup";
pub const JWT_AUDIENCE: &str = "openbao-internal";
/// OpenBao's StatefulSet; its Pods are `openbao-0`, `openbao-1`, ...
pub const STATEFUL_SET: &str = "openbao";

/// Where the sample cluster's backups go, how its Jobs reach OpenBao and what the operator upgrades.
#[derive(Debug, Clone)]
pub struct SampleCluster {
    /// `spec.version`: the release the StatefulSet's Pods run.
    pub version: String,
    /// `spec.replicas`: the StatefulSet's replicas.
    pub replicas: u32,
    /// The API of ordinal 0's Pod.
    pub openbao_endpoint: String,
    /// The Pods' network (`127.A.B.0/24`): executors follow `sys/leader` to any Pod.
    pub pod_network: String,
    pub schedule: String,
    pub s3_endpoint: String,
    pub bucket: String,
    pub region: String,
}

impl SampleCluster {
    pub fn to_json(&self) -> Value {
        json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": {"name": CLUSTER_NAME, "namespace": NAMESPACE},
            "spec": {
                "version": self.version,
                "replicas": self.replicas,
                // The upgrade guard replaces this StatefulSet's Pods.
                "workload": {"statefulSetName": STATEFUL_SET},
                // The sandbox's servers listen on loopback without TLS.
                "allowPlainHttp": true,
                "endpoint": self.openbao_endpoint,
                "leaderHosts": [self.pod_network],
                "backup": {
                    "schedule": self.schedule,
                    "target": {
                        "provider": "s3",
                        "bucket": self.bucket,
                        "pathPrefix": "sandbox",
                        "s3": {"endpoint": self.s3_endpoint, "region": self.region, "forcePathStyle": true},
                        "credentialsSecretRef": {"name": CREDENTIALS_SECRET},
                    },
                    "auth": {"jwt": {"role": JWT_ROLE, "audience": JWT_AUDIENCE}},
                    // A backup a minute: keep the bucket small.
                    "retention": {"keepLast": 10},
                },
            },
        })
    }
}

/// The ServiceAccount subject of the sample cluster's backup Jobs, which the OpenBao JWT role is bound to.
pub fn backup_subject() -> String {
    format!("system:serviceaccount:{NAMESPACE}:{CLUSTER_NAME}-backup")
}

pub fn credentials_secret(access_key: &str, secret_key: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CREDENTIALS_SECRET, "namespace": NAMESPACE},
        "stringData": {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SampleCluster {
        SampleCluster {
            version: "2.6.2".into(),
            replicas: 3,
            openbao_endpoint: "http://127.12.34.1:8200".into(),
            pod_network: "127.12.34.0/24".into(),
            schedule: "* * * * *".into(),
            s3_endpoint: "http://127.0.0.1:9000".into(),
            bucket: "snapshots".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn sample_cluster_backs_up_to_the_local_store_with_jwt_auth() {
        let cluster = sample().to_json();
        let backup = &cluster["spec"]["backup"];
        assert_eq!(cluster["spec"]["endpoint"], "http://127.12.34.1:8200");
        assert_eq!(backup["schedule"], "* * * * *");
        assert_eq!(backup["target"]["s3"]["endpoint"], "http://127.0.0.1:9000");
        assert_eq!(backup["target"]["s3"]["forcePathStyle"], true);
        assert_eq!(
            backup["target"]["credentialsSecretRef"]["name"],
            CREDENTIALS_SECRET
        );
        assert_eq!(backup["auth"]["jwt"]["role"], "backup");
        assert_eq!(backup["auth"]["jwt"]["audience"], "openbao-internal");
    }

    #[test]
    fn sample_cluster_names_the_statefulset_its_version_and_the_pod_network() {
        let cluster = sample().to_json();
        let spec = &cluster["spec"];
        assert_eq!(spec["version"], "2.6.2");
        assert_eq!(spec["replicas"], 3);
        assert_eq!(spec["workload"]["statefulSetName"], "openbao");
        assert_eq!(spec["leaderHosts"], json!(["127.12.34.0/24"]));
    }

    #[test]
    fn sample_cluster_passes_the_crd_schema_and_cel_rules() {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        let crd: CustomResourceDefinition = serde_norway::Deserializer::from_str(CRDS_YAML)
            .map(|document| serde::Deserialize::deserialize(document).expect("a CRD"))
            .find(|crd: &CustomResourceDefinition| crd.spec.names.kind == "OpenBaoCluster")
            .expect("the OpenBaoCluster CRD");
        let validator = openbao_crds::schema_check::CrdValidator::new(&crd).expect("validator");
        validator
            .validate_create(&sample().to_json())
            .expect("the sample is a valid OpenBaoCluster");
        let typed: openbao_crds::OpenBaoCluster =
            serde_json::from_value(sample().to_json()).expect("the operator's type reads it");
        assert_eq!(typed.metadata.name.as_deref(), Some(CLUSTER_NAME));
    }

    #[test]
    fn the_jwt_subject_is_the_backup_service_account_the_operator_creates() {
        assert_eq!(
            backup_subject(),
            "system:serviceaccount:default:sandbox-backup"
        );
    }

    #[test]
    fn embedded_crds_are_the_two_project_crds() {
        let names: Vec<String> = serde_norway::Deserializer::from_str(CRDS_YAML)
            .map(|document| {
                let value: Value = serde::Deserialize::deserialize(document).expect("YAML");
                value["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            ["openbaoclusters.openbao.org", "openbaorestores.openbao.org"]
        );
    }
}

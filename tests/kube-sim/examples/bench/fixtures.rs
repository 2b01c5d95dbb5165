//! Objects shaped like the operator's: the project's CRDs, OpenBaoClusters, backup Jobs, Events.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use serde::Deserialize;
use serde_json::{Value, json};

pub const NAMESPACE: &str = "default";
pub const JOB_SELECTOR: &str = "openbao.org/operation=backup";
pub const NO_OP_IMAGE: &str = "bench.local/no-op:1";
const SERVICE_ACCOUNT: &str = "bench-backup";

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn cluster_resource() -> ApiResource {
    ApiResource {
        group: "openbao.org".into(),
        version: "v1alpha1".into(),
        api_version: "openbao.org/v1alpha1".into(),
        kind: "OpenBaoCluster".into(),
        plural: "openbaoclusters".into(),
    }
}

pub fn clusters(client: &kube::Client) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), NAMESPACE, &cluster_resource())
}

/// Creates the CRDs of `deploy/crds/crds.yaml`, the ones the operator installs.
pub async fn apply_project_crds(client: &kube::Client) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/crds/crds.yaml"
    ))?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for document in serde_norway::Deserializer::from_str(&text) {
        let crd = CustomResourceDefinition::deserialize(document)?;
        api.create(&PostParams::default(), &crd).await?;
    }
    Ok(())
}

pub fn cluster(name: &str) -> anyhow::Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "version": "2.7.2",
            "endpoint": "http://127.0.0.1:9",
            "backup": {
                "schedule": "0 2 * * *",
                "target": {
                    "provider": "s3", "bucket": "bench",
                    "s3": {"endpoint": "http://127.0.0.1:9", "region": "us-east-1", "forcePathStyle": true},
                    "credentialsSecretRef": {"name": "bench-s3"},
                },
                "auth": {"jwt": {"role": "backup"}},
            },
        },
    }))?)
}

/// The Secrets and ServiceAccount a backup Job's Pod refers to.
pub async fn job_prerequisites(client: &kube::Client) -> anyhow::Result<()> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    for (name, data) in [
        (
            "bench-s3",
            json!({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}),
        ),
        ("bench-tls", json!({"ca.crt": "not a real certificate"})),
    ] {
        let secret: Secret = serde_json::from_value(
            json!({"metadata": {"name": name, "namespace": NAMESPACE}, "stringData": data}),
        )?;
        secrets.create(&PostParams::default(), &secret).await?;
    }
    let account: ServiceAccount = serde_json::from_value(
        json!({"metadata": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE}}),
    )?;
    Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &account)
        .await?;
    Ok(())
}

fn labels(cluster: &str) -> Value {
    json!({
        "app.kubernetes.io/component": "backup",
        "app.kubernetes.io/managed-by": "openbao-operator",
        "app.kubernetes.io/name": "openbao-executor",
        "openbao.org/backup-kind": "scheduled",
        "openbao.org/cluster": cluster,
        "openbao.org/operation": "backup",
    })
}

/// A backup Job like the operator builds (projected token, Secret volumes, env, security context).
pub fn backup_job(cluster: &str, cluster_uid: Option<&str>) -> anyhow::Result<Job> {
    let mut metadata = json!({
        "name": format!("{cluster}-backup-202603010200"),
        "namespace": NAMESPACE,
        "labels": labels(cluster),
        "annotations": {"openbao.org/lock-epoch": "1", "openbao.org/scheduled-time": "2026-03-01T02:00:00+00:00"},
    });
    if let Some(uid) = cluster_uid {
        metadata["ownerReferences"] = json!([{
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster", "name": cluster, "uid": uid,
            "controller": true, "blockOwnerDeletion": true,
        }]);
    }
    let env: Vec<Value> = [
        ("EXECUTOR_NAMESPACE", NAMESPACE),
        ("EXECUTOR_CLUSTER", cluster),
        ("EXECUTOR_KIND", "scheduled"),
        ("EXECUTOR_OPENBAO_ADDR", "http://127.0.0.1:9"),
        ("EXECUTOR_REPORT_PATH", "/dev/termination-log"),
        ("EXECUTOR_AUTH_JWT_ROLE", "backup"),
        ("EXECUTOR_STORE_PROVIDER", "s3"),
        ("EXECUTOR_STORE_BUCKET", "bench"),
        (
            "EXECUTOR_AUTH_JWT_FILE",
            "/var/run/secrets/openbao-operator/openbao-jwt/token",
        ),
        (
            "EXECUTOR_OPENBAO_CA_FILE",
            "/var/run/secrets/openbao-operator/openbao-ca/ca.crt",
        ),
        (
            "EXECUTOR_STORE_CREDENTIALS_DIR",
            "/var/run/secrets/openbao-operator/store-credentials",
        ),
    ]
    .into_iter()
    .map(|(name, value)| json!({"name": name, "value": value}))
    .collect();
    Ok(serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": metadata,
        "spec": {
            "activeDeadlineSeconds": 900,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels(cluster)},
                "spec": {
                    "automountServiceAccountToken": false,
                    "restartPolicy": "Never",
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "securityContext": {"fsGroup": 65532, "runAsNonRoot": true, "runAsUser": 65532},
                    "containers": [{
                        "name": "executor",
                        "image": NO_OP_IMAGE,
                        "args": ["executor", "backup"],
                        "env": env,
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                        "volumeMounts": [
                            {"mountPath": "/var/run/secrets/openbao-operator/openbao-jwt", "name": "openbao-jwt", "readOnly": true},
                            {"mountPath": "/var/run/secrets/openbao-operator/openbao-ca", "name": "openbao-ca", "readOnly": true},
                            {"mountPath": "/var/run/secrets/openbao-operator/store-credentials", "name": "store-credentials", "readOnly": true},
                            {"mountPath": "/tmp", "name": "tmp"},
                        ],
                    }],
                    "volumes": [
                        {"name": "openbao-jwt", "projected": {"defaultMode": 288, "sources": [
                            {"serviceAccountToken": {"audience": "openbao-internal", "expirationSeconds": 600, "path": "token"}},
                        ]}},
                        {"name": "openbao-ca", "secret": {"secretName": "bench-tls", "defaultMode": 288,
                            "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"name": "store-credentials", "secret": {"secretName": "bench-s3", "defaultMode": 288}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }))?)
}

pub fn backup_event(cluster: &str, cluster_uid: &str) -> anyhow::Result<Event> {
    let now = now();
    Ok(serde_json::from_value(json!({
        "metadata": {"generateName": format!("{cluster}."), "namespace": NAMESPACE},
        "involvedObject": {"apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster", "name": cluster,
            "namespace": NAMESPACE, "uid": cluster_uid},
        "reason": "BackupStarted", "message": "scheduled backup Job created", "type": "Normal",
        "source": {"component": "openbao-operator"},
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    }))?)
}

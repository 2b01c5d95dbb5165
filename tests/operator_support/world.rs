//! One isolated world per test: the Kubernetes API simulator (HTTPS, Job controller, kubelet running the real
//! executor binary behind an [`ExecutorGate`]), a real OpenBao raft cluster with JWT auth trusting the
//! simulator's ServiceAccount issuer, a real S3 server, the project's CRDs and the store credentials Secret.

use std::path::{Path, PathBuf};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;
use openbao_crds::{OpenBaoCluster, OpenBaoClusterStatus, OpenBaoRestore};
use openbao_test_harness::{
    JwtAuthSetup, OpenBaoCluster as Bao, OpenBaoOptions, S3Options, S3Server, TestJwtSigner,
};
use serde_json::json;

use super::gate::ExecutorGate;
use super::{EXECUTOR_IMAGE, NAMESPACE, apply_crds};

pub const CLUSTER: &str = "prod";
pub const CREDENTIALS_SECRET: &str = "backup-s3";

pub struct WorldOptions {
    pub openbao_nodes: usize,
    /// Closed: backup Pods wait at the gate until [`ExecutorGate::open`].
    pub gate_open: bool,
    /// Only backups wait at the gate; restores pass it.
    pub gate_backups_only: bool,
    /// Put a wrong secret key into the credentials Secret (the S3 server refuses the signature).
    pub wrong_store_secret: bool,
    /// KV secrets written before the first backup, so snapshots carry data.
    pub kv_secrets: usize,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            openbao_nodes: 1,
            gate_open: true,
            gate_backups_only: false,
            wrong_store_secret: false,
            kv_secrets: 50,
        }
    }
}

/// What goes into `spec.backup` besides target and auth.
pub struct BackupSettings {
    pub schedule: &'static str,
    pub suspend: bool,
    pub keep_last: Option<u32>,
    /// Index of the OpenBao node the executor is pointed at (it finds the leader itself).
    pub endpoint_node: usize,
    /// Overrides the node address, e.g. with a recording proxy's.
    pub endpoint: Option<String>,
    pub trigger: Option<&'static str>,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            schedule: "* * * * *",
            suspend: false,
            keep_last: None,
            endpoint_node: 0,
            endpoint: None,
            trigger: None,
        }
    }
}

impl BackupSettings {
    /// A schedule that never fires during a test (suspended): backups come from manual triggers only.
    pub fn manual_only() -> Self {
        Self {
            suspend: true,
            ..Self::default()
        }
    }
}

pub struct World {
    pub sim: Sim,
    pub bao: Bao,
    pub store: S3Server,
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    pub gate: ExecutorGate,
    // Declared last: removed after every process above stopped.
    pub dir: tempfile::TempDir,
}

impl World {
    pub async fn start(options: WorldOptions) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temp dir");
        let bao = Bao::start(options.openbao_nodes, OpenBaoOptions::default())
            .await
            .expect("OpenBao starts (install it with scripts/install-test-tools.sh)");
        if options.kv_secrets > 0 {
            bao.write_secrets("app", options.kv_secrets, 256)
                .await
                .expect("KV secrets written");
        }
        let store = S3Server::start(S3Options::default()).expect("S3 server starts");
        let gate = ExecutorGate::create_for(
            dir.path(),
            Path::new(env!("CARGO_BIN_EXE_openbao-operator")),
            options.gate_open,
            options.gate_backups_only,
        );
        let controllers = ControllersConfig::new(dir.path().join("pods"), dir.path().join("logs"))
            .image(EXECUTOR_IMAGE, gate.executable());
        let sim = Sim::builder()
            .controllers(controllers)
            .start()
            .await
            .expect("simulator starts");

        let mut setup = JwtAuthSetup::for_signer(&TestJwtSigner::new(sim.issuer()));
        setup.public_key_pem = sim.service_account_public_key_pem();
        setup.backup_subject = format!("system:serviceaccount:{NAMESPACE}:{CLUSTER}-backup");
        setup.restore_subject = format!("system:serviceaccount:{NAMESPACE}:{CLUSTER}-restore");
        bao.configure_jwt_auth(&setup)
            .await
            .expect("JWT auth configured");

        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let client = sim.client().await.expect("client");
        apply_crds(&client).await;
        let secret_key = if options.wrong_store_secret {
            "not-the-secret-key".to_string()
        } else {
            store.secret_key().to_string()
        };
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": CREDENTIALS_SECRET, "namespace": NAMESPACE},
            "stringData": {"AWS_ACCESS_KEY_ID": store.access_key(), "AWS_SECRET_ACCESS_KEY": secret_key},
        }))
        .expect("Secret");
        Api::<Secret>::namespaced(client.clone(), NAMESPACE)
            .create(&PostParams::default(), &secret)
            .await
            .expect("credentials Secret");
        Self {
            sim,
            bao,
            store,
            client,
            kubeconfig,
            gate,
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cluster_manifest(&self, backup: &BackupSettings) -> OpenBaoCluster {
        let mut backup_spec = json!({
            "schedule": backup.schedule,
            "suspend": backup.suspend,
            "target": {
                "provider": "s3",
                "bucket": self.store.bucket(),
                "s3": {"endpoint": self.store.endpoint(), "region": self.store.region(), "forcePathStyle": true},
                "credentialsSecretRef": {"name": CREDENTIALS_SECRET},
            },
            "auth": {"jwt": {"role": "backup"}},
        });
        if let Some(keep_last) = backup.keep_last {
            backup_spec["retention"] = json!({"keepLast": keep_last});
        }
        let mut metadata = json!({"name": CLUSTER, "namespace": NAMESPACE});
        if let Some(token) = backup.trigger {
            metadata["annotations"] = json!({"openbao.org/trigger-backup": token});
        }
        serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": metadata,
            "spec": {
                "version": "2.4.1",
                "replicas": self.bao.node_count(),
                // Loopback test servers speak plain HTTP.
                "allowPlainHttp": true,
                "endpoint": backup.endpoint.clone().unwrap_or_else(|| self.bao.node_addr(backup.endpoint_node)),
                "backup": backup_spec,
            },
        }))
        .expect("an OpenBaoCluster")
    }

    pub async fn create_cluster(&self, backup: &BackupSettings) -> OpenBaoCluster {
        self.clusters()
            .create(&PostParams::default(), &self.cluster_manifest(backup))
            .await
            .expect("cluster created")
    }

    pub fn clusters(&self) -> Api<OpenBaoCluster> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    pub async fn status(&self) -> Option<OpenBaoClusterStatus> {
        self.clusters().get(CLUSTER).await.ok()?.status
    }

    /// Writes `status.operationLock` the way another operation's owner would (a merge patch on `/status`).
    pub async fn patch_operation_lock(&self, lock: serde_json::Value) {
        self.clusters()
            .patch_status(
                CLUSTER,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"operationLock": lock}})),
            )
            .await
            .expect("status.operationLock patched");
    }

    pub async fn backup_jobs(&self) -> Vec<Job> {
        Api::<Job>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default().labels(&format!(
                "openbao.org/cluster={CLUSTER},openbao.org/operation=backup"
            )))
            .await
            .map(|list| list.items)
            .unwrap_or_default()
    }

    pub fn restores(&self) -> Api<OpenBaoRestore> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Creates an OpenBaoRestore for the world's cluster; `spec` is merged over `cluster` and JWT role `restore`.
    pub async fn create_restore(&self, name: &str, spec: serde_json::Value) -> OpenBaoRestore {
        let mut full = json!({"cluster": CLUSTER, "auth": {"jwt": {"role": "restore"}}});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            for (key, value) in extra {
                full.insert(key.clone(), value.clone());
            }
        }
        let request: OpenBaoRestore = serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoRestore",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": full,
        }))
        .expect("an OpenBaoRestore");
        self.restores()
            .create(&PostParams::default(), &request)
            .await
            .expect("restore created")
    }

    /// The restore Jobs (preflight and restore) of one `OpenBaoRestore`.
    pub async fn restore_jobs_of(&self, request: &str) -> Vec<Job> {
        self.restore_jobs()
            .await
            .into_iter()
            .filter(|job| {
                job.metadata
                    .labels
                    .as_ref()
                    .and_then(|labels| labels.get("openbao.org/restore"))
                    .map(String::as_str)
                    == Some(request)
            })
            .collect()
    }

    pub async fn restore_jobs(&self) -> Vec<Job> {
        Api::<Job>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default().labels(&format!(
                "openbao.org/cluster={CLUSTER},openbao.org/operation=restore"
            )))
            .await
            .map(|list| list.items)
            .unwrap_or_default()
    }

    /// Accepted (201) Job creates per Job name, from the simulator's log of every write it answered: a second
    /// create under one name would be a 409 and leave nothing behind, so duplicates are counted here.
    pub fn accepted_job_creates(&self) -> std::collections::BTreeMap<String, usize> {
        let mut accepted = std::collections::BTreeMap::new();
        for create in self
            .sim
            .requests_matching(kube_sim::Verb::Create, "jobs")
            .iter()
            .filter(|create| create.status == 201)
        {
            *accepted
                .entry(create.name.clone().expect("a created Job's name"))
                .or_default() += 1;
        }
        accepted
    }

    pub async fn events(&self) -> Vec<Event> {
        Api::<Event>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await
            .map(|list| list.items)
            .unwrap_or_default()
    }

    pub async fn events_with_reason(&self, reason: &str) -> Vec<Event> {
        self.events()
            .await
            .into_iter()
            .filter(|event| event.reason.as_deref() == Some(reason))
            .collect()
    }

    /// Sets the manual-backup annotation with real kubectl, as a user does.
    pub async fn trigger_backup(&self, token: &str) {
        super::kubectl::kubectl(
            &self.kubeconfig,
            &[
                "annotate",
                "obc",
                CLUSTER,
                &format!("openbao.org/trigger-backup={token}"),
                "--overwrite",
            ],
        )
        .await;
    }

    /// Keys in the bucket, sorted.
    pub fn bucket_keys(&self) -> Vec<String> {
        let mut keys = self.store.list_keys();
        keys.sort();
        keys
    }

    /// Snapshot keys ranked as a `source.latest` restore ranks them: by the manifest's `created`, then by key.
    /// A snapshot without a readable manifest is not a recovery point and is left out.
    pub fn snapshots_newest_first(&self) -> Vec<String> {
        let mut ranked: Vec<(String, String)> = self
            .bucket_keys()
            .into_iter()
            .filter(|key| key.ends_with(".snap"))
            .filter_map(|key| {
                let manifest = self.store.read_object(&format!("{key}.json"))?;
                let manifest: serde_json::Value = serde_json::from_slice(&manifest).ok()?;
                let created = chrono::DateTime::parse_from_rfc3339(manifest["created"].as_str()?)
                    .ok()?
                    .to_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                Some((created, key))
            })
            .collect();
        ranked.sort_by(|a, b| b.cmp(a));
        ranked.into_iter().map(|(_, key)| key).collect()
    }
}

/// Whether `job` reached a terminal condition (`Complete` or `Failed`).
pub fn job_finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

pub fn job_succeeded(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

pub fn job_annotation<'a>(job: &'a Job, name: &str) -> Option<&'a str> {
    job.metadata
        .annotations
        .as_ref()?
        .get(name)
        .map(String::as_str)
}

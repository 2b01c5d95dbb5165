//! A world for upgrade tests: the simulator running OpenBao as a StatefulSet of real `bao` processes (the image tag
//! picks 2.6.2 or 2.7.2, claims keep raft data, a static seal unseals), the executor behind an [`ExecutorGate`],
//! a real S3 server, and an `OpenBaoCluster` that backs up with a scoped token and names the StatefulSet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;
use openbao_crds::{OpenBaoCluster, OpenBaoClusterStatus};
use openbao_test_harness::openbao::workload::OpenBaoWorkload;
use openbao_test_harness::wait::poll_until;
use openbao_test_harness::{BACKUP_POLICY, BACKUP_POLICY_NAME, S3Options, S3Server};
use reqwest::Method;
use serde_json::json;

use super::gate::ExecutorGate;
use super::{EXECUTOR_IMAGE, NAMESPACE, apply_crds};

pub const CLUSTER: &str = "prod";
pub const STATEFUL_SET: &str = "openbao";
pub const REPLICAS: u32 = 3;
const CREDENTIALS_SECRET: &str = "backup-s3";
const TOKEN_SECRET: &str = "openbao-backup-token";
const STARTUP: Duration = Duration::from_secs(180);

pub struct UpgradeWorld {
    pub sim: Sim,
    pub store: S3Server,
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    pub gate: ExecutorGate,
    pub workload: OpenBaoWorkload,
    // Declared last: removed after every process above stopped.
    pub dir: tempfile::TempDir,
}

impl UpgradeWorld {
    /// Three Pods of `version` forming one initialized cluster, with a KV secret `kept` written on it.
    pub async fn start(version: &str, wrong_store_secret: bool, gate_open: bool) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut workload = OpenBaoWorkload::prepare(dir.path(), STATEFUL_SET, REPLICAS).expect(
            "OpenBao 2.6.2 and 2.7.2 launchers (install them with scripts/install-test-tools.sh)",
        );
        let store = S3Server::start(S3Options::default()).expect("S3 server starts");
        let gate = ExecutorGate::create_for(
            dir.path(),
            Path::new(env!("CARGO_BIN_EXE_openbao-operator")),
            gate_open,
            true,
        );
        let mut controllers =
            ControllersConfig::new(dir.path().join("pods"), dir.path().join("logs"))
                .run_statefulset_pods(true)
                .image(EXECUTOR_IMAGE, gate.executable());
        for (image, launcher) in workload.images() {
            controllers = controllers.image(image.clone(), launcher);
        }
        let sim = Sim::builder()
            .controllers(controllers)
            .start()
            .await
            .expect("simulator starts");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        let client = sim.client().await.expect("client");
        apply_crds(&client).await;

        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
        let set: StatefulSet =
            serde_json::from_value(workload.manifest(NAMESPACE, version)).expect("StatefulSet");
        sets.create(&PostParams::default(), &set)
            .await
            .expect("StatefulSet created");
        let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        let first = format!("{STATEFUL_SET}-0");
        let ip = poll_until("ordinal 0 has a Pod IP", STARTUP, || async {
            pods.get_opt(&first)
                .await
                .ok()
                .flatten()
                .and_then(|pod| pod.status?.pod_ip)
                .ok_or_else(|| "no podIP yet".to_string())
        })
        .await
        .expect("ordinal 0 scheduled");
        workload.locate(&ip);
        workload
            .initialize()
            .await
            .expect("the Pods form an OpenBao cluster");

        workload
            .call_as_root(
                Method::PUT,
                &format!("sys/policies/acl/{BACKUP_POLICY_NAME}"),
                Some(&json!({"policy": BACKUP_POLICY})),
            )
            .await
            .expect("backup policy");
        let token = workload
            .call_as_root(
                Method::POST,
                "auth/token/create",
                Some(&json!({"policies": [BACKUP_POLICY_NAME], "ttl": "4h"})),
            )
            .await
            .expect("backup token")["auth"]["client_token"]
            .as_str()
            .expect("a client token")
            .to_string();
        workload
            .call_as_root(
                Method::POST,
                "sys/mounts/secret",
                Some(&json!({"type": "kv", "options": {"version": "2"}})),
            )
            .await
            .expect("KV mounted");
        let world = Self {
            sim,
            store,
            client,
            kubeconfig,
            gate,
            workload,
            dir,
        };
        poll_until("a KV write", STARTUP, || async {
            world
                .workload
                .call_as_root(
                    Method::POST,
                    "secret/data/kept",
                    Some(&json!({"data": {"v": format!("written on {version}")}})),
                )
                .await
                .map(|_| ())
                .map_err(|error| error.to_string())
        })
        .await
        .expect("the secret is written");

        world
            .put_secret(TOKEN_SECRET, json!({"token": token}))
            .await;
        world.set_store_credentials(!wrong_store_secret).await;
        world
    }

    async fn put_secret(&self, name: &str, data: serde_json::Value) {
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "stringData": data,
        }))
        .expect("Secret");
        let api = Api::<Secret>::namespaced(self.client.clone(), NAMESPACE);
        api.patch(
            name,
            &PatchParams::apply("upgrade-test").force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("Secret applied");
    }

    /// The store credentials Secret, with the right secret key or a wrong one (the store refuses the signature).
    pub async fn set_store_credentials(&self, correct: bool) {
        let secret_key = if correct {
            self.store.secret_key().to_string()
        } else {
            "not-the-secret-key".to_string()
        };
        self.put_secret(
            CREDENTIALS_SECRET,
            json!({"AWS_ACCESS_KEY_ID": self.store.access_key(), "AWS_SECRET_ACCESS_KEY": secret_key}),
        )
        .await;
    }

    /// The cluster at `version`, backing up manually (suspended schedule `schedule`) with the scoped token.
    pub fn cluster_manifest(&self, version: &str, schedule: &str) -> OpenBaoCluster {
        serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": {"name": CLUSTER, "namespace": NAMESPACE},
            "spec": {
                "version": version,
                "replicas": REPLICAS,
                "workload": {"statefulSetName": STATEFUL_SET},
                "allowPlainHttp": true,
                "endpoint": self.workload.addr(0),
                "leaderHosts": [self.workload.pod_network()],
                "backup": {
                    "schedule": schedule,
                    "suspend": true,
                    "target": {
                        "provider": "s3",
                        "bucket": self.store.bucket(),
                        "s3": {"endpoint": self.store.endpoint(), "region": self.store.region(), "forcePathStyle": true},
                        "credentialsSecretRef": {"name": CREDENTIALS_SECRET},
                    },
                    "auth": {"tokenSecretRef": {"name": TOKEN_SECRET}},
                },
            },
        }))
        .expect("an OpenBaoCluster")
    }

    pub async fn create_cluster(&self, version: &str, schedule: &str) {
        self.clusters()
            .create(
                &PostParams::default(),
                &self.cluster_manifest(version, schedule),
            )
            .await
            .expect("cluster created");
    }

    /// Waits until `status.currentVersion` is `version`, as the upgrade guard observed it from the Pods.
    pub async fn wait_for_version(&self, operator: &super::Operator, version: &str) {
        super::eventually(
            &format!("status.currentVersion {version} observed from the Pods"),
            Duration::from_secs(90),
            operator.log_path(),
            || async {
                (self.status().await?.current_version.as_deref() == Some(version)).then_some(())
            },
        )
        .await;
    }

    pub fn clusters(&self) -> Api<OpenBaoCluster> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    pub async fn status(&self) -> Option<OpenBaoClusterStatus> {
        self.clusters().get(CLUSTER).await.ok()?.status
    }

    pub async fn merge_patch_cluster(&self, patch: serde_json::Value) {
        self.clusters()
            .patch(CLUSTER, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("cluster patched");
    }

    pub async fn stateful_set(&self) -> StatefulSet {
        Api::<StatefulSet>::namespaced(self.client.clone(), NAMESPACE)
            .get(STATEFUL_SET)
            .await
            .expect("the StatefulSet")
    }

    pub async fn events_with_reason(&self, reason: &str) -> Vec<Event> {
        Api::<Event>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await
            .map(|list| list.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|event| event.reason.as_deref() == Some(reason))
            .collect()
    }

    /// Ordinals whose Pod is missing or not Ready right now.
    pub async fn pods_not_ready(&self) -> Option<usize> {
        pods_not_ready(&self.client).await
    }
}

/// Ordinals of the StatefulSet whose Pod is missing or not Ready right now (`None`: the list failed).
pub async fn pods_not_ready(client: &kube::Client) -> Option<usize> {
    {
        let pods = Api::<Pod>::namespaced(client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await
            .ok()?;
        let ready = pods
            .items
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .filter(|pod| {
                pod.status
                    .as_ref()
                    .and_then(|status| status.conditions.as_ref())
                    .is_some_and(|conditions| {
                        conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                    })
            })
            .filter(|pod| {
                pod.metadata
                    .name
                    .as_deref()
                    .is_some_and(|name| name.starts_with(&format!("{STATEFUL_SET}-")))
            })
            .count();
        Some((REPLICAS as usize).saturating_sub(ready))
    }
}

impl UpgradeWorld {
    /// Accepted Pod creates per Pod name, from the simulator's request log: the StatefulSet controller creates a
    /// Pod once at the start and once per replacement.
    pub fn pod_creates(&self) -> BTreeMap<String, usize> {
        let mut creates = BTreeMap::new();
        for create in self
            .sim
            .requests_matching(kube_sim::Verb::Create, "pods")
            .iter()
            .filter(|create| create.status == 201)
        {
            if let Some(name) = &create.name
                && name.starts_with(&format!("{STATEFUL_SET}-"))
            {
                *creates.entry(name.clone()).or_default() += 1;
            }
        }
        creates
    }

    /// Writes to the StatefulSet the simulator accepted (spec changes; its status writes excluded).
    pub fn stateful_set_patches(&self) -> usize {
        self.sim
            .requests_matching(kube_sim::Verb::Patch, "statefulsets")
            .iter()
            .filter(|patch| patch.succeeded())
            .count()
    }

    pub async fn versions(&self) -> Vec<Option<String>> {
        let mut versions = Vec::new();
        for ordinal in 0..REPLICAS {
            versions.push(
                self.workload
                    .health(ordinal)
                    .await
                    .ok()
                    .and_then(|health| health.version),
            );
        }
        versions
    }

    pub async fn read_kept(&self) -> Option<String> {
        let answer = self
            .workload
            .call_as_root(Method::GET, "secret/data/kept", None)
            .await
            .ok()?;
        answer["data"]["data"]["v"].as_str().map(str::to_string)
    }
}

/// Samples how many of the StatefulSet's Pods are not Ready, every 100 ms, until [`NotReadySampler::stop`].
pub struct NotReadySampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<usize>,
}

impl NotReadySampler {
    pub fn start(client: kube::Client) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut most = 0;
                while !stop.load(Ordering::Acquire) {
                    if let Some(count) = pods_not_ready(&client).await {
                        most = most.max(count);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                most
            }
        });
        Self { stop, task }
    }

    /// The most Pods seen not Ready at one sample.
    pub async fn stop(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        self.task.await.expect("the sampler")
    }
}

//! Starting and stopping the sandbox's parts: S3 store, Kubernetes API simulator (with Job runner and a kubelet
//! that runs StatefulSet Pods as processes), OpenBao as a StatefulSet of real `bao` Pods, the sample objects and
//! the operator process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;
use openbao_test_harness::openbao::workload::OpenBaoWorkload;
use openbao_test_harness::operator::{OperatorLaunch, OperatorProcess};
use openbao_test_harness::wait::poll_until;
use openbao_test_harness::{JwtAuthSetup, S3Options, S3Server};
use serde::Deserialize;

use crate::instructions::SandboxInfo;
use crate::manifests::{
    self, CLUSTER_NAME, EXECUTOR_IMAGE, JWT_AUDIENCE, NAMESPACE, STATEFUL_SET, SampleCluster,
};
use crate::settings::Settings;

/// OpenBao's start-up and the operator's first leader election on a busy machine.
const OPERATOR_READY_DEADLINE: Duration = Duration::from_secs(90);
/// From creating the StatefulSet until its ordinal 0 Pod runs and has an IP.
const POD_IP_DEADLINE: Duration = Duration::from_secs(120);
/// SIGTERM lets the operator release its Lease; a wedged process is killed after this.
const OPERATOR_STOP_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(
        "operator binary {0} not found; build it with `cargo build -p openbao-operator` or pass --operator-bin"
    )]
    OperatorBinaryMissing(PathBuf),
    #[error("the S3 store did not start: {0}")]
    Store(#[from] openbao_test_harness::StoreError),
    #[error("the Kubernetes API simulator did not start: {0}")]
    Simulator(#[from] kube_sim::SimError),
    #[error("OpenBao: {0}")]
    OpenBao(#[from] openbao_test_harness::OpenBaoError),
    #[error("{what}: {source}")]
    Kubernetes { what: String, source: kube::Error },
    #[error("OpenBao's Pods: {0}; Pod logs in {1}")]
    Pods(openbao_test_harness::wait::Timeout, PathBuf),
    #[error("OpenBao: {0}; Pod logs in {1}")]
    OpenBaoPods(openbao_test_harness::OpenBaoError, PathBuf),
    #[error("the operator did not start: {0}")]
    OperatorSpawn(#[from] openbao_test_harness::process::ProcessError),
    #[error("{0}; operator log:\n{1}")]
    OperatorNotReady(openbao_test_harness::wait::Timeout, String),
}

impl SandboxError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    fn kubernetes(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let what = what.into();
        move |source| Self::Kubernetes { what, source }
    }
}

/// Everything the sandbox runs. Fields drop in declaration order: the operator first (so it stops writing), then
/// the simulator (its kubelet kills the processes of every Pod: OpenBao's and running Jobs'), then the store.
pub struct Sandbox {
    operator: OperatorProcess,
    sim: Sim,
    /// Launchers and the seal key; the `bao` processes belong to the simulator's kubelet.
    _openbao: OpenBaoWorkload,
    store: S3Server,
    info: SandboxInfo,
}

impl Sandbox {
    pub async fn start(settings: &Settings, dir: &Path) -> Result<Self, SandboxError> {
        let operator_bin = settings
            .operator_bin()
            .map_err(SandboxError::io("locating the operator binary"))?;
        if !operator_bin.is_file() {
            return Err(SandboxError::OperatorBinaryMissing(operator_bin));
        }
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(SandboxError::io("creating the log dir"))?;
        let replicas = u32::from(settings.openbao_nodes);
        // One launcher per release stands for the image `quay.io/openbao/openbao:<version>`.
        let mut openbao = OpenBaoWorkload::prepare(&dir.join("tmp"), STATEFUL_SET, replicas)?;

        println!("starting the S3 store ...");
        let store = S3Server::start(S3Options {
            bucket: "openbao-snapshots".into(),
            ..S3Options::default()
        })?;

        println!("starting the Kubernetes API simulator ...");
        let mut controllers = ControllersConfig::new(dir.join("sim/pods"), dir.join("sim/logs"))
            .image(EXECUTOR_IMAGE, &operator_bin)
            .run_statefulset_pods(true)
            .base_env("RUST_LOG", "info");
        for (image, launcher) in openbao.images() {
            controllers = controllers.image(image.clone(), launcher);
        }
        let sim = Sim::builder()
            .port(settings.api_port)
            .controllers(controllers)
            .start()
            .await?;
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig)
            .map_err(SandboxError::io("writing the kubeconfig"))?;
        let client = sim.client().await?;

        println!(
            "starting OpenBao {} (StatefulSet {STATEFUL_SET}, {replicas} {}, raft) ...",
            settings.openbao_version,
            if replicas == 1 { "Pod" } else { "Pods" }
        );
        let pod0_ip =
            create_stateful_set(&client, &openbao, &settings.openbao_version, sim.log_dir())
                .await?;
        openbao.locate(&pod0_ip);
        let root_token = openbao
            .initialize()
            .await
            .map_err(|error| SandboxError::OpenBaoPods(error, sim.log_dir().to_path_buf()))?;
        openbao
            .configure_jwt_auth(&JwtAuthSetup {
                mount: "jwt".into(),
                issuer: sim.issuer().to_string(),
                public_key_pem: sim.service_account_public_key_pem(),
                audience: JWT_AUDIENCE.into(),
                backup_subject: manifests::backup_subject(),
                restore_subject: format!(
                    "system:serviceaccount:{NAMESPACE}:{CLUSTER_NAME}-restore"
                ),
            })
            .await?;
        let root_token_file = dir.join("openbao-root-token");
        write_private(&root_token_file, &root_token)?;
        let leader = openbao.active_addr().await?;
        let nodes: Vec<String> = (0..replicas).map(|ordinal| openbao.addr(ordinal)).collect();

        println!("applying the CRDs and the sample cluster ...");
        apply_crds(&client).await?;
        create_sample(
            &client,
            &store,
            &SampleCluster {
                version: settings.openbao_version.clone(),
                replicas,
                openbao_endpoint: openbao.addr(0),
                pod_network: openbao.pod_network(),
                schedule: settings.schedule.clone(),
                s3_endpoint: store.endpoint(),
                bucket: store.bucket().to_string(),
                region: store.region().to_string(),
            },
        )
        .await?;

        println!("starting the operator ...");
        let operator_log = logs.join("operator.log");
        let operator = OperatorLaunch {
            namespace: NAMESPACE.into(),
            pod_name: "sandbox-operator".into(),
            executor_image: EXECUTOR_IMAGE.into(),
            // Finished Jobs (and their logs) stay an hour, for `kubectl logs job/...`.
            extra_args: vec!["--job-ttl-seconds".into(), "3600".into()],
            ..OperatorLaunch::new(&operator_bin, &kubeconfig, &operator_log)
        }
        .start()?;
        let metrics_url = operator.metrics_url();
        operator
            .wait_ready(OPERATOR_READY_DEADLINE)
            .await
            .map_err(|timeout| SandboxError::OperatorNotReady(timeout, operator.log_tail(30)))?;

        let info = SandboxInfo {
            sandbox_pid: std::process::id(),
            kubeconfig,
            api_url: sim.url(),
            openbao_version: settings.openbao_version.clone(),
            openbao_stateful_set: STATEFUL_SET.into(),
            openbao_nodes: nodes,
            openbao_leader: leader,
            openbao_root_token_file: root_token_file,
            s3_endpoint: store.endpoint(),
            bucket: store.bucket().to_string(),
            bucket_dir: store.bucket_dir(),
            operator_pid: operator.pid(),
            operator_metrics_url: metrics_url,
            operator_log,
            pod_log_dir: sim.log_dir().to_path_buf(),
            namespace: NAMESPACE.into(),
            cluster: CLUSTER_NAME.into(),
        };
        Ok(Self {
            operator,
            sim,
            _openbao: openbao,
            store,
            info,
        })
    }

    pub fn info(&self) -> &SandboxInfo {
        &self.info
    }

    /// `Some(exit status)` once the operator process has ended on its own.
    pub fn operator_exit(&self) -> Option<std::process::ExitStatus> {
        self.operator.exit_status()
    }

    pub fn operator_log_tail(&self) -> String {
        self.operator.log_tail(30)
    }

    /// Stops the operator gracefully (it releases its Lease), then everything else.
    pub fn stop(mut self) {
        self.operator.terminate(OPERATOR_STOP_GRACE);
        let Self {
            operator,
            sim,
            _openbao: openbao,
            store,
            info: _,
        } = self;
        drop(operator);
        // Kills every Pod's process group (the `bao` servers, any running Job) before it returns.
        drop(sim);
        drop(openbao);
        drop(store);
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), SandboxError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(SandboxError::io(format!("writing {}", path.display())))
}

/// Creates OpenBao's StatefulSet at `version` and returns ordinal 0's `status.podIP` once it has one.
async fn create_stateful_set(
    client: &kube::Client,
    openbao: &OpenBaoWorkload,
    version: &str,
    pod_log_dir: &Path,
) -> Result<String, SandboxError> {
    let set: StatefulSet =
        serde_json::from_value(openbao.manifest(NAMESPACE, version)).map_err(|error| {
            SandboxError::Io {
                what: "building OpenBao's StatefulSet".into(),
                source: std::io::Error::other(error),
            }
        })?;
    Api::<StatefulSet>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &set)
        .await
        .map_err(SandboxError::kubernetes("creating OpenBao's StatefulSet"))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let first = format!("{STATEFUL_SET}-0");
    poll_until(
        &format!("Pod {first} has a podIP"),
        POD_IP_DEADLINE,
        || async {
            let pod = pods.get_opt(&first).await.map_err(|e| e.to_string())?;
            pod.and_then(|pod| pod.status?.pod_ip)
                .ok_or_else(|| "no status.podIP yet".to_string())
        },
    )
    .await
    .map_err(|timeout| SandboxError::Pods(timeout, pod_log_dir.to_path_buf()))
}

async fn apply_crds(client: &kube::Client) -> Result<(), SandboxError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for document in serde_norway::Deserializer::from_str(manifests::CRDS_YAML) {
        let crd =
            CustomResourceDefinition::deserialize(document).map_err(|error| SandboxError::Io {
                what: "reading the embedded CRDs".into(),
                source: std::io::Error::other(error),
            })?;
        api.create(&PostParams::default(), &crd)
            .await
            .map_err(SandboxError::kubernetes("creating a CRD"))?;
    }
    Ok(())
}

async fn create_sample(
    client: &kube::Client,
    store: &S3Server,
    cluster: &SampleCluster,
) -> Result<(), SandboxError> {
    let secret: Secret = serde_json::from_value(manifests::credentials_secret(
        store.access_key(),
        store.secret_key(),
    ))
    .map_err(|error| SandboxError::Io {
        what: "building the credentials Secret".into(),
        source: std::io::Error::other(error),
    })?;
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
        .map_err(SandboxError::kubernetes(
            "creating the S3 credentials Secret",
        ))?;
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "openbao.org",
        "v1alpha1",
        "OpenBaoCluster",
    ));
    let object: DynamicObject =
        serde_json::from_value(cluster.to_json()).map_err(|error| SandboxError::Io {
            what: "building the sample OpenBaoCluster".into(),
            source: std::io::Error::other(error),
        })?;
    Api::<DynamicObject>::namespaced_with(client.clone(), NAMESPACE, &resource)
        .create(&PostParams::default(), &object)
        .await
        .map_err(SandboxError::kubernetes(
            "creating the sample OpenBaoCluster",
        ))?;
    Ok(())
}

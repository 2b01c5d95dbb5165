//! Shared set-up for the controller integration tests: a simulator with controllers whose image map points at
//! the `sim-test-program` binary, and waiting on API conditions through watches.

#![allow(dead_code)]

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::runtime::wait::{Condition, await_condition};
use kube::{Api, Client, Resource};
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;
use serde::de::DeserializeOwned;

/// Generous: the tests share a busy 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The image every test container uses; it maps to the `sim-test-program` binary.
pub const TEST_IMAGE: &str = "registry.example/sim-test:1";

pub struct TestCluster {
    pub sim: Sim,
    pub client: Client,
    pub log_dir: PathBuf,
    pub dir: tempfile::TempDir,
}

pub fn test_program() -> &'static str {
    env!("CARGO_BIN_EXE_sim-test-program")
}

pub async fn start() -> TestCluster {
    start_with(|config| config).await
}

pub async fn start_with(
    customize: impl FnOnce(ControllersConfig) -> ControllersConfig,
) -> TestCluster {
    let dir = tempfile::Builder::new()
        .prefix("kube-sim-controllers")
        .tempdir()
        .expect("a temp dir");
    let log_dir = dir.path().join("logs");
    let config = ControllersConfig::new(dir.path().join("pods"), &log_dir)
        .image("registry.example/sim-test", test_program());
    let sim = Sim::builder()
        .controllers(customize(config))
        .start()
        .await
        .expect("the simulator starts");
    let client = sim.client().await.expect("a client for the simulator");
    TestCluster {
        sim,
        client,
        log_dir,
        dir,
    }
}

impl TestCluster {
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        let path = self.dir.path().join("kubeconfig");
        self.sim
            .write_kubeconfig(&path)
            .expect("the kubeconfig is writable");
        path
    }

    /// Runs the real `kubectl` against the simulator; fails with install advice when it is missing.
    pub async fn kubectl(&self, args: &[&str]) -> std::process::Output {
        let kubeconfig = self.kubeconfig();
        // Async, so the simulator keeps serving on this test's runtime while kubectl talks to it.
        tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .expect(
                "kubectl must be on PATH: run scripts/install-test-tools.sh and source .tools/env",
            )
    }

    pub fn log_file(&self, namespace: &str, pod: &str, container: &str) -> PathBuf {
        self.log_dir
            .join(namespace)
            .join(pod)
            .join(format!("{container}.log"))
    }
}

/// Waits (through a watch) until `condition` holds for the named object, failing the test after [`DEADLINE`].
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    condition: impl Condition<K>,
) -> Option<K>
where
    K: Clone + Debug + DeserializeOwned + Resource + Send + 'static,
{
    match tokio::time::timeout(DEADLINE, await_condition(api.clone(), name, condition)).await {
        Ok(Ok(object)) => object,
        Ok(Err(error)) => panic!("watching {name} for {what} failed: {error}"),
        Err(_) => {
            let current = api.get_opt(name).await.ok().flatten();
            panic!("{name} did not reach {what} within {DEADLINE:?}; last seen: {current:#?}")
        }
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

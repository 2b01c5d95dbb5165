//! The operator binary as its own process, killed (SIGKILL) when its guard drops, also when a test fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{EXECUTOR_IMAGE, NAMESPACE};

pub struct Operator {
    child: Child,
    metrics_port: u16,
    log: PathBuf,
}

impl Operator {
    /// Starts `openbao-operator run` with its own metrics port; the pod name is unique per process.
    pub fn start(kubeconfig: &Path, log: &Path) -> Self {
        let pod_name = format!("operator-{}", free_port());
        Self::start_as(kubeconfig, log, &pod_name)
    }

    /// Starts with a chosen leader-election identity: a container restarted in the same Pod keeps its name.
    pub fn start_as(kubeconfig: &Path, log: &Path, pod_name: &str) -> Self {
        let metrics_port = free_port();
        let log_file = std::fs::File::create(log).expect("operator log file");
        let child = Command::new(env!("CARGO_BIN_EXE_openbao-operator"))
            .args([
                "run",
                "--metrics-addr",
                &format!("127.0.0.1:{metrics_port}"),
                "--log-format",
                "text",
                "--executor-image",
                EXECUTOR_IMAGE,
                "--lease-duration-seconds",
                "4",
            ])
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAMESPACE", NAMESPACE)
            .env("POD_NAME", pod_name)
            .env(
                "RUST_LOG",
                "info,openbao_operator=debug,openbao_actors=debug",
            )
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("the operator binary starts");
        Self {
            child,
            metrics_port,
            log: log.to_path_buf(),
        }
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET on the metrics/health server; `None` while it does not answer.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.metrics_port);
        let response = reqwest::get(&url).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// SIGKILL: no shutdown hook runs, the Lease is not released, in-flight API calls are cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

//! The operator binary (`openbao-operator run`) as a guarded process: its own metrics port, its log in a file,
//! killed with its process group when the guard drops (also when a test panics). Tests, the sandbox and the
//! scale bench start it here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::ports::free_port;
use crate::process::{ProcessError, ServerProcess};
use crate::wait::{Timeout, poll_until};

/// How to start one operator process.
#[derive(Debug, Clone)]
pub struct OperatorLaunch {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    pub log: PathBuf,
    /// The namespace of the leader-election Lease (`POD_NAMESPACE`).
    pub namespace: String,
    /// The leader-election identity (`POD_NAME`): a container restarted in the same Pod keeps its name.
    pub pod_name: String,
    pub executor_image: String,
    /// `RUST_LOG`.
    pub log_filter: String,
    /// Further `run` flags, e.g. `--lease-duration-seconds 4`.
    pub extra_args: Vec<String>,
}

impl OperatorLaunch {
    pub fn new(binary: &Path, kubeconfig: &Path, log: &Path) -> Self {
        Self {
            binary: binary.to_path_buf(),
            kubeconfig: kubeconfig.to_path_buf(),
            log: log.to_path_buf(),
            namespace: "default".into(),
            pod_name: "openbao-operator".into(),
            executor_image: "openbao-operator:test".into(),
            log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            extra_args: Vec::new(),
        }
    }

    pub fn start(self) -> Result<OperatorProcess, ProcessError> {
        let metrics_port = free_port().map_err(|source| ProcessError::Spawn {
            name: "operator".into(),
            program: self.binary.display().to_string(),
            source,
        })?;
        let mut command = Command::new(&self.binary);
        command
            .args([
                "run",
                "--metrics-addr",
                &format!("127.0.0.1:{metrics_port}"),
                "--log-format",
                "text",
                "--executor-image",
                &self.executor_image,
            ])
            .args(&self.extra_args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("POD_NAMESPACE", &self.namespace)
            .env("POD_NAME", &self.pod_name)
            .env("RUST_LOG", &self.log_filter);
        let process = ServerProcess::spawn("operator", command, &self.log)?;
        Ok(OperatorProcess {
            process,
            metrics_port,
        })
    }
}

pub struct OperatorProcess {
    process: ServerProcess,
    metrics_port: u16,
}

impl OperatorProcess {
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// GET on the metrics/health server; `None` while it does not answer.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("{}{path}", self.metrics_url());
        let response = reqwest::get(&url).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Waits until `/readyz` answers 200 (caches synced, leadership known); fails early when the process exits.
    pub async fn wait_ready(&self, deadline: Duration) -> Result<(), Timeout> {
        poll_until("the operator's /readyz to answer 200", deadline, || async {
            if let Some(status) = self.process.exit_status() {
                return Err(format!("the operator exited ({status})"));
            }
            match self.get("/readyz").await {
                Some((200, _)) => Ok(()),
                Some((status, body)) => Err(format!("/readyz answered {status}: {body}")),
                None => Err("/readyz does not answer yet".into()),
            }
        })
        .await
    }

    /// SIGKILL: no shutdown hook runs, the Lease is not released, in-flight API calls are cut.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        self.process.terminate(grace);
    }

    pub fn exit_status(&self) -> Option<std::process::ExitStatus> {
        self.process.exit_status()
    }
}

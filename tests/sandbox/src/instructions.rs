//! What the sandbox tells its user once everything runs, and the same facts as `sandbox.json` for scripts and tests.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Addresses and paths of a running sandbox. Holds no secret: the root token is only in its own file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    pub sandbox_pid: u32,
    pub kubeconfig: PathBuf,
    pub api_url: String,
    pub openbao_nodes: Vec<String>,
    pub openbao_leader: String,
    pub openbao_root_token_file: PathBuf,
    pub s3_endpoint: String,
    pub bucket: String,
    pub bucket_dir: PathBuf,
    pub operator_pid: u32,
    pub operator_metrics_url: String,
    pub operator_log: PathBuf,
    pub pod_log_dir: PathBuf,
    pub namespace: String,
    pub cluster: String,
}

impl SandboxInfo {
    /// Every `host:port` the sandbox listens on (the API, OpenBao nodes, S3, operator metrics).
    pub fn listen_addresses(&self) -> Vec<String> {
        std::iter::once(self.api_url.as_str())
            .chain(self.openbao_nodes.iter().map(String::as_str))
            .chain([
                self.s3_endpoint.as_str(),
                self.operator_metrics_url.as_str(),
            ])
            .filter_map(host_port)
            .collect()
    }

    /// The text printed once the sandbox runs: how to watch and poke it with kubectl.
    pub fn render(&self) -> String {
        let kubeconfig = self.kubeconfig.display();
        let cluster = &self.cluster;
        let token_file = self.openbao_root_token_file.display();
        let mut text = String::new();
        let _ = writeln!(text, "Sandbox running. In another terminal:");
        let _ = writeln!(text);
        let _ = writeln!(text, "  export KUBECONFIG={kubeconfig}");
        let _ = writeln!(
            text,
            "  kubectl get obc -w                 # Last Backup fills in within about a minute"
        );
        let _ = writeln!(
            text,
            "  kubectl get jobs                   # one backup Job per window"
        );
        let _ = writeln!(
            text,
            "  kubectl describe obc {cluster}       # status.backup, lock, conditions, events"
        );
        let _ = writeln!(text, "  kubectl get events");
        let _ = writeln!(
            text,
            "  kubectl logs job/<job name>        # the executor's log"
        );
        let _ = writeln!(text);
        let _ = writeln!(text, "Manual backup (any new token queues one backup):");
        let _ = writeln!(
            text,
            "  kubectl annotate obc {cluster} openbao.org/trigger-backup=\"$(date +%s)\" --overwrite"
        );
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "Restore the newest backup (JWT role `restore` is bound to ServiceAccount {cluster}-restore):"
        );
        let _ = writeln!(text, "  kubectl apply -f - <<EOF");
        let _ = writeln!(text, "  apiVersion: openbao.org/v1alpha1");
        let _ = writeln!(text, "  kind: OpenBaoRestore");
        let _ = writeln!(
            text,
            "  metadata: {{name: bring-back, namespace: {}}}",
            self.namespace
        );
        let _ = writeln!(
            text,
            "  spec: {{cluster: {cluster}, source: {{latest: true}}, auth: {{jwt: {{role: restore}}}}}}"
        );
        let _ = writeln!(text, "  EOF");
        let _ = writeln!(
            text,
            "  kubectl get obrestore -w           # Pending → Validating → Running → Completed"
        );
        let _ = writeln!(
            text,
            "  kubectl describe obrestore bring-back   # pinned snapshot, conditions, events"
        );
        let _ = writeln!(text, "  Runbook: docs/runbooks/restore.md");
        let _ = writeln!(text);
        let _ = writeln!(text, "Bucket files:   {}", self.bucket_dir.display());
        let _ = writeln!(
            text,
            "S3 endpoint:    {} (bucket {})",
            self.s3_endpoint, self.bucket
        );
        let _ = writeln!(
            text,
            "OpenBao:        {} (leader); nodes {}",
            self.openbao_leader,
            self.openbao_nodes.join(", ")
        );
        let _ = writeln!(
            text,
            "  export BAO_ADDR={} BAO_TOKEN=\"$(cat {token_file})\"",
            self.openbao_leader
        );
        let _ = writeln!(text, "Kubernetes API: {}", self.api_url);
        let _ = writeln!(
            text,
            "Operator:       {}/metrics, log {}",
            self.operator_metrics_url,
            self.operator_log.display()
        );
        let _ = writeln!(text, "Pod logs:       {}", self.pod_log_dir.display());
        let _ = writeln!(text);
        let _ = writeln!(text, "Ctrl-C stops everything.");
        text
    }
}

fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    authority.contains(':').then(|| authority.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> SandboxInfo {
        SandboxInfo {
            sandbox_pid: 10,
            kubeconfig: "/repo/.sandbox/kubeconfig".into(),
            api_url: "https://127.0.0.1:6443".into(),
            openbao_nodes: vec![
                "http://127.0.0.1:8200".into(),
                "http://127.0.0.1:8210".into(),
            ],
            openbao_leader: "http://127.0.0.1:8200".into(),
            openbao_root_token_file: "/repo/.sandbox/openbao-root-token".into(),
            s3_endpoint: "http://127.0.0.1:9000".into(),
            bucket: "snapshots".into(),
            bucket_dir: "/repo/.sandbox/tmp/s3/data/snapshots".into(),
            operator_pid: 11,
            operator_metrics_url: "http://127.0.0.1:8080".into(),
            operator_log: "/repo/.sandbox/logs/operator.log".into(),
            pod_log_dir: "/repo/.sandbox/sim/logs".into(),
            namespace: "default".into(),
            cluster: "sandbox".into(),
        }
    }

    #[test]
    fn instructions_name_the_kubeconfig_watch_and_manual_trigger() {
        let text = info().render();
        for expected in [
            "export KUBECONFIG=/repo/.sandbox/kubeconfig",
            "kubectl get obc -w",
            "kubectl get jobs",
            "kubectl describe obc sandbox",
            "kubectl annotate obc sandbox openbao.org/trigger-backup=",
            "kind: OpenBaoRestore",
            "spec: {cluster: sandbox, source: {latest: true}, auth: {jwt: {role: restore}}}",
            "kubectl get obrestore -w",
            "/repo/.sandbox/tmp/s3/data/snapshots",
            "http://127.0.0.1:8200 (leader)",
            "Ctrl-C stops everything.",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn listen_addresses_cover_every_server() {
        assert_eq!(
            info().listen_addresses(),
            [
                "127.0.0.1:6443",
                "127.0.0.1:8200",
                "127.0.0.1:8210",
                "127.0.0.1:9000",
                "127.0.0.1:8080"
            ]
        );
    }

    #[test]
    fn info_round_trips_through_json() {
        let json = serde_json::to_string(&info()).unwrap();
        assert!(json.contains("\"operatorMetricsUrl\""), "{json}");
        let back: SandboxInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(back, info());
    }
}

//! What the sandbox tells its user once everything runs, and the same facts as `sandbox.json` for scripts and tests.

use std::fmt::Write as _;
use std::path::PathBuf;

use openbao_test_harness::openbao::workload::RELEASES;
use serde::{Deserialize, Serialize};

/// Addresses and paths of a running sandbox. Holds no secret: the root token is only in its own file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInfo {
    pub sandbox_pid: u32,
    pub kubeconfig: PathBuf,
    pub api_url: String,
    /// The release the Pods started on (`--openbao-version`).
    pub openbao_version: String,
    /// OpenBao's StatefulSet; Pod `<name>-<i>` serves `openbao_nodes[i]`.
    pub openbao_stateful_set: String,
    pub openbao_nodes: Vec<String>,
    /// The active node when the sandbox started (an upgrade moves it).
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
            "  kubectl get pods                   # {}: OpenBao, and backup Pods",
            self.openbao_pods()
        );
        let _ = writeln!(
            text,
            "  {:<35}# a bao server's log",
            format!("kubectl logs {}-0", self.openbao_stateful_set)
        );
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
        self.render_upgrade(&mut text);
        let _ = writeln!(text);
        let _ = writeln!(text, "Bucket files:   {}", self.bucket_dir.display());
        let _ = writeln!(
            text,
            "S3 endpoint:    {} (bucket {})",
            self.s3_endpoint, self.bucket
        );
        let _ = writeln!(
            text,
            "OpenBao:        StatefulSet {} ({} {}, {}); {} (leader at start); nodes {}",
            self.openbao_stateful_set,
            self.openbao_nodes.len(),
            if self.openbao_nodes.len() == 1 {
                "Pod"
            } else {
                "Pods"
            },
            self.openbao_version,
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

    /// The names of OpenBao's Pods: `openbao-0` or `openbao-0 .. openbao-<last>`.
    fn openbao_pods(&self) -> String {
        let set = &self.openbao_stateful_set;
        match self.openbao_nodes.len() {
            0 | 1 => format!("{set}-0"),
            pods => format!("{set}-0 .. {set}-{}", pods - 1),
        }
    }

    /// How to upgrade OpenBao: the patch that starts it and how to watch it, or (already on the newest release the
    /// sandbox has) how to start below it.
    fn render_upgrade(&self, text: &mut String) {
        let cluster = &self.cluster;
        let newest = RELEASES[RELEASES.len() - 1];
        let target = match newer_release(&self.openbao_version) {
            Some(target) => {
                let _ = writeln!(
                    text,
                    "Upgrade OpenBao {} → {target} (pre-upgrade snapshot, then one Pod at a time, active last):",
                    self.openbao_version
                );
                target
            }
            None => {
                let _ = writeln!(
                    text,
                    "Upgrade OpenBao: this sandbox already runs {newest}; restart it with --openbao-version {} to try:",
                    RELEASES[0]
                );
                newest
            }
        };
        let _ = writeln!(
            text,
            "  kubectl patch obc {cluster} --type=merge -p '{{\"spec\":{{\"version\":\"{target}\"}}}}'"
        );
        let _ = writeln!(
            text,
            "  {:<35}# Lock column: Upgrade while it runs",
            format!("kubectl get obc {cluster} -w")
        );
        let _ = writeln!(
            text,
            "  kubectl get obc {cluster} -o jsonpath='{{.status.upgrade}}'   # Pending → PreUpgradeSnapshot → RollingOut → Completed"
        );
        let _ = writeln!(text, "  Runbook: docs/runbooks/upgrade.md");
    }
}

/// The newest release the sandbox can run when it is newer than `version`.
fn newer_release(version: &str) -> Option<&'static str> {
    let parse = |version: &str| -> Option<Vec<u64>> {
        version.split('.').map(|part| part.parse().ok()).collect()
    };
    let current = parse(version)?;
    RELEASES
        .iter()
        .copied()
        .filter(|release| parse(release).is_some_and(|release| release > current))
        .max_by_key(|release| parse(release))
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
            openbao_version: "2.6.2".into(),
            openbao_stateful_set: "openbao".into(),
            openbao_nodes: vec![
                "http://127.12.34.1:8200".into(),
                "http://127.12.34.2:8200".into(),
            ],
            openbao_leader: "http://127.12.34.1:8200".into(),
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
            "StatefulSet openbao (2 Pods, 2.6.2)",
            "http://127.12.34.1:8200 (leader at start)",
            "nodes http://127.12.34.1:8200, http://127.12.34.2:8200",
            "kubectl get pods",
            "kubectl logs openbao-0",
            "Ctrl-C stops everything.",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn a_single_pod_is_named_once() {
        let text = SandboxInfo {
            openbao_nodes: vec!["http://127.12.34.1:8200".into()],
            ..info()
        }
        .render();
        assert!(
            text.contains("# openbao-0: OpenBao, and backup Pods"),
            "{text}"
        );
        assert!(
            text.contains("StatefulSet openbao (1 Pod, 2.6.2)"),
            "{text}"
        );
        assert!(
            info()
                .render()
                .contains("# openbao-0 .. openbao-1: OpenBao"),
            "{}",
            info().render()
        );
    }

    #[test]
    fn below_the_newest_release_the_instructions_show_the_upgrade_patch() {
        let text = info().render();
        for expected in [
            "Upgrade OpenBao 2.6.2 → 2.7.2",
            r#"kubectl patch obc sandbox --type=merge -p '{"spec":{"version":"2.7.2"}}'"#,
            "kubectl get obc sandbox -w",
            "kubectl get obc sandbox -o jsonpath='{.status.upgrade}'",
            "docs/runbooks/upgrade.md",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn on_the_newest_release_the_instructions_say_how_to_start_below_it() {
        let text = SandboxInfo {
            openbao_version: "2.7.2".into(),
            ..info()
        }
        .render();
        assert!(
            text.contains("already runs 2.7.2; restart it with --openbao-version 2.6.2"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"kubectl patch obc sandbox --type=merge -p '{"spec":{"version":"2.7.2"}}'"#
            ),
            "{text}"
        );
        assert!(text.contains("docs/runbooks/upgrade.md"), "{text}");
    }

    #[test]
    fn the_newer_release_compares_versions_numerically() {
        assert_eq!(newer_release("2.6.2"), Some("2.7.2"));
        assert_eq!(newer_release("2.7.2"), None);
        assert_eq!(newer_release("2.10.0"), None);
        assert_eq!(newer_release("not a version"), None);
    }

    #[test]
    fn listen_addresses_cover_every_server() {
        assert_eq!(
            info().listen_addresses(),
            [
                "127.0.0.1:6443",
                "127.12.34.1:8200",
                "127.12.34.2:8200",
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

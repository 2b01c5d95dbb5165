//! `sandbox` flags.

use std::path::PathBuf;

use clap::Parser;
use clap::builder::PossibleValuesParser;
use openbao_test_harness::openbao::workload::RELEASES;

/// The release the sandbox's OpenBao runs unless `--openbao-version` says otherwise (the newest it has).
pub const DEFAULT_OPENBAO_VERSION: &str = RELEASES[RELEASES.len() - 1];

#[derive(Debug, Clone, Parser)]
#[command(
    name = "sandbox",
    about = "Runs the operator against the Kubernetes API simulator, OpenBao as a StatefulSet of real `bao` \
             processes (3 Pods by default) and an S3 store on 127.0.0.1, with a sample OpenBaoCluster backed up \
             every minute. Ctrl-C stops everything."
)]
pub struct Settings {
    /// Directory for the kubeconfig, logs, Pod directories, server data and `sandbox.json`.
    #[arg(long, default_value = ".sandbox")]
    pub dir: PathBuf,
    /// The `openbao-operator` binary: runs as the operator and, through the image mapping, inside backup Jobs.
    /// Default: `openbao-operator` next to this program.
    #[arg(long)]
    pub operator_bin: Option<PathBuf>,
    /// Port of the Kubernetes API on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub api_port: u16,
    /// Backup schedule of the sample cluster (5-field cron).
    #[arg(long, default_value = "* * * * *")]
    pub schedule: String,
    /// Number of OpenBao Pods, the StatefulSet's replicas (1 starts faster; 3 is a real raft cluster with a leader
    /// and two standbys).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub openbao_nodes: u8,
    /// The OpenBao release the Pods start on (the sample cluster's `spec.version`). Start below the newest to try
    /// an upgrade: patch `spec.version` and the operator replaces the Pods one at a time.
    #[arg(long, default_value = DEFAULT_OPENBAO_VERSION, value_parser = PossibleValuesParser::new(RELEASES))]
    pub openbao_version: String,
}

impl Settings {
    pub fn operator_bin(&self) -> std::io::Result<PathBuf> {
        match &self.operator_bin {
            Some(path) => std::path::absolute(path),
            None => {
                let me = std::env::current_exe()?;
                Ok(me.with_file_name("openbao-operator"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Settings::try_parse_from(std::iter::once("sandbox").chain(args.iter().copied()))
    }

    #[test]
    fn openbao_version_defaults_to_2_7_2_and_accepts_2_6_2() {
        assert_eq!(parse(&[]).unwrap().openbao_version, "2.7.2");
        assert_eq!(
            parse(&["--openbao-version", "2.6.2"])
                .unwrap()
                .openbao_version,
            "2.6.2"
        );
    }

    #[test]
    fn an_openbao_version_without_a_launcher_is_refused_naming_the_choices() {
        let error = parse(&["--openbao-version", "2.5.0"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("2.5.0"), "{error}");
        assert!(
            error.contains("2.6.2") && error.contains("2.7.2"),
            "{error}"
        );
    }

    #[test]
    fn openbao_nodes_stay_between_1_and_5() {
        assert_eq!(parse(&[]).unwrap().openbao_nodes, 3);
        assert!(parse(&["--openbao-nodes", "0"]).is_err());
        assert!(parse(&["--openbao-nodes", "6"]).is_err());
        assert_eq!(parse(&["--openbao-nodes", "5"]).unwrap().openbao_nodes, 5);
    }
}

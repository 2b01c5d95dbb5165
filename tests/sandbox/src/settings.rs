//! `sandbox` flags.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "sandbox",
    about = "Runs the operator against the Kubernetes API simulator, a real 3-node OpenBao and an S3 store on \
             127.0.0.1, with a sample OpenBaoCluster backed up every minute. Ctrl-C stops everything."
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
    /// Number of OpenBao nodes (1 starts faster; 3 is a real raft cluster with a leader and two standbys).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub openbao_nodes: u8,
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

//! Command-line surface: one binary, one subcommand per role.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "openbao-operator",
    version,
    about = "Backups, restores and a shared operation lock for OpenBao clusters on Kubernetes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the OpenBaoCluster and OpenBaoRestore CustomResourceDefinitions as YAML.
    Crds,
    /// Run a snapshot backup or restore (the program inside backup and restore Jobs).
    #[command(subcommand)]
    Executor(crate::executor::ExecutorCommand),
    /// Run the operator: watch OpenBaoClusters, take part in leader election, schedule backup Jobs.
    Run(crate::operator::RunArgs),
}

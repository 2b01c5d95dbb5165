//! The plugin's command line. kubectl hands every word after `kubectl openbao` to the plugin unchanged, so the
//! connection flags kubectl users know (`--kubeconfig`, `--context`, `-n`, `-A`) are the plugin's own.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use openbao_crds::duration::HumanDuration;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-openbao",
    bin_name = "kubectl openbao",
    version,
    about = "Status, backups, recovery points, restores and the operation lock of OpenBao clusters"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where to connect, as kubectl reads it.
#[derive(Debug, Args, Default, Clone)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace of the cluster (default: the context's namespace, then `default`).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Every namespace (`status` without a cluster name).
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One line per cluster, or a detailed view of one: version, last backup, next window, failures, lock,
    /// restores in flight.
    Status(StatusArgs),
    /// Queue a manual backup (annotation `openbao.org/trigger-backup`) and, with --wait, follow it to its end.
    Backup(BackupArgs),
    /// The cluster's verified recovery points, newest first.
    Points(PointsArgs),
    /// Create an OpenBaoRestore for the cluster and, with --wait, follow it to its end.
    Restore(RestoreArgs),
    /// Who holds the cluster's operation lock, since when, and what waits for it.
    Lock(ClusterArg),
    /// The executor log of the last backup Job or of a restore's Job.
    Logs(LogsArgs),
    /// Print a shell completion script.
    Completion(CompletionArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Show one cluster in detail.
    pub cluster: Option<String>,
    /// Print machine-readable output instead of text.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ClusterArg {
    /// Name of the OpenBaoCluster.
    pub cluster: String,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Name of the OpenBaoCluster.
    pub cluster: String,
    /// Follow the backup until it succeeded or failed; exit 0 only on success.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait follows before giving up, e.g. `90s`, `10m`, `1h`.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: HumanDuration,
}

#[derive(Debug, Args)]
pub struct PointsArgs {
    /// Name of the OpenBaoCluster.
    pub cluster: String,
    /// Print machine-readable output instead of a table.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["latest", "key"]))]
pub struct RestoreArgs {
    /// Name of the OpenBaoCluster to restore into.
    pub cluster: String,
    /// Restore the newest verified recovery point.
    #[arg(long)]
    pub latest: bool,
    /// Restore this object key (see `kubectl openbao points`).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Resolve, download and verify the snapshot and log in; change nothing, take no lock.
    #[arg(long)]
    pub dry_run: bool,
    /// Use snapshot-force: needed for another cluster's snapshot (the cluster is sealed afterwards).
    #[arg(long)]
    pub force: bool,
    /// Take the operation lock from its holder (stops a running backup). Needs --force.
    #[arg(long, requires = "force")]
    pub override_lock: bool,
    /// OpenBao JWT role the restore Job logs in with.
    #[arg(long, default_value = "restore", value_name = "ROLE")]
    pub role: String,
    /// Follow the request through its phases; exit 0 only when it completed.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait follows before giving up.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: HumanDuration,
    /// Do not ask for confirmation (required when stdin is not a terminal, unless --dry-run).
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").args(["last_backup", "restore"]))]
pub struct LogsArgs {
    /// Name of the OpenBaoCluster.
    pub cluster: String,
    /// The newest backup Job (the default).
    #[arg(long)]
    pub last_backup: bool,
    /// The Job of this OpenBaoRestore.
    #[arg(long, value_name = "NAME")]
    pub restore: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

fn parse_duration(input: &str) -> Result<HumanDuration, String> {
    input
        .parse::<HumanDuration>()
        .map_err(|error| format!("{error} (e.g. 90s, 10m, 1h)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn connection_flags_go_after_the_command_like_kubectl_passes_them() {
        let cli = Cli::try_parse_from([
            "kubectl-openbao",
            "backup",
            "prod",
            "-n",
            "security",
            "--context",
            "eu",
            "--wait",
            "--timeout",
            "1s",
        ])
        .expect("parses");
        assert_eq!(cli.global.namespace.as_deref(), Some("security"));
        assert_eq!(cli.global.context.as_deref(), Some("eu"));
        let Command::Backup(args) = cli.command else {
            panic!("a backup command");
        };
        assert!(args.wait);
        assert_eq!(args.timeout.as_seconds(), 1);
    }

    #[test]
    fn a_restore_names_exactly_one_source_and_override_needs_force() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["kubectl-openbao", "restore", "prod"].iter().chain(args))
        };
        assert!(parse(&[]).is_err());
        assert!(parse(&["--latest", "--key", "a.snap"]).is_err());
        assert!(parse(&["--latest", "--override-lock"]).is_err());
        assert!(parse(&["--latest", "--force", "--override-lock"]).is_ok());
        assert!(parse(&["--key", "a/b.snap", "--dry-run"]).is_ok());
    }
}

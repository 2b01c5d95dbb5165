//! The snapshot executor: the program inside every backup and restore Job (`openbao-operator executor
//! backup|restore`). Configuration comes from `EXECUTOR_*` variables (see `docs/executor.md`); the outcome goes
//! to a JSON report at the termination-message path and to the exit code, which names the failing stage.

pub mod archive;
mod backup;
mod batch_queue;
pub mod catalog;
pub mod config;
mod download;
pub mod key;
mod leader;
mod leader_scope;
pub mod manifest;
#[cfg(test)]
mod properties;
mod prune;
pub mod report;
mod restore;
mod restore_checks;
pub mod retention;
mod scratch_io;
pub mod stage;
pub mod upload;
pub mod verifier;

use std::process::ExitCode;
use std::time::Instant;

use clap::Subcommand;

use config::Env;
use report::{Operation, Report, ReportWriter};
use stage::{AtStage, Failure, Stage};

/// `openbao-operator executor <action>`.
#[derive(Debug, Clone, Subcommand)]
pub enum ExecutorCommand {
    /// Take a raft snapshot from the leader, verify it while uploading it, write its manifest, apply retention.
    Backup,
    /// Download and verify a snapshot, then restore it into the cluster and wait for the cluster to come back.
    Restore {
        /// Use `sys/storage/raft/snapshot-force` (a snapshot from another cluster or with other keys).
        #[arg(long)]
        force: bool,
        /// Resolve, download and verify, find the leader and log in, but do not restore.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs one executor command to completion and returns the process exit code.
pub fn main(command: ExecutorCommand) -> ExitCode {
    init_logging();
    let env = Env::from_process();
    // One async thread: the executor's async side only moves bytes between sockets (the hashing and inflating run
    // on a blocking thread), and a multi-thread scheduler's cross-thread wake-ups cost more CPU than they give.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(command, &env));
    ExitCode::from(code)
}

async fn run(command: ExecutorCommand, env: &Env) -> u8 {
    let started = Instant::now();
    let report_path = config::report_path(env);
    let (mut report, result) = match command {
        ExecutorCommand::Backup => {
            let mut report = Report::new(Operation::Backup);
            let result = match config::backup(env) {
                Ok(config) => backup::run(&config, &mut report).await,
                Err(err) => Err(err.at(Stage::Config)),
            };
            (report, result)
        }
        ExecutorCommand::Restore { force, dry_run } => {
            let mut report = Report::new(Operation::Restore);
            let result = match config::restore(env, force, dry_run) {
                Ok(config) => restore::run(&config, &mut report).await,
                Err(err) => Err(err.at(Stage::Config)),
            };
            (report, result)
        }
    };
    report.duration_seconds = Some((started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
    let code = finish(&mut report, result);
    report.write(&report_path);
    code
}

fn finish(report: &mut Report, result: Result<(), Failure>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(failure) => {
            tracing::error!(stage = %failure.stage, reason = failure.reason, message = %failure.message, "executor failed");
            report.fail(&failure);
            failure.stage.exit_code()
        }
    }
}

/// Logs go to stderr (stdout carries the report). `RUST_LOG` overrides the default `info`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

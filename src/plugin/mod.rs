//! `kubectl-openbao`, the kubectl plugin: status, manual backups, recovery points, restores, the operation lock
//! and executor logs of one OpenBao cluster, read and written through the API like kubectl does (never by running
//! kubectl). Each command is a module; `cli` holds the flags, `connect` the kubeconfig handling, `error` the
//! one-line failures.

pub mod backup;
pub mod cli;
pub mod completion;
pub mod connect;
pub mod display;
pub mod error;
pub mod follow;
pub mod lock;
pub mod logs;
pub mod lookup;
pub mod output;
pub mod points;
pub mod restore;
pub mod status;
pub mod summary;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use connect::Context;
use error::PluginError;

/// Parses the command line, runs the command on a small runtime and turns any failure into one line on stderr.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        eprintln!("error: internal error: {}", message.replace('\n', " "));
    }));
    let cli = Cli::parse();
    if let Command::Completion(args) = &cli.command {
        completion::print(args.shell, &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), PluginError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let context = Context::connect(&cli.global).await?;
    match cli.command {
        Command::Status(args) => status::run(&context, args).await,
        Command::Backup(args) => backup::run(&context, args).await,
        Command::Points(args) => points::run(&context, args).await,
        Command::Restore(args) => restore::run(&context, args).await,
        Command::Lock(args) => lock::run(&context, args).await,
        Command::Logs(args) => logs::run(&context, args).await,
        Command::Completion(_) => Ok(()),
    }
}

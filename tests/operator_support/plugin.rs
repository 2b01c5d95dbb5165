//! `kubectl openbao ...` run the way a person runs it: the real kubectl (the tools' 1.37 or the machine's) finds
//! the built `kubectl-openbao` on PATH and hands it the words after `openbao`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use openbao_test_harness::kubectl::{Kubectl, KubectlOutput};

/// The directory of the plugin binary cargo built for this test.
pub fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kubectl-openbao"))
        .parent()
        .expect("the plugin's directory")
        .to_path_buf()
}

/// `PATH` with the plugin's directory first and, if given, one directory left out.
pub fn path_with_plugin(without: Option<&Path>) -> OsString {
    let current = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(plugin_dir())
        .chain(std::env::split_paths(&current).filter(|dir| Some(dir.as_path()) != without));
    std::env::join_paths(dirs).expect("a PATH")
}

/// Which kubectl runs the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// The tools' kubectl 1.37 (`Kubectl::tools()`).
    Tools,
    /// `kubectl` as found on PATH (`Kubectl::on_path()`) with the tools' directory left out, so it is the
    /// machine's own.
    Machine,
}

pub const CLIENTS: [Client; 2] = [Client::Tools, Client::Machine];

/// A kubectl that runs `kubectl openbao ...` against `kubeconfig` (through `KUBECONFIG`: kubectl refuses flags
/// before a plugin's name, and the plugin reads the same variable kubectl does).
pub fn kubectl(client: Client, kubeconfig: &Path) -> Kubectl {
    let tools = Kubectl::tools();
    let kubectl = match client {
        Client::Tools => tools.clone().with_env("PATH", path_with_plugin(None)),
        Client::Machine => {
            let tools_dir = tools.binary.parent().expect("the tools' bin dir");
            Kubectl::on_path().with_env("PATH", path_with_plugin(Some(tools_dir)))
        }
    };
    kubectl.with_env("KUBECONFIG", kubeconfig)
}

/// Runs `kubectl openbao <args>` and returns what it printed (any exit status).
pub async fn openbao(client: Client, kubeconfig: &Path, args: &[&str]) -> KubectlOutput {
    let kubectl = kubectl(client, kubeconfig);
    let mut all = vec!["openbao".to_string()];
    all.extend(args.iter().map(|arg| arg.to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        kubectl.run(&args)
    })
    .await
    .expect("kubectl task")
}

/// Runs `kubectl openbao <args>`, asserts it succeeded and returns stdout.
pub async fn openbao_ok(client: Client, kubeconfig: &Path, args: &[&str]) -> String {
    let output = openbao(client, kubeconfig, args).await;
    assert!(
        output.status.success(),
        "kubectl openbao {args:?} ({client:?}) failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        output.stdout,
        output.stderr
    );
    output.stdout
}

/// Runs `kubectl openbao <args>`, asserts a non-zero exit with exactly one line on stderr (no panic, no
/// backtrace), and returns that line.
pub async fn openbao_fails(client: Client, kubeconfig: &Path, args: &[&str]) -> String {
    let output = openbao(client, kubeconfig, args).await;
    assert!(
        !output.status.success(),
        "kubectl openbao {args:?} ({client:?}) should fail:\nstdout:\n{}\nstderr:\n{}",
        output.stdout,
        output.stderr
    );
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "kubectl openbao {args:?} ({client:?}): one line on stderr, got:\n{}",
        output.stderr
    );
    let line = lines[0].to_string();
    assert!(
        line.starts_with("error: ") && !line.contains("panicked") && !line.contains("backtrace"),
        "kubectl openbao {args:?} ({client:?}): {line}"
    );
    line
}

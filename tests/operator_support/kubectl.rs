//! Real kubectl (installed by `scripts/install-test-tools.sh`) against the simulator's kubeconfig.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn kubectl_binary() -> PathBuf {
    let venv = std::env::var_os("OPENBAO_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv"));
    let kubectl = venv.join("bin/kubectl");
    assert!(
        kubectl.is_file(),
        "{} is missing; run scripts/install-test-tools.sh",
        kubectl.display()
    );
    kubectl
}

/// Runs kubectl and returns stdout; panics with stderr when it fails.
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let binary = kubectl_binary();
    let kubeconfig = kubeconfig.to_path_buf();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(&binary)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(&args)
            .output()
            .expect("kubectl runs");
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .expect("kubectl task")
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

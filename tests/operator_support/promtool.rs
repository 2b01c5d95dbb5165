//! `promtool check metrics`: Prometheus' own linter for an exposition (names, units, HELP/TYPE, counters); where
//! promtool and the `prometheus` server binary (both from Debian's `prometheus` package) are found.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub fn promtool_binary() -> PathBuf {
    tool_binary("promtool", "PROMTOOL_BIN")
}

/// The Prometheus server (`PROMETHEUS_BIN`, else PATH), for tests that scrape the operator for real.
pub fn prometheus_binary() -> PathBuf {
    tool_binary("prometheus", "PROMETHEUS_BIN")
}

fn tool_binary(name: &str, variable: &str) -> PathBuf {
    let found = std::env::var_os(variable).map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
    });
    match found {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "{name} not found ({variable} or PATH): run scripts/install-test-tools.sh \
             (it installs Debian's `prometheus` package, which ships promtool and prometheus)"
        ),
    }
}

/// Fails the test with promtool's findings unless the exposition lints clean.
pub fn assert_promtool_clean(exposition: &str) {
    let mut child = Command::new(promtool_binary())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(exposition.as_bytes())
        .expect("writing the exposition to promtool");
    let output = child.wait_with_output().expect("waiting for promtool");
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics rejected the exposition ({}):\n{}{}\n--- exposition ---\n{exposition}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

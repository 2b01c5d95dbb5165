//! `promtool check metrics`: Prometheus' own linter for an exposition (names, units, HELP/TYPE, counters).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn promtool_binary() -> PathBuf {
    let found = std::env::var_os("PROMTOOL_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("promtool"))
                    .find(|candidate| candidate.is_file())
            })
        });
    match found {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "promtool not found (PROMTOOL_BIN or PATH): run scripts/install-test-tools.sh \
             (it installs Debian's `prometheus` package, which ships promtool)"
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

//! The runbooks in `docs/runbooks/` run as written: their ```sh blocks are extracted from the file and run with
//! bash against the simulator. A block that starts with `# runbook-test: skip (<why>)` is left out.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use openbao_test_harness::kubectl::Kubectl;

use super::NAMESPACE;
use super::world::CLUSTER;

/// One block may wait for a restore (`kubectl wait --timeout=15m` in the text); the test's own bound is shorter.
const BLOCK_DEADLINE: Duration = Duration::from_secs(300);
pub const SKIP_MARKER: &str = "# runbook-test: skip";

pub struct Block {
    pub line: usize,
    pub text: String,
}

/// The ```sh blocks of a Markdown file, with the line each starts on.
pub fn shell_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        match current.as_mut() {
            None if line.trim_start() == "```sh" => {
                current = Some(Block {
                    line: index + 1,
                    text: String::new(),
                });
            }
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

pub fn runbook(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/runbooks")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    (path, text)
}

/// Runs one block with bash (`-euo pipefail`), the tools' kubectl and the built plugin first on PATH, `NS` and
/// `CLUSTER` set to the test's names, plus `env`.
pub async fn run_block(
    block: &Block,
    source: &Path,
    kubeconfig: &Path,
    log: &Path,
    env: &[(&str, &str)],
) {
    let kubectl = Kubectl::tools().binary;
    let tools = kubectl.parent().expect("kubectl's directory");
    // The `kubectl openbao` plugin that cargo built for this test, where kubectl looks for plugins.
    let plugin = Path::new(env!("CARGO_BIN_EXE_kubectl-openbao"))
        .parent()
        .expect("the plugin's directory");
    let path = format!(
        "{}:{}:{}",
        tools.display(),
        plugin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", &block.text])
        .env("PATH", path)
        .env("KUBECONFIG", kubeconfig)
        .env("NS", NAMESPACE)
        .env("CLUSTER", CLUSTER)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(BLOCK_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{}:{} did not finish in {BLOCK_DEADLINE:?}:\n{}",
                source.display(),
                block.line,
                block.text
            )
        })
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}:{} failed ({}):\n{}\nstdout:\n{}\nstderr:\n{}\noperator log tail:\n{}",
        source.display(),
        block.line,
        output.status,
        block.text,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        openbao_test_harness::process::log_tail(log, 40),
    );
}

/// The blocks between the heading that starts with `from` and the next `## ` heading (`from` `""`: the blocks
/// before the first `## ` heading).
pub fn section_blocks(markdown: &str, from: &str) -> Vec<Block> {
    let headings: Vec<(usize, &str)> = markdown
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with("## "))
        .map(|(index, line)| (index + 1, line))
        .collect();
    let (start, end) = if from.is_empty() {
        (0, headings.first().map_or(usize::MAX, |(line, _)| *line))
    } else {
        let position = headings
            .iter()
            .position(|(_, heading)| heading.starts_with(from))
            .unwrap_or_else(|| panic!("no heading {from:?}"));
        (
            headings[position].0,
            headings
                .get(position + 1)
                .map_or(usize::MAX, |(line, _)| *line),
        )
    };
    shell_blocks(markdown)
        .into_iter()
        .filter(|block| block.line > start && block.line < end)
        .collect()
}

/// Runs the blocks that are not marked skipped; returns how many ran.
pub async fn run_blocks(
    blocks: &[Block],
    source: &Path,
    kubeconfig: &Path,
    log: &Path,
    env: &[(&str, &str)],
) -> usize {
    let mut ran = 0;
    for block in blocks {
        if block.text.trim_start().starts_with(SKIP_MARKER) {
            continue;
        }
        run_block(block, source, kubeconfig, log, env).await;
        ran += 1;
    }
    ran
}

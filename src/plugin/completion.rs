//! `kubectl openbao completion bash|zsh|fish`: completion scripts for the `kubectl-openbao` binary.

use clap::CommandFactory;
use clap_complete::Shell;

use super::cli::{Cli, CompletionShell};

pub fn print(shell: CompletionShell, out: &mut dyn std::io::Write) {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "kubectl-openbao", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_commands() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let mut out = Vec::new();
            print(shell, &mut out);
            let text = String::from_utf8(out).expect("utf-8");
            assert!(
                text.contains("restore") && text.contains("points"),
                "{shell:?}"
            );
        }
    }
}

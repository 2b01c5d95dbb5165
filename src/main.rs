use clap::Parser;
use openbao_operator::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            eprintln!("not yet implemented");
            std::process::ExitCode::FAILURE
        }
    }
}

use clap::Parser;
use openbao_operator::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            match openbao_operator::crdgen::write_crds(&mut std::io::stdout().lock()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("cannot write the CRDs to stdout: {error}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::Executor(command) => openbao_operator::executor::main(command),
        Command::Run(args) => openbao_operator::operator::main(args),
    }
}

//! A container stand-in for controller tests. Arguments are steps run in order:
//!
//! - `print TEXT` / `eprint TEXT`: a line on stdout / stderr
//! - `cat PATH`: the file's contents on stdout
//! - `env NAME`: `NAME=<value>` on stdout (`NAME is unset` when unset)
//! - `pwd`: the working directory on stdout
//! - `pid`: `pid=<process id>` on stdout
//! - `write PATH TEXT`: writes TEXT to PATH (e.g. the termination-message file)
//! - `fail-once PATH`: exits 1 if PATH does not exist yet (creating it), else goes on: fails the first run only
//! - `sleep-until-killed`: prints `waiting for a signal` and blocks until a signal ends the process
//! - `exit CODE`: exits with CODE
//!
//! Without an `exit` step it exits 0.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    while let Some(step) = args.next() {
        let mut operand = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("step {step:?} needs {name}"))
        };
        match step.as_str() {
            "print" => println!("{}", operand("TEXT")),
            "eprint" => eprintln!("{}", operand("TEXT")),
            "cat" => {
                let path = operand("PATH");
                match std::fs::read(&path) {
                    Ok(contents) => {
                        std::io::stdout()
                            .write_all(&contents)
                            .expect("stdout is writable");
                        println!();
                    }
                    Err(error) => {
                        eprintln!("cannot read {path}: {error}");
                        return ExitCode::from(2);
                    }
                }
            }
            "env" => {
                let name = operand("NAME");
                match std::env::var(&name) {
                    Ok(value) => println!("{name}={value}"),
                    Err(_) => println!("{name} is unset"),
                }
            }
            "pid" => println!("pid={}", std::process::id()),
            "pwd" => println!(
                "{}",
                std::env::current_dir()
                    .expect("a working directory")
                    .display()
            ),
            "write" => {
                let path = operand("PATH");
                let text = operand("TEXT");
                if let Err(error) = std::fs::write(&path, text) {
                    eprintln!("cannot write {path}: {error}");
                    return ExitCode::from(2);
                }
            }
            "fail-once" => {
                let path = operand("PATH");
                if std::fs::metadata(&path).is_err() {
                    std::fs::write(&path, b"failed once").expect("the marker path is writable");
                    eprintln!("first run: failing");
                    return ExitCode::from(1);
                }
            }
            "sleep-until-killed" => {
                println!("waiting for a signal");
                std::io::stdout().flush().expect("stdout is writable");
                loop {
                    std::thread::park();
                }
            }
            "exit" => {
                let code: u8 = operand("CODE").parse().expect("exit code 0-255");
                std::io::stdout().flush().expect("stdout is writable");
                return ExitCode::from(code);
            }
            unknown => {
                eprintln!("unknown step {unknown:?}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

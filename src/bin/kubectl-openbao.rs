//! `kubectl openbao`: the kubectl plugin for OpenBao clusters protected by this operator (see docs/plugin.md).

fn main() -> std::process::ExitCode {
    openbao_operator::plugin::main()
}

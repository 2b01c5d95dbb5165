//! The process line for a container: Kubernetes' `command`/`args` semantics mapped onto a local executable.
//!
//! `command` replaces the image's entrypoint and `args` its default arguments; both are `$(VAR)`-expanded against
//! the container's environment and their container paths are rewritten to host paths. The image's entrypoint is the
//! executable the image maps to; a `command[0]` naming that executable (by file name) means the same executable.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use k8s_openapi::api::core::v1::Container;

use super::expansion::expand;
use super::paths::PathRewriter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessLine {
    pub program: OsString,
    pub args: Vec<String>,
}

pub fn process_line(
    container: &Container,
    image_executable: &Path,
    env: &BTreeMap<String, String>,
    paths: &PathRewriter,
) -> ProcessLine {
    let prepare = |value: &String| paths.rewrite(&expand(value, |name| env.get(name).cloned()));
    let command: Vec<String> = container.command.iter().flatten().map(prepare).collect();
    let args: Vec<String> = container.args.iter().flatten().map(prepare).collect();

    match command.split_first() {
        None => ProcessLine {
            program: image_executable.as_os_str().to_owned(),
            args,
        },
        Some((entrypoint, command_args)) => {
            let names_image_executable = Path::new(entrypoint)
                .file_name()
                .is_some_and(|name| Some(name) == image_executable.file_name());
            let program = if names_image_executable {
                image_executable.as_os_str().to_owned()
            } else {
                OsString::from(entrypoint)
            };
            ProcessLine {
                program,
                args: command_args.iter().cloned().chain(args).collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(value: serde_json::Value) -> Container {
        serde_json::from_value(value).unwrap()
    }

    fn line(container: &Container) -> ProcessLine {
        let env = BTreeMap::from([("MODE".to_string(), "backup".to_string())]);
        let mut paths = PathRewriter::default();
        paths.add("/dev/termination-log", "/pods/p/termination-log/main");
        process_line(
            container,
            Path::new("/build/openbao-operator"),
            &env,
            &paths,
        )
    }

    #[test]
    fn args_alone_keep_the_image_entrypoint() {
        let line = line(&container(
            json!({"name": "c", "args": ["executor", "$(MODE)", "--report=/dev/termination-log"]}),
        ));
        assert_eq!(line.program, "/build/openbao-operator");
        assert_eq!(
            line.args,
            [
                "executor",
                "backup",
                "--report=/pods/p/termination-log/main"
            ]
        );
    }

    #[test]
    fn command_naming_the_image_executable_maps_to_it() {
        let line = line(&container(json!({
            "name": "c", "command": ["/usr/local/bin/openbao-operator", "executor"], "args": ["$(MODE)"]
        })));
        assert_eq!(line.program, "/build/openbao-operator");
        assert_eq!(line.args, ["executor", "backup"]);
    }

    #[test]
    fn other_commands_replace_the_entrypoint() {
        let line = line(&container(
            json!({"name": "c", "command": ["sh", "-c", "echo $$(MODE) $(MODE)"]}),
        ));
        assert_eq!(line.program, "sh");
        assert_eq!(line.args, ["-c", "echo $(MODE) backup"]);
    }

    #[test]
    fn nothing_set_runs_the_entrypoint_bare() {
        let line = line(&container(json!({"name": "c"})));
        assert_eq!(
            line,
            ProcessLine {
                program: "/build/openbao-operator".into(),
                args: vec![]
            }
        );
    }
}

//! The sandbox binary as a user runs it: it starts the simulator, OpenBao as a StatefulSet of three real `bao` Pods
//! at the version asked for (`--openbao-version 2.6.2`), the S3 store and the operator; `kubectl get obc` shows a
//! Last Backup once the first scheduled backup reached the bucket; Ctrl-C (SIGINT to its process group) stops
//! everything: no process of it survives (the Pods' `bao` servers included) and no port of it still listens.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openbao_test_harness::kubectl::Kubectl;
use sandbox::instructions::SandboxInfo;

/// The release the test starts OpenBao on: not the default, so the flag is what picks it.
const OPENBAO_VERSION: &str = "2.6.2";
/// Three OpenBao Pods, the operator's election, on a busy 2-core machine.
const START_DEADLINE: Duration = Duration::from_secs(240);
/// The next `* * * * *` window within 60 s, then the executor runs; the rest is slack for a busy machine.
const BACKUP_DEADLINE: Duration = Duration::from_secs(240);
const STOP_DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// The sandbox process, leading its own process group; on drop (a failed test) the whole group and every
/// descendant seen is killed, and the sandbox's output is printed.
struct SandboxProcess {
    child: Child,
    output: PathBuf,
    descendants_seen: BTreeSet<i32>,
}

impl SandboxProcess {
    fn start(dir: &Path) -> Self {
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_sandbox"));
        let operator = binary.with_file_name("openbao-operator");
        assert!(
            operator.is_file(),
            "{} is missing: build it with `cargo build -p openbao-operator` (cargo test --workspace does)",
            operator.display()
        );
        let output = dir.join("sandbox-output.log");
        let log = std::fs::File::create(&output).expect("output file");
        let child = Command::new(&binary)
            .args(["--dir", dir.join("state").to_str().unwrap()])
            .args(["--operator-bin", operator.to_str().unwrap()])
            .args(["--openbao-version", OPENBAO_VERSION])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("the sandbox binary starts");
        Self {
            child,
            output,
            descendants_seen: BTreeSet::new(),
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "the sandbox exited ({status}) while waiting for {what}; output:\n{}",
                self.output()
            );
        }
    }

    fn remember_descendants(&mut self) -> BTreeSet<i32> {
        let now = descendants_of(self.pid());
        self.descendants_seen.extend(&now);
        now
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        self.remember_descendants();
        // SAFETY: plain kill(2) on our own child's group and on processes it started.
        unsafe {
            libc::kill(-self.pid(), libc::SIGKILL);
            for pid in &self.descendants_seen {
                libc::kill(*pid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- sandbox output ----\n{}", self.output());
        }
    }
}

/// (pid, parent pid, process group, state) of every process, from /proc.
fn processes() -> Vec<(i32, i32, i32, char)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name may hold spaces and parentheses: fields start after the last ')'.
            let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
            let state = fields.first()?.chars().next()?;
            Some((
                pid,
                fields.get(1)?.parse().ok()?,
                fields.get(2)?.parse().ok()?,
                state,
            ))
        })
        .collect()
}

fn descendants_of(root: i32) -> BTreeSet<i32> {
    let all = processes();
    let mut found = BTreeSet::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, ppid, _, _) in &all {
            if *ppid == parent && found.insert(*pid) {
                frontier.push(*pid);
            }
        }
    }
    found
}

/// Live (not zombie) processes among `pids` or in process group `group`.
fn survivors(pids: &BTreeSet<i32>, group: i32) -> Vec<(i32, i32, i32, char)> {
    processes()
        .into_iter()
        .filter(|(pid, _, pgrp, state)| *state != 'Z' && (pids.contains(pid) || *pgrp == group))
        .collect()
}

/// The machine's kubectl (the one a person types), against the sandbox; stderr when it fails.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["--request-timeout=30s"];
    all.extend_from_slice(args);
    let output = Kubectl::on_path().with_kubeconfig(kubeconfig).run(&all);
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(output.stderr)
    }
}

/// `version` from `GET /v1/sys/health` of the OpenBao API at `addr` (`http://host:port`), over plain HTTP/1.0.
fn openbao_version(addr: &str) -> Result<String, String> {
    let authority = addr.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).map_err(|error| format!("{addr}: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|error| error.to_string())?;
    write!(
        stream,
        "GET /v1/sys/health HTTP/1.0\r\nHost: {authority}\r\n\r\n"
    )
    .map_err(|error| error.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|error| error.to_string())?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .ok_or_else(|| format!("no HTTP body from {addr}: {answer}"))?;
    let health: serde_json::Value =
        serde_json::from_str(body).map_err(|error| format!("{error}: {body}"))?;
    health["version"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no version in {body}"))
}

/// Live `bao server` processes whose config is below `pods_dir` (the simulator's Pod directories: a Pod's config
/// is on its claim there).
fn bao_servers_under(pods_dir: &str) -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| Some(stat[stat.rfind(')')? + 2..].chars().next()? != 'Z'))
                .unwrap_or(false)
        })
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains(" server -config ") && cmdline.contains(pods_dir))
                .then_some((pid, cmdline))
        })
        .collect()
}

/// The value of column `name` in the first row of a `kubectl get` table (columns are 2+ spaces apart).
fn column(table: &str, name: &str) -> Option<String> {
    let mut lines = table.lines();
    let header = lines.next()?;
    let start = header.find(name)?;
    let row = lines.next()?;
    let rest = row.get(start..)?;
    Some(rest.split("  ").next()?.trim().to_string())
}

fn wait_for<T>(
    sandbox: &mut SandboxProcess,
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        sandbox.assert_running(what);
        sandbox.remember_descendants();
        let last = match check() {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}; last: {last}"
        );
        std::thread::sleep(POLL);
    }
}

#[test]
fn sandbox_backs_up_on_schedule_and_ctrl_c_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sandbox = SandboxProcess::start(dir.path());
    let info_path = dir.path().join("state/sandbox.json");
    let info: SandboxInfo = wait_for(&mut sandbox, "sandbox.json", START_DEADLINE, || {
        let text = std::fs::read_to_string(&info_path).map_err(|error| error.to_string())?;
        serde_json::from_str(&text).map_err(|error| error.to_string())
    });
    let printed = wait_for(&mut sandbox, "the instructions", START_DEADLINE, || {
        let output = sandbox_output(dir.path());
        output
            .contains("Ctrl-C stops everything.")
            .then_some(output.clone())
            .ok_or(output)
    });
    assert!(
        printed.contains(&format!("export KUBECONFIG={}", info.kubeconfig.display())),
        "{printed}"
    );
    assert!(
        printed.contains(
            r#"kubectl patch obc sandbox --type=merge -p '{"spec":{"version":"2.7.2"}}'"#
        ),
        "started below 2.7.2, the instructions show the upgrade: {printed}"
    );
    assert_eq!(info.openbao_nodes.len(), 3);
    assert_eq!(info.openbao_version, OPENBAO_VERSION);
    assert_eq!(info.openbao_stateful_set, "openbao");
    // The StatefulSet's Pods run the image of the version asked for, at the addresses the sandbox names, and the
    // `bao` behind each answers with that version.
    let pods = kubectl(
        &info.kubeconfig,
        &[
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/instance=openbao",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.spec.containers[0].image}{\"\\n\"}{end}",
        ],
    )
    .expect("kubectl get pods");
    let mut pods: Vec<&str> = pods.lines().collect();
    pods.sort_unstable();
    let expected: Vec<String> = info
        .openbao_nodes
        .iter()
        .enumerate()
        .map(|(ordinal, addr)| {
            let ip = addr
                .trim_start_matches("http://")
                .split(':')
                .next()
                .unwrap();
            format!("openbao-{ordinal} {ip} quay.io/openbao/openbao:{OPENBAO_VERSION}")
        })
        .collect();
    assert_eq!(pods, expected);
    for addr in &info.openbao_nodes {
        assert_eq!(
            openbao_version(addr).as_deref(),
            Ok(OPENBAO_VERSION),
            "{addr}"
        );
    }
    let token_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&info.openbao_root_token_file)
            .unwrap()
            .permissions(),
    );
    assert_eq!(token_mode & 0o777, 0o600, "the root token file is private");

    let table = wait_for(
        &mut sandbox,
        "`kubectl get obc` to show a Last Backup",
        BACKUP_DEADLINE,
        || {
            let table = kubectl(&info.kubeconfig, &["get", "obc"])?;
            match column(&table, "LAST BACKUP") {
                Some(age) if !age.is_empty() && age != "<none>" => Ok(table),
                _ => Err(table),
            }
        },
    );
    assert_eq!(column(&table, "FAILURES").as_deref(), Some("0"), "{table}");
    // The operator records events through events.k8s.io; `kubectl describe` reads the core API, so this holds only
    // while the simulator serves both as one resource.
    wait_for(
        &mut sandbox,
        "`kubectl describe obc` to show the operator's BackupCompleted event",
        BACKUP_DEADLINE,
        || {
            let described = kubectl(&info.kubeconfig, &["describe", "obc"])?;
            let events = described.split("Events:").nth(1).unwrap_or_default();
            events
                .contains("BackupCompleted")
                .then_some(())
                .ok_or(described)
        },
    );
    let stored: Vec<_> = walk(&info.bucket_dir);
    assert!(
        stored.iter().any(|path| path.ends_with(".snap")),
        "no snapshot in {}: {stored:?}",
        info.bucket_dir.display()
    );

    let descendants = sandbox.remember_descendants();
    assert!(
        descendants.contains(&i32::try_from(info.operator_pid).unwrap()),
        "the operator is a child of the sandbox: {descendants:?}"
    );
    assert!(
        descendants.len() >= 4,
        "operator and three OpenBao Pods: {descendants:?}"
    );
    let pods_dir = dir.path().join("state/sim/pods").display().to_string();
    let servers = bao_servers_under(&pods_dir);
    assert_eq!(servers.len(), 3, "one `bao` server per Pod: {servers:?}");
    let addresses = info.listen_addresses();
    assert_eq!(addresses.len(), 6, "{addresses:?}");
    for address in &addresses {
        TcpStream::connect(address).unwrap_or_else(|error| panic!("{address} listens: {error}"));
    }

    // Ctrl-C in a terminal signals the whole foreground process group.
    // SAFETY: plain kill(2) on the group our child leads.
    assert_eq!(unsafe { libc::kill(-sandbox.pid(), libc::SIGINT) }, 0);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = sandbox.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < STOP_DEADLINE,
            "the sandbox did not stop within {STOP_DEADLINE:?} after SIGINT"
        );
        std::thread::sleep(POLL);
    };
    assert!(
        status.success(),
        "sandbox exit: {status}\n{}",
        sandbox.output()
    );
    assert!(sandbox.output().contains("sandbox stopped"));

    let seen = sandbox.descendants_seen.clone();
    let group = sandbox.pid();
    let left = {
        // Killed children are reaped by their parents' exit; give the kernel a moment to tear them down.
        let started = Instant::now();
        loop {
            let left = survivors(&seen, group);
            if left.is_empty() || started.elapsed() > Duration::from_secs(10) {
                break left;
            }
            std::thread::sleep(POLL);
        }
    };
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let bao_left = bao_servers_under(&pods_dir);
    assert!(
        bao_left.is_empty(),
        "OpenBao Pods outlived the sandbox: {bao_left:?}"
    );
    for address in &addresses {
        assert!(
            TcpStream::connect(address).is_err(),
            "{address} still accepts connections after the sandbox stopped"
        );
    }
    assert!(
        !info_path.exists(),
        "sandbox.json is removed when the sandbox stops"
    );
}

fn sandbox_output(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sandbox-output.log")).unwrap_or_default()
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

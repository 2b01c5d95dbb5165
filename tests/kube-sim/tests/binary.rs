//! The `kube-sim` binary as a person runs it: `kube-sim --kubeconfig-out PATH`, then kubectl with that kubeconfig.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::DEADLINE;
use common::kubectl::{Kubectl, venv_kubectl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Stops the simulator process when the test ends, also when it fails: Ctrl-C first (the binary's documented
/// shutdown), SIGKILL if it does not exit in time.
struct SimProcess(Child);

impl SimProcess {
    fn start(kubeconfig: &Path, work_dir: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_kube-sim"))
            .arg("--kubeconfig-out")
            .arg(kubeconfig)
            .arg("--work-dir")
            .arg(work_dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("kube-sim starts");
        Self(child)
    }

    fn exited(&mut self) -> bool {
        self.0.try_wait().expect("process status").is_some()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if self.exited() {
            return;
        }
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn kubeconfig_out_serves_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut sim = SimProcess::start(&kubeconfig, &dir.path().join("work"));

    let deadline = Instant::now() + DEADLINE;
    while !kubeconfig.exists() {
        assert!(
            !sim.exited(),
            "kube-sim exited before writing the kubeconfig"
        );
        assert!(
            Instant::now() < deadline,
            "kube-sim wrote no kubeconfig within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&kubeconfig).unwrap().permissions(),
    );
    assert_eq!(
        mode & 0o077,
        0,
        "the kubeconfig holds the admin token: not readable by others"
    );

    let kubectl = Kubectl {
        binary: venv_kubectl(),
        kubeconfig: kubeconfig.clone(),
    };
    let namespaces = kubectl.run(&["get", "ns"]).await;
    let names: Vec<&str> = namespaces
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(names.contains(&"default"), "{namespaces}");

    // Ctrl-C is how a person stops it; it exits cleanly.
    kill(Pid::from_raw(sim.0.id() as i32), Signal::SIGINT).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = sim.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "kube-sim ignores Ctrl-C");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        status.success(),
        "kube-sim exits cleanly on Ctrl-C: {status}"
    );
}

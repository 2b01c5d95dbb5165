//! A gate in front of the executor: Job Pods start, show as running, and wait until the test opens the gate.
//! It makes "a backup is running" a state the test controls instead of a race against a fast snapshot.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct ExecutorGate {
    script: PathBuf,
    open_marker: PathBuf,
}

impl ExecutorGate {
    /// Writes the gate script into `dir`. It carries the executor's file name so the kubelet treats it as the
    /// image's entrypoint.
    pub fn create(dir: &Path, executor: &Path, open: bool) -> Self {
        Self::create_for(dir, executor, open, false)
    }

    /// With `backups_only`, only `executor backup` waits at the gate; restores pass.
    pub fn create_for(dir: &Path, executor: &Path, open: bool, backups_only: bool) -> Self {
        let gate_dir = dir.join("executor-gate");
        std::fs::create_dir_all(&gate_dir).expect("gate dir");
        let open_marker = gate_dir.join("open");
        let script = gate_dir.join(executor.file_name().expect("executor file name"));
        let gated = if backups_only {
            "[ \"$2\" = backup ]"
        } else {
            "true"
        };
        let text = format!(
            "#!/bin/sh\nif {gated}; then while [ ! -e '{marker}' ]; do sleep 0.05; done; fi\nexec '{executor}' \"$@\"\n",
            marker = open_marker.display(),
            executor = executor.display(),
        );
        std::fs::write(&script, text).expect("gate script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("gate script is executable");
        let gate = Self {
            script,
            open_marker,
        };
        if open {
            gate.open();
        }
        gate
    }

    pub fn executable(&self) -> &Path {
        &self.script
    }

    /// Lets every waiting and future executor run.
    pub fn open(&self) {
        std::fs::write(&self.open_marker, b"").expect("open the gate");
    }

    /// Executors started from now on wait again (one already past the gate runs on).
    pub fn close(&self) {
        std::fs::remove_file(&self.open_marker).expect("close the gate");
    }
}

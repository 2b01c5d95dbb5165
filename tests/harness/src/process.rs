//! A server process owned by a test: output goes to a log file, the process is killed when the guard drops
//! (also while a test panics), and it dies with the test process even if no destructor runs.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot open log file {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {name} ({program}): {source}")]
    Spawn {
        name: String,
        program: String,
        source: std::io::Error,
    },
}

/// Lines of a log printed when a test fails while the process runs.
const FAILURE_LOG_LINES: usize = 40;

/// A running child process; killed (with its whole process group) on drop.
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    pid: u32,
    // A mutex so that `&self` can ask whether the process still runs.
    child: Mutex<Child>,
    log_path: PathBuf,
}

impl ServerProcess {
    /// Starts `command` with stdout and stderr appended to `log_path`. `name` appears in messages only.
    pub fn spawn(name: &str, mut command: Command, log_path: &Path) -> Result<Self, ProcessError> {
        let log = open_log(log_path)?;
        let log_err = log.try_clone().map_err(|source| ProcessError::Log {
            path: log_path.to_path_buf(),
            source,
        })?;
        command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let child = spawn_from_spawner_thread(command).map_err(|source| ProcessError::Spawn {
            name: name.to_string(),
            program,
            source,
        })?;
        Ok(Self {
            name: name.to_string(),
            pid: child.id(),
            child: Mutex::new(child),
            log_path: log_path.to_path_buf(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// `Some(status)` once the process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.child().try_wait().ok().flatten()
    }

    pub fn is_running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// Asks the process to stop (SIGTERM), waits up to `grace`, then kills it.
    pub fn terminate(&mut self, grace: Duration) {
        if self.exit_status().is_some() {
            return;
        }
        self.signal_group(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                self.signal_group(libc::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    /// Kills the process group at once and reaps the process.
    pub fn kill(&mut self) {
        self.signal_group(libc::SIGKILL);
        let mut child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn signal_group(&self, signal: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(self.pid) else {
            return;
        };
        // SAFETY: plain syscall; the group id is our own child's (it leads its group, see `process_group(0)`).
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let running = self.exit_status().is_none();
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- {} ({}, log {}) last {FAILURE_LOG_LINES} lines ----\n{}",
                self.name,
                if running { "was running" } else { "had exited" },
                self.log_path.display(),
                self.log_tail(FAILURE_LOG_LINES)
            );
        }
    }
}

/// The last `lines` lines of a log file (reads at most its last 64 KiB).
pub fn log_tail(path: &Path, lines: usize) -> String {
    const MAX_BYTES: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn open_log(path: &Path) -> Result<File, ProcessError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| ProcessError::Log {
            path: path.to_path_buf(),
            source,
        })?;
    let _ = writeln!(
        file,
        "==== started by the test harness at {} ====",
        chrono::Utc::now().to_rfc3339()
    );
    Ok(file)
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process. Tests spawn from
/// short-lived runtime threads, so every child is forked by one thread that lives as long as the process.
static SPAWNER: LazyLock<Mutex<mpsc::Sender<SpawnRequest>>> = LazyLock::new(|| {
    let (requests, inbox) = mpsc::channel::<SpawnRequest>();
    std::thread::Builder::new()
        .name("test-harness-spawner".to_string())
        .spawn(move || {
            for (mut command, reply) in inbox {
                let _ = reply.send(command.spawn());
            }
        })
        .expect("start the process spawner thread");
    Mutex::new(requests)
});

fn spawn_from_spawner_thread(command: Command) -> std::io::Result<Child> {
    let (reply, answer) = mpsc::channel();
    SPAWNER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| std::io::Error::other("process spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("process spawner thread is gone"))?
}

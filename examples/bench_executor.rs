//! Executor benchmark: one real OpenBao node and one S3 server on loopback, a snapshot of at least the requested
//! size, and in one run the floors (what the endpoints alone cost), the hand pipeline people script today
//! (`bao operator raft snapshot save`, then `aws s3 cp`), and
//! the executor, each with wall time and peak RSS. Run through `scripts/bench-executor.sh`.
//!
//! Usage: `bench_executor <executor binary> <size MiB>...` (sizes ascending, e.g. `256 1024`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, OpenBaoCluster, OpenBaoOptions, RESTORE_POLICY,
    RESTORE_POLICY_NAME, S3Options, S3Server,
};

/// KV values are stored encrypted, so even repetitive plaintext makes an incompressible snapshot. Raft refuses
/// entries over 1 MiB, so two values per MiB.
const VALUE_BYTES: usize = 512 << 10;
const VALUES_PER_MIB: usize = 2;
const MIB: f64 = 1024.0 * 1024.0;

struct Measured {
    seconds: f64,
    rss_mib: f64,
    /// User + system CPU seconds (shows whether a step is CPU-bound).
    cpu_seconds: f64,
}

struct Bench {
    cluster: OpenBaoCluster,
    /// A token with the backup and restore policies only: the executor refuses a root token.
    executor_token: String,
    s3: S3Server,
    executor: PathBuf,
    work: tempfile::TempDir,
    written_mib: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let executor = PathBuf::from(
        args.next()
            .expect("usage: bench_executor <executor binary> <size MiB>..."),
    );
    let sizes: Vec<usize> = args.map(|a| a.parse().expect("size in MiB")).collect();
    assert!(!sizes.is_empty(), "give at least one size in MiB");
    for tool in ["curl", "/usr/bin/time"] {
        assert!(
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok(),
            "{tool} is required"
        );
    }
    let cluster = OpenBaoCluster::start(
        1,
        OpenBaoOptions {
            timeout: Duration::from_secs(600),
            ..OpenBaoOptions::default()
        },
    )
    .await
    .expect("OpenBao started (run scripts/install-test-tools.sh first)");
    let s3 = S3Server::start(S3Options::default()).expect("S3 server started");
    for (name, policy) in [
        (BACKUP_POLICY_NAME, BACKUP_POLICY),
        (RESTORE_POLICY_NAME, RESTORE_POLICY),
    ] {
        cluster
            .write_policy(name, policy)
            .await
            .expect("policy written");
    }
    let executor_token = cluster
        .create_token(&[BACKUP_POLICY_NAME, RESTORE_POLICY_NAME])
        .await
        .expect("an executor token");
    let mut bench = Bench {
        executor_token,
        cluster,
        s3,
        executor,
        work: tempfile::tempdir().expect("work dir"),
        written_mib: 0,
    };
    for size in sizes {
        bench.grow_to(size).await;
        bench.run_size().await;
    }
}

impl Bench {
    async fn grow_to(&mut self, mib: usize) {
        let started = Instant::now();
        let missing = mib.saturating_sub(self.written_mib);
        let first = self.written_mib * VALUES_PER_MIB;
        // Batches keep each call's concurrency bounded and show progress on slow machines.
        for batch in (first..first + missing * VALUES_PER_MIB)
            .collect::<Vec<_>>()
            .chunks(64)
        {
            let prefix = format!("bench/{}", batch[0]);
            self.cluster
                .write_secrets(&prefix, batch.len(), VALUE_BYTES)
                .await
                .expect("secrets written");
        }
        self.written_mib = self.written_mib.max(mib);
        eprintln!(
            "wrote {missing} MiB of secrets in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    async fn run_size(&self) {
        let leader = self.cluster.leader_addr().await.unwrap();
        let token = self.cluster.root_token().to_owned();
        let file = self.work.path().join("snapshot.snap");
        let snapshot_url = format!("{leader}/v1/sys/storage/raft/snapshot");
        let object_url = |key: &str| format!("{}/{}/{key}", self.s3.endpoint(), self.s3.bucket());
        let sigv4 = ["--aws-sigv4", "aws:amz:us-east-1:s3"];
        let user = format!("{}:{}", self.s3.access_key(), self.s3.secret_key());
        let unsigned = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"];

        // Floors: the OpenBao endpoint alone and the store alone.
        let snapshot_floor = measure(
            "snapshot floor",
            Command::new("curl")
                .args(["-sS", "--fail", "-o", "/dev/null", "-H"])
                .arg(format!("X-Vault-Token: {token}"))
                .arg(&snapshot_url),
        );
        // The file for the store floor comes from the hand pipeline's first step.
        let bao_save = measure(
            "bao operator raft snapshot save",
            Command::new(bao_binary())
                .args(["operator", "raft", "snapshot", "save"])
                .arg(&file)
                .env("BAO_ADDR", &leader)
                .env("BAO_TOKEN", &token),
        );
        let size = std::fs::metadata(&file).unwrap().len() as f64 / MIB;
        let curl_put = |key: &str| {
            measure(
                "curl sigv4 PUT",
                Command::new("curl")
                    .args(["-sS", "--fail", "-o", "/dev/null"])
                    .args(sigv4)
                    .args(["--user", &user])
                    .args(unsigned)
                    .arg("-T")
                    .arg(&file)
                    .arg(object_url(key)),
            )
        };
        let store_floor = curl_put("floor.snap");
        // The hand pipeline uploads with the stock S3 client people script (the AWS CLI, default settings).
        let aws_cp = measure(
            "aws s3 cp",
            Command::new(aws_binary())
                .args(["s3", "cp", "--only-show-errors", "--endpoint-url"])
                .arg(self.s3.endpoint())
                .arg(&file)
                .arg(format!("s3://{}/pipeline.snap", self.s3.bucket()))
                .env("AWS_ACCESS_KEY_ID", self.s3.access_key())
                .env("AWS_SECRET_ACCESS_KEY", self.s3.secret_key())
                .env("AWS_DEFAULT_REGION", self.s3.region())
                .env("AWS_CONFIG_FILE", "/dev/null")
                .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        );
        let pipeline = Measured {
            seconds: bao_save.seconds + aws_cp.seconds,
            rss_mib: bao_save.rss_mib.max(aws_cp.rss_mib),
            cpu_seconds: bao_save.cpu_seconds + aws_cp.cpu_seconds,
        };
        // The same with the fastest possible uploader, for reference.
        let curl_pipeline = {
            let put = curl_put("pipeline-curl.snap");
            Measured {
                seconds: bao_save.seconds + put.seconds,
                rss_mib: bao_save.rss_mib.max(put.rss_mib),
                cpu_seconds: bao_save.cpu_seconds + put.cpu_seconds,
            }
        };

        let (ours, report) = self.executor_run(&["backup"], &leader, None);
        let key = report["key"].as_str().expect("backup key").to_owned();
        assert_eq!(report["outcome"], "succeeded", "{report}");

        // Restore: floor = GET from the store to a file + POST of the file to OpenBao.
        let restore_file = self.work.path().join("restore.snap");
        let get_floor = measure(
            "curl sigv4 GET",
            Command::new("curl")
                .args(["-sS", "--fail", "-o"])
                .arg(&restore_file)
                .args(sigv4)
                .args(["--user", &user])
                .args(unsigned)
                .arg(object_url(&key)),
        );
        let post_floor = measure(
            "curl POST snapshot",
            Command::new("curl")
                .args(["-sS", "--fail", "-o", "/dev/null", "-X", "POST", "-H"])
                .arg(format!("X-Vault-Token: {token}"))
                .arg("-T")
                .arg(&restore_file)
                .arg(&snapshot_url),
        );
        self.cluster
            .wait_healthy()
            .await
            .expect("cluster healthy after the floor restore");
        wait_restore_settled(&self.cluster).await;
        let restore_floor = Measured {
            seconds: get_floor.seconds + post_floor.seconds,
            rss_mib: get_floor.rss_mib.max(post_floor.rss_mib),
            cpu_seconds: get_floor.cpu_seconds + post_floor.cpu_seconds,
        };
        let (ours_restore, restore_report) = self.executor_run(&["restore"], &leader, Some(&key));
        assert_eq!(restore_report["outcome"], "succeeded", "{restore_report}");
        let accepted = restore_report["restoreAcceptedSeconds"].as_f64().unwrap();
        self.cluster
            .wait_healthy()
            .await
            .expect("cluster healthy after our restore");

        let floor = snapshot_floor.seconds.max(store_floor.seconds);
        println!(
            "\n== snapshot {size:.0} MiB ({} MiB of secrets)",
            self.written_mib
        );
        row(
            "snapshot floor: curl GET snapshot > /dev/null",
            &snapshot_floor,
        );
        row(
            "store floor: curl --aws-sigv4 PUT of the file",
            &store_floor,
        );
        row("hand pipeline: bao snapshot save + aws s3 cp", &pipeline);
        row(
            "  (reference: bao snapshot save + curl PUT)",
            &curl_pipeline,
        );
        row("ours: executor backup (verify + manifest + head)", &ours);
        println!(
            "backup: ours / max(floors) = {:.2} (target <= 1.25); pipeline / ours = {:.2} (target >= 2); ours RSS {:.1} MiB (target <= 64)",
            ours.seconds / floor,
            pipeline.seconds / ours.seconds,
            ours.rss_mib
        );
        row("restore floor: curl GET + curl POST", &restore_floor);
        row("ours: executor restore, whole run", &ours_restore);
        println!(
            "restore: ours until OpenBao accepted {accepted:.2} s; / floor = {:.2} (target <= 1.2); ours RSS {:.1} MiB (target <= 64)",
            accepted / restore_floor.seconds,
            ours_restore.rss_mib
        );
    }

    /// Runs the executor under `/usr/bin/time -v`; returns the measurement and its report.
    fn executor_run(
        &self,
        args: &[&str],
        leader: &str,
        key: Option<&str>,
    ) -> (Measured, serde_json::Value) {
        let token_file = self.work.path().join("token");
        std::fs::write(&token_file, &self.executor_token).unwrap();
        let creds = self.work.path().join("creds");
        std::fs::create_dir_all(&creds).unwrap();
        std::fs::write(creds.join("AWS_ACCESS_KEY_ID"), self.s3.access_key()).unwrap();
        std::fs::write(creds.join("AWS_SECRET_ACCESS_KEY"), self.s3.secret_key()).unwrap();
        let report = self.work.path().join("report.json");
        let mut command = Command::new(&self.executor);
        command
            .arg("executor")
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_EXECUTOR_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("EXECUTOR_NAMESPACE", "bench")
            .env("EXECUTOR_CLUSTER", "bench")
            .env("EXECUTOR_OPENBAO_ADDR", leader)
            .env("EXECUTOR_AUTH_TOKEN_FILE", &token_file)
            .env("EXECUTOR_STORE_PROVIDER", "s3")
            .env("EXECUTOR_STORE_BUCKET", self.s3.bucket())
            .env("EXECUTOR_STORE_ENDPOINT", self.s3.endpoint())
            .env("EXECUTOR_STORE_REGION", self.s3.region())
            .env("EXECUTOR_STORE_FORCE_PATH_STYLE", "true")
            // Like the curl floor, which sends UNSIGNED-PAYLOAD.
            .env("EXECUTOR_STORE_UNSIGNED_PAYLOAD", "true")
            .env("EXECUTOR_STORE_CREDENTIALS_DIR", &creds)
            .env("EXECUTOR_SCRATCH_DIR", self.work.path())
            .env("EXECUTOR_REPORT_PATH", &report)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for name in ["EXECUTOR_PART_SIZE", "EXECUTOR_UPLOAD_CONCURRENCY"] {
            if let Ok(value) = std::env::var(name) {
                command.env(name, value);
            }
        }
        if let Some(key) = key {
            command.env("EXECUTOR_KEY", key);
        }
        let measured = measure(&format!("executor {}", args.join(" ")), &mut command);
        let report = std::fs::read_to_string(&report).expect("executor report");
        (
            measured,
            serde_json::from_str(&report).expect("report JSON"),
        )
    }
}

/// The node reports active during OpenBao's post-restore teardown; give it the same settle time the executor
/// uses before measuring the next run against it.
async fn wait_restore_settled(cluster: &OpenBaoCluster) {
    let mut active_since: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let active = cluster
            .health(0)
            .await
            .map(|h| h.is_active())
            .unwrap_or(false);
        match (active, active_since) {
            (true, Some(since)) if since.elapsed() >= Duration::from_secs(10) => return,
            (true, None) => active_since = Some(Instant::now()),
            (false, _) => active_since = None,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the cluster did not settle after a restore");
}

/// The AWS CLI (PyPI `awscli`), installed into the tools venv by `scripts/bench-executor.sh`.
fn aws_binary() -> PathBuf {
    let venv = std::env::var_os("OPENBAO_TEST_VENV")
        .expect("OPENBAO_TEST_VENV is set (source .tools/env)");
    let aws = PathBuf::from(venv).join("bin/aws");
    assert!(
        aws.is_file(),
        "{} missing: run scripts/bench-executor.sh (it installs awscli)",
        aws.display()
    );
    aws
}

fn bao_binary() -> PathBuf {
    std::env::var_os("OPENBAO_BIN")
        .map(PathBuf::from)
        .expect("OPENBAO_BIN is set (source .tools/env)")
}

/// Wall time and peak RSS (GNU time's "Maximum resident set size") of one command.
fn measure(what: &str, command: &mut Command) -> Measured {
    let time_file = tempfile::NamedTempFile::new().unwrap();
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-v")
        .arg("-o")
        .arg(time_file.path())
        .arg(program)
        .args(args);
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(name, value),
            None => timed.env_remove(name),
        };
    }
    timed.stdout(Stdio::null());
    let started = Instant::now();
    let status = timed.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "{what} failed: {status}");
    let report = std::fs::read_to_string(time_file.path()).unwrap();
    Measured {
        seconds,
        rss_mib: time_field(&report, "Maximum resident set size (kbytes)") / 1024.0,
        cpu_seconds: time_field(&report, "User time (seconds)")
            + time_field(&report, "System time (seconds)"),
    }
}

/// A numeric field of GNU time's `-v` report.
fn time_field(report: &str, name: &str) -> f64 {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(": "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("GNU time reports {name}"))
}

fn row(name: &str, measured: &Measured) {
    println!(
        "{name:<52} {:>7.2} s  {:>7.1} MiB RSS  {:>6.2} s CPU",
        measured.seconds, measured.rss_mib, measured.cpu_seconds
    );
}

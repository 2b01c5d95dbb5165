//! The variants: floors (what the endpoints alone cost), the hand pipeline people script today and the executor.
//! Each call runs one variant once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openbao_test_harness::{OpenBaoCluster, S3Server};
use sha2::{Digest, Sha256};

use crate::measure::{Measured, measure};

/// KV values are stored encrypted, so even repetitive plaintext makes an incompressible snapshot. Raft refuses
/// entries over 1 MiB, so two values per MiB.
const VALUE_BYTES: usize = 512 << 10;
const VALUES_PER_MIB: usize = 2;

/// The executor's upload defaults (`EXECUTOR_PART_SIZE`, `EXECUTOR_UPLOAD_CONCURRENCY`).
pub const DEFAULT_PART_SIZE: u64 = 8 << 20;
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 4;

pub struct Bench {
    pub cluster: OpenBaoCluster,
    /// A token with the backup and restore policies only: the executor refuses a root token.
    pub executor_token: String,
    pub s3: S3Server,
    pub executor: PathBuf,
    /// Another build of the executor run next to `executor`, to compare two builds.
    pub baseline: Option<PathBuf>,
    pub work: tempfile::TempDir,
    pub written_mib: usize,
    pub part_size: u64,
    pub concurrency: usize,
}

impl Bench {
    pub async fn grow_to(&mut self, mib: usize) {
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

    fn snapshot_url(&self, leader: &str) -> String {
        format!("{leader}/v1/sys/storage/raft/snapshot")
    }

    fn object_url(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.s3.endpoint(), self.s3.bucket())
    }

    /// The snapshot file the store floors upload; written by the hand pipeline's first step.
    pub fn snapshot_file(&self) -> PathBuf {
        self.work.path().join("snapshot.snap")
    }

    /// curl with SigV4 and an unsigned payload, like the executor (`EXECUTOR_STORE_UNSIGNED_PAYLOAD`).
    fn signed_curl(&self) -> Command {
        let mut curl = Command::new("curl");
        curl.args([
            "-sS",
            "--fail",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
        ])
        .arg(format!("{}:{}", self.s3.access_key(), self.s3.secret_key()))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]);
        curl
    }

    /// Snapshot floor: the snapshot endpoint read to `/dev/null`.
    pub fn snapshot_floor(&self, leader: &str) -> Measured {
        measure(
            "snapshot floor",
            Command::new("curl")
                .args(["-sS", "--fail", "-o", "/dev/null", "-H"])
                .arg(format!("X-Vault-Token: {}", self.cluster.root_token()))
                .arg(self.snapshot_url(leader)),
        )
    }

    /// Single-PUT store floor: one signed PUT of the snapshot file.
    pub fn store_put(&self) -> Measured {
        measure(
            "curl sigv4 PUT",
            self.signed_curl()
                .args(["-o", "/dev/null", "-T"])
                .arg(self.snapshot_file())
                .arg(self.object_url("floor.snap")),
        )
    }

    /// Multipart store floor: the store's multipart ingest with the executor's part size and concurrency
    /// (checksums only where the store requires them, like the executor).
    pub fn store_multipart(&self) -> Measured {
        let config = self.work.path().join("aws-multipart.cfg");
        std::fs::write(
            &config,
            format!(
                "[default]\nrequest_checksum_calculation = when_required\ns3 =\n  multipart_threshold = {part}\n  multipart_chunksize = {part}\n  max_concurrent_requests = {concurrency}\n",
                part = self.part_size,
                concurrency = self.concurrency,
            ),
        )
        .unwrap();
        measure(
            "aws s3 cp (multipart)",
            &mut self.aws_cp("floor-multipart.snap", &config),
        )
    }

    /// Hand pipeline: `bao operator raft snapshot save` to a file, then `aws s3 cp` (default settings).
    pub fn pipeline(&self, leader: &str) -> Measured {
        let save = measure(
            "bao operator raft snapshot save",
            Command::new(bao_binary())
                .args(["operator", "raft", "snapshot", "save"])
                .arg(self.snapshot_file())
                .env("BAO_ADDR", leader)
                .env("BAO_TOKEN", self.cluster.root_token()),
        );
        let upload = measure(
            "aws s3 cp",
            &mut self.aws_cp("pipeline.snap", Path::new("/dev/null")),
        );
        save.then(upload)
    }

    fn aws_cp(&self, key: &str, config: &Path) -> Command {
        let mut aws = Command::new(aws_binary());
        aws.args(["s3", "cp", "--only-show-errors", "--endpoint-url"])
            .arg(self.s3.endpoint())
            .arg(self.snapshot_file())
            .arg(format!("s3://{}/{key}", self.s3.bucket()))
            .env("AWS_ACCESS_KEY_ID", self.s3.access_key())
            .env("AWS_SECRET_ACCESS_KEY", self.s3.secret_key())
            .env("AWS_DEFAULT_REGION", self.s3.region())
            .env("AWS_CONFIG_FILE", config)
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        aws
    }

    /// The CPU a backup's checks cannot avoid: see [`hash_floor`]. A process of its own, so GNU time measures it
    /// like every other variant.
    pub fn hash_floor(&self, bytes: u64) -> Measured {
        measure(
            "SHA-256, 2 passes",
            Command::new(std::env::current_exe().expect("the bench's own path"))
                .arg(HASH_FLOOR_MODE)
                .arg(bytes.to_string()),
        )
    }

    /// Ours: `executor backup`. Returns the measurement and the new snapshot's key.
    pub fn ours_backup(&self, executor: &Path, leader: &str) -> (Measured, String) {
        let (measured, report) = self.executor_run(executor, "backup", leader, None);
        assert_eq!(report["outcome"], "succeeded", "{report}");
        let key = report["key"].as_str().expect("backup key").to_owned();
        (measured, key)
    }

    /// Removes a backup's snapshot and manifest, so repeated runs do not fill the store's disk.
    pub fn forget(&self, key: &str) {
        for stored in self.s3.list_keys() {
            if stored.starts_with(key) {
                std::fs::remove_file(self.s3.bucket_dir().join(&stored)).unwrap();
            }
        }
    }

    /// Restore floor: curl GET from the store to a file, then curl POST of the file to OpenBao.
    pub async fn restore_floor(&self, leader: &str, key: &str) -> Measured {
        let file = self.work.path().join("restore.snap");
        let get = measure(
            "curl sigv4 GET",
            self.signed_curl()
                .arg("-o")
                .arg(&file)
                .arg(self.object_url(key)),
        );
        let post = measure(
            "curl POST snapshot",
            Command::new("curl")
                .args(["-sS", "--fail", "-o", "/dev/null", "-X", "POST", "-H"])
                .arg(format!("X-Vault-Token: {}", self.cluster.root_token()))
                .arg("-T")
                .arg(&file)
                .arg(self.snapshot_url(leader)),
        );
        std::fs::remove_file(&file).unwrap();
        self.cluster
            .wait_healthy()
            .await
            .expect("cluster healthy after the floor restore");
        wait_restore_settled(&self.cluster).await;
        get.then(post)
    }

    /// Ours: `executor restore`. Returns the run until OpenBao accepted the snapshot (`restoreAcceptedSeconds`;
    /// CPU and memory of the whole run) and the whole run (which includes the executor's settle wait).
    pub async fn ours_restore(
        &self,
        executor: &Path,
        leader: &str,
        key: &str,
    ) -> (Measured, Measured) {
        let (whole, report) = self.executor_run(executor, "restore", leader, Some(key));
        assert_eq!(report["outcome"], "succeeded", "{report}");
        let accepted = report["restoreAcceptedSeconds"].as_f64().unwrap();
        self.cluster
            .wait_healthy()
            .await
            .expect("cluster healthy after our restore");
        (
            Measured {
                seconds: accepted,
                ..whole
            },
            whole,
        )
    }

    /// Runs the executor under GNU time; returns the measurement and its report.
    fn executor_run(
        &self,
        executor: &Path,
        command: &str,
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
        let mut executor = Command::new(executor);
        executor
            .args(["executor", command])
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
            // Like the curl floors, which send UNSIGNED-PAYLOAD.
            .env("EXECUTOR_STORE_UNSIGNED_PAYLOAD", "true")
            .env("EXECUTOR_STORE_CREDENTIALS_DIR", &creds)
            .env("EXECUTOR_SCRATCH_DIR", self.work.path())
            .env("EXECUTOR_REPORT_PATH", &report)
            .env("EXECUTOR_PART_SIZE", self.part_size.to_string())
            .env("EXECUTOR_UPLOAD_CONCURRENCY", self.concurrency.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(key) = key {
            executor.env("EXECUTOR_KEY", key);
        }
        let measured = measure(&format!("executor {command}"), &mut executor);
        let report = std::fs::read_to_string(&report).expect("executor report");
        (
            measured,
            serde_json::from_str(&report).expect("report JSON"),
        )
    }
}

/// `bench_executor --hash-floor <bytes>` runs [`hash_floor`] instead of the benchmark.
pub const HASH_FLOOR_MODE: &str = "--hash-floor";

/// SHA-256 over `bytes` bytes, twice, in one thread and 1 MiB updates, from memory (no I/O): what a backup's two
/// digests cost at the least (the stream's for the manifest, and `state.bin`'s against `SHA256SUMS`; the
/// `sha2` crate the executor uses).
pub fn hash_floor(bytes: u64) {
    let piece = vec![0x5a_u8; 1 << 20];
    for _ in 0..2 {
        let mut hasher = Sha256::new();
        let mut left = bytes;
        while left > 0 {
            let n = left.min(piece.len() as u64) as usize;
            hasher.update(&piece[..n]);
            left -= n as u64;
        }
        std::hint::black_box(hasher.finalize());
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

//! Runs the real `openbao-operator executor` binary as its own process against the harness's servers.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use openbao_test_harness::{JwtAuthSetup, OpenBaoCluster, TestJwtSigner, TestStore};

/// The namespace and cluster name every test backs up under.
pub const NAMESPACE: &str = "openbao";
pub const CLUSTER: &str = "main";
pub const PATH_PREFIX: &str = "backups";
/// Whole runs (including OpenBao's ~5.5 s post-restore pause) on a busy 2-core machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Environment, files and known secrets for one executor invocation.
pub struct ExecutorEnv {
    dir: tempfile::TempDir,
    vars: BTreeMap<String, String>,
    /// Values that must never appear in output or report.
    secrets: Vec<String>,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub report_text: String,
    pub report: serde_json::Value,
}

impl RunOutcome {
    pub fn assert_success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "executor failed: report {}\nstderr:\n{}",
            self.report_text, self.stderr
        );
        self
    }

    pub fn assert_failed_at(&self, stage: &str, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code; report {}\nstderr:\n{}",
            self.report_text, self.stderr
        );
        assert_eq!(self.report["outcome"], "failed", "{}", self.report_text);
        assert_eq!(self.report["stage"], stage, "{}", self.report_text);
        self
    }

    pub fn reason(&self) -> &str {
        self.report["reason"].as_str().unwrap_or_default()
    }

    pub fn key(&self) -> String {
        self.report["key"]
            .as_str()
            .expect("report names a key")
            .to_owned()
    }
}

impl ExecutorEnv {
    /// Settings for `store`, with OpenBao at `openbao_addr`; add auth with [`Self::with_token`] or
    /// [`Self::with_jwt`].
    pub fn new(openbao_addr: &str, store: &TestStore) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = Self {
            dir,
            vars: BTreeMap::new(),
            secrets: Vec::new(),
        };
        env.set("EXECUTOR_NAMESPACE", NAMESPACE)
            .set("EXECUTOR_CLUSTER", CLUSTER)
            .set("EXECUTOR_OPENBAO_ADDR", openbao_addr)
            .set("EXECUTOR_STORE_PATH_PREFIX", PATH_PREFIX)
            .set("EXECUTOR_STORE_BUCKET", store.bucket())
            .set("EXECUTOR_STORE_ENDPOINT", &store.endpoint())
            .set("EXECUTOR_STORE_MAX_RETRIES", "2")
            .set("EXECUTOR_STORE_RETRY_TIMEOUT", "10s")
            .set("EXECUTOR_PART_SIZE", "5Mi")
            .set("EXECUTOR_UPLOAD_CONCURRENCY", "2");
        let report = env.dir.path().join("report.json");
        env.set("EXECUTOR_REPORT_PATH", &report.display().to_string());
        let creds = env.dir.path().join("store-credentials");
        std::fs::create_dir(&creds).unwrap();
        match store {
            TestStore::S3(server) => {
                std::fs::write(creds.join("AWS_ACCESS_KEY_ID"), server.access_key()).unwrap();
                std::fs::write(creds.join("AWS_SECRET_ACCESS_KEY"), server.secret_key()).unwrap();
                env.secrets.push(server.secret_key().to_owned());
                env.set("EXECUTOR_STORE_PROVIDER", "s3")
                    .set("EXECUTOR_STORE_REGION", server.region())
                    .set("EXECUTOR_STORE_FORCE_PATH_STYLE", "true");
            }
            TestStore::Gcs(server) => {
                std::fs::write(
                    creds.join("service-account.json"),
                    server.service_account_key(),
                )
                .unwrap();
                env.set("EXECUTOR_STORE_PROVIDER", "gcs");
            }
            TestStore::Azure(server) => {
                std::fs::write(
                    creds.join("AZURE_STORAGE_ACCOUNT_KEY"),
                    server.account_key(),
                )
                .unwrap();
                env.secrets.push(server.account_key().to_owned());
                env.set("EXECUTOR_STORE_PROVIDER", "azure")
                    .set("EXECUTOR_STORE_AZURE_ACCOUNT", server.account());
            }
        }
        env.set(
            "EXECUTOR_STORE_CREDENTIALS_DIR",
            &creds.display().to_string(),
        );
        env
    }

    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn unset(&mut self, name: &str) -> &mut Self {
        self.vars.remove(name);
        self
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn report_path(&self) -> PathBuf {
        PathBuf::from(&self.vars["EXECUTOR_REPORT_PATH"])
    }

    /// Token-file auth.
    pub fn with_token(&mut self, token: &str) -> &mut Self {
        let path = self.dir.path().join("token");
        std::fs::write(&path, token).unwrap();
        self.secrets.push(token.to_owned());
        self.unset("EXECUTOR_AUTH_JWT_FILE");
        self.set("EXECUTOR_AUTH_TOKEN_FILE", &path.display().to_string())
    }

    /// JWT auth with a projected-token-like file.
    pub fn with_jwt(&mut self, jwt: &str, role: &str) -> &mut Self {
        let path = self.dir.path().join("jwt");
        std::fs::write(&path, jwt).unwrap();
        self.secrets.push(jwt.to_owned());
        self.unset("EXECUTOR_AUTH_TOKEN_FILE");
        self.set("EXECUTOR_AUTH_JWT_FILE", &path.display().to_string())
            .set("EXECUTOR_AUTH_JWT_ROLE", role)
    }

    /// Also scan output for this value (e.g. a token the executor obtains itself).
    pub fn add_secret(&mut self, secret: &str) -> &mut Self {
        self.secrets.push(secret.to_owned());
        self
    }

    /// Spawns the executor; the child is killed if the handle is dropped (a failing test never leaks it).
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        let _ = std::fs::remove_file(self.report_path());
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_openbao-operator"));
        command
            .arg("executor")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "RUST_LOG",
                std::env::var("EXECUTOR_TEST_LOG").unwrap_or_else(|_| "debug".into()),
            )
            .envs(&self.vars)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command.spawn().expect("spawning the executor")
    }

    /// Runs the executor to completion and checks that no known secret leaked into its output or report.
    pub async fn run(&self, args: &[&str]) -> RunOutcome {
        let child = self.spawn(args);
        let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
            .await
            .expect("executor finished in time")
            .expect("executor output");
        self.outcome(
            output.status.code().unwrap_or(-1),
            output.stdout,
            output.stderr,
        )
    }

    pub fn outcome(&self, code: i32, stdout: Vec<u8>, stderr: Vec<u8>) -> RunOutcome {
        let report_text = std::fs::read_to_string(self.report_path()).unwrap_or_default();
        let outcome = RunOutcome {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            report: serde_json::from_str(&report_text).unwrap_or(serde_json::Value::Null),
            report_text,
        };
        assert!(
            outcome.report_text.len() < 4096,
            "report too long for a termination message"
        );
        for secret in &self.secrets {
            for (what, text) in [
                ("stdout", &outcome.stdout),
                ("stderr", &outcome.stderr),
                ("report", &outcome.report_text),
            ] {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret leaked into {what}:\n{text}"
                );
            }
        }
        for (what, text) in [
            ("stdout", &outcome.stdout),
            ("stderr", &outcome.stderr),
            ("report", &outcome.report_text),
        ] {
            assert!(
                find_openbao_token(text).is_none(),
                "something shaped like an OpenBao token leaked into {what}:\n{text}"
            );
        }
        outcome
    }
}

pub use openbao_test_harness::leaks::find_openbao_token;

/// Configures JWT auth on `cluster` and returns a signer plus setup.
pub async fn jwt_auth(cluster: &OpenBaoCluster) -> (TestJwtSigner, JwtAuthSetup) {
    let signer = TestJwtSigner::new("https://kubernetes.default.svc.cluster.local");
    let setup = JwtAuthSetup::for_signer(&signer);
    cluster
        .configure_jwt_auth(&setup)
        .await
        .expect("JWT auth configured");
    (signer, setup)
}

/// A projected-token-like JWT for `role` of `setup`.
pub fn mint_jwt(signer: &TestJwtSigner, setup: &JwtAuthSetup, role: &str) -> String {
    let subject = if role == JwtAuthSetup::BACKUP_ROLE {
        &setup.backup_subject
    } else {
        &setup.restore_subject
    };
    signer.mint(subject, &setup.audience, Duration::from_secs(600))
}

/// Every object key in the bucket.
pub async fn keys(store: &Arc<dyn ObjectStore>) -> Vec<String> {
    use futures::TryStreamExt;
    let mut keys: Vec<String> = store
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("listing the bucket");
    keys.sort();
    keys
}

pub async fn read(store: &Arc<dyn ObjectStore>, key: &str) -> Vec<u8> {
    store
        .get(&Path::from(key))
        .await
        .expect("object exists")
        .bytes()
        .await
        .expect("object body")
        .to_vec()
}

pub async fn write(store: &Arc<dyn ObjectStore>, key: &str, bytes: Vec<u8>) {
    store
        .put(&Path::from(key), object_store::PutPayload::from(bytes))
        .await
        .expect("object written");
}

/// The prefix that holds the test cluster's recovery points.
pub fn cluster_prefix() -> String {
    format!("{PATH_PREFIX}/{NAMESPACE}/{CLUSTER}/")
}

/// Writes `count` secrets of `bytes` hex characters each from a fixed pseudo-random sequence: values that gzip
/// cannot shrink much, so snapshots get big.
pub async fn write_incompressible_secrets(
    cluster: &OpenBaoCluster,
    prefix: &str,
    count: usize,
    bytes: usize,
) {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for n in 0..count {
        let value: String = (0..bytes / 16)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{state:016x}")
            })
            .collect();
        cluster
            .write_secret(
                &format!("{prefix}/{n}"),
                &serde_json::json!({ "value": value }),
            )
            .await
            .expect("secret written");
    }
}

/// Serializes Azurite instances within one test binary. The harness starts the blob-only launcher on a free
/// port, so they would not collide; one Node.js emulator at a time keeps a busy 2-core machine within the tests'
/// deadlines (the all-services launcher, used before, also bound fixed queue and table ports).
pub async fn azurite_turn(
    provider: openbao_test_harness::StoreProvider,
) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    static AZURITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    match provider {
        openbao_test_harness::StoreProvider::Azure => Some(AZURITE.lock().await),
        _ => None,
    }
}

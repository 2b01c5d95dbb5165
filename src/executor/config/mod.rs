//! The executor's configuration: `EXECUTOR_*` environment variables and the files they point to, parsed into
//! typed settings before anything touches the network. `docs/executor.md` lists every variable.

mod env;

use crate::executor_vars as vars;
use std::path::PathBuf;
use std::time::Duration;

use openbao_crds::validation::leader_hosts::HostRule;
use openbao_crds::{BackupKind, RetentionPolicy, StorageProvider};

pub use env::Env;
use env::{read_file, read_secret};

use super::key::{ClusterPrefix, segment_problem, snapshot_key_problem};
use super::retention::RetentionRules;
use super::stage::Reason;
use super::verifier::SnapshotDigest;
use crate::openbao::{SecretString, TlsSettings};
use crate::store::{RetrySettings, StoreCredentials, StoreSettings};

/// S3's smallest allowed part (except the last one) and a ceiling that keeps memory bounded.
const MIN_PART_SIZE: u64 = 5 << 20;
const MAX_PART_SIZE: u64 = 512 << 20;
const DEFAULT_PART_SIZE: u64 = 8 << 20;
const DEFAULT_UPLOAD_CONCURRENCY: usize = 4;
const MAX_UPLOAD_CONCURRENCY: usize = 64;
const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_REPORT_PATH: &str = "/dev/termination-log";

/// Credential file names inside `EXECUTOR_STORE_CREDENTIALS_DIR` (the keys of the credentials Secret).
pub const S3_ACCESS_KEY_FILE: &str = "AWS_ACCESS_KEY_ID";
pub const S3_SECRET_KEY_FILE: &str = "AWS_SECRET_ACCESS_KEY";
pub const S3_SESSION_TOKEN_FILE: &str = "AWS_SESSION_TOKEN";
pub const GCS_SERVICE_ACCOUNT_FILE: &str = "service-account.json";
pub const AZURE_ACCOUNT_KEY_FILE: &str = "AZURE_STORAGE_ACCOUNT_KEY";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

impl ConfigError {
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            problem: problem.into(),
        }
    }
}

impl Reason for ConfigError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Missing(_) => "ConfigMissing",
            Self::Invalid { .. } => "ConfigInvalid",
        }
    }
}

/// How the executor logs in to OpenBao.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthConfig {
    Jwt {
        mount: String,
        role: String,
        jwt: SecretString,
    },
    Token(SecretString),
}

/// Settings shared by backup and restore.
#[derive(Clone, Debug)]
pub struct CommonConfig {
    pub namespace: String,
    pub cluster: String,
    pub openbao_address: String,
    pub openbao_tls: TlsSettings,
    /// Where `sys/leader` may send the executor besides the endpoint's host and this namespace's Services.
    pub leader_hosts: Vec<HostRule>,
    pub auth: AuthConfig,
    pub store: StoreSettings,
    pub prefix: ClusterPrefix,
    pub report_path: PathBuf,
}

#[derive(Clone, Debug)]
pub struct BackupConfig {
    pub common: CommonConfig,
    /// The key to write; generated when the operator did not choose one.
    pub key: Option<String>,
    pub kind: BackupKind,
    /// `None`: no retention block, keep everything.
    pub retention: Option<RetentionRules>,
    pub part_size: usize,
    pub upload_concurrency: usize,
}

/// Which snapshot a restore uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreSource {
    Key(String),
    /// The newest snapshot of this cluster with a valid manifest.
    Latest,
}

#[derive(Clone, Debug)]
pub struct RestoreConfig {
    pub common: CommonConfig,
    pub source: RestoreSource,
    /// The digest the resolved manifest must name (the snapshot a preflight pinned); `None`: any.
    pub expected_digest: Option<SnapshotDigest>,
    pub force: bool,
    pub dry_run: bool,
    pub scratch_dir: Option<PathBuf>,
    pub health_timeout: Duration,
}

/// The report path is read on its own first, so even a configuration failure is reported where the operator
/// looks for it.
pub fn report_path(env: &Env) -> PathBuf {
    env.path(vars::EXECUTOR_REPORT_PATH)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_REPORT_PATH))
}

pub fn backup(env: &Env) -> Result<BackupConfig, ConfigError> {
    let common = common(env)?;
    let key = env.optional(vars::EXECUTOR_KEY);
    if let Some(key) = &key {
        check_key_in_prefix(vars::EXECUTOR_KEY, key, &common.prefix)?;
    }
    let kind = match env.optional(vars::EXECUTOR_KIND).as_deref() {
        None | Some("manual") => BackupKind::Manual,
        Some("scheduled") => BackupKind::Scheduled,
        Some("pre-upgrade") => BackupKind::PreUpgrade,
        Some(other) => {
            return Err(ConfigError::invalid(
                vars::EXECUTOR_KIND,
                format!("{other:?} is not scheduled, manual or pre-upgrade"),
            ));
        }
    };
    let part_size = env
        .byte_size(vars::EXECUTOR_PART_SIZE)?
        .unwrap_or(DEFAULT_PART_SIZE);
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
        return Err(ConfigError::invalid(
            vars::EXECUTOR_PART_SIZE,
            format!("{part_size} bytes is outside 5Mi..512Mi"),
        ));
    }
    let upload_concurrency = env
        .parsed::<usize>(vars::EXECUTOR_UPLOAD_CONCURRENCY, "a whole number")?
        .unwrap_or(DEFAULT_UPLOAD_CONCURRENCY);
    if !(1..=MAX_UPLOAD_CONCURRENCY).contains(&upload_concurrency) {
        return Err(ConfigError::invalid(
            vars::EXECUTOR_UPLOAD_CONCURRENCY,
            format!("{upload_concurrency} is outside 1..={MAX_UPLOAD_CONCURRENCY}"),
        ));
    }
    Ok(BackupConfig {
        common,
        key,
        kind,
        retention: retention(env)?,
        part_size: part_size as usize,
        upload_concurrency,
    })
}

/// `force` and `dry_run` come from command-line flags or the environment, whichever says yes.
pub fn restore(
    env: &Env,
    force_flag: bool,
    dry_run_flag: bool,
) -> Result<RestoreConfig, ConfigError> {
    let common = common(env)?;
    let force = force_flag || env.flag(vars::EXECUTOR_FORCE)?;
    let source = match env.required(vars::EXECUTOR_KEY)?.as_str() {
        // Always this cluster's own folder, forced or not.
        "latest" => RestoreSource::Latest,
        // A forced restore may read another cluster's folder (a cross-cluster restore).
        key if force => {
            if let Some(problem) = snapshot_key_problem(key) {
                return Err(ConfigError::invalid(
                    vars::EXECUTOR_KEY,
                    format!("{key:?} is not a snapshot key: it {problem}"),
                ));
            }
            RestoreSource::Key(key.to_owned())
        }
        key => {
            check_key_in_prefix(vars::EXECUTOR_KEY, key, &common.prefix)?;
            RestoreSource::Key(key.to_owned())
        }
    };
    let expected_digest = env
        .optional(vars::EXECUTOR_EXPECTED_DIGEST)
        .map(|text| {
            SnapshotDigest::parse(&text).ok_or_else(|| {
                ConfigError::invalid(
                    vars::EXECUTOR_EXPECTED_DIGEST,
                    format!("{text:?} is not sha256: followed by 64 lowercase hex digits"),
                )
            })
        })
        .transpose()?;
    let health_timeout = env
        .duration(vars::EXECUTOR_RESTORE_HEALTH_TIMEOUT)?
        .map(|d| d.as_std())
        .unwrap_or(DEFAULT_HEALTH_TIMEOUT);
    Ok(RestoreConfig {
        common,
        source,
        expected_digest,
        force,
        dry_run: dry_run_flag || env.flag(vars::EXECUTOR_DRY_RUN)?,
        scratch_dir: env.path(vars::EXECUTOR_SCRATCH_DIR),
        health_timeout,
    })
}

fn check_key_in_prefix(
    field: &'static str,
    key: &str,
    prefix: &ClusterPrefix,
) -> Result<(), ConfigError> {
    if prefix.holds_snapshot(key) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        field,
        format!(
            "{key:?} is not a .snap key directly under {:?}",
            prefix.as_str()
        ),
    ))
}

fn common(env: &Env) -> Result<CommonConfig, ConfigError> {
    let namespace = env.required(vars::EXECUTOR_NAMESPACE)?;
    let cluster = env.required(vars::EXECUTOR_CLUSTER)?;
    for (field, value) in [
        (vars::EXECUTOR_NAMESPACE, &namespace),
        (vars::EXECUTOR_CLUSTER, &cluster),
    ] {
        if value.contains('/') {
            return Err(ConfigError::invalid(field, "must not contain '/'"));
        }
        if let Some(problem) = segment_problem(value) {
            return Err(ConfigError::invalid(field, format!("{value:?} {problem}")));
        }
    }
    let openbao_address = env.required(vars::EXECUTOR_OPENBAO_ADDR)?;
    let openbao_tls = TlsSettings {
        ca_pem: env
            .path(vars::EXECUTOR_OPENBAO_CA_FILE)
            .map(|p| read_file(vars::EXECUTOR_OPENBAO_CA_FILE, &p))
            .transpose()?,
        server_name: env.optional(vars::EXECUTOR_OPENBAO_TLS_SERVER_NAME),
    };
    let store = store(env)?;
    let path_prefix = env.optional(vars::EXECUTOR_STORE_PATH_PREFIX);
    // Empty segments collapse (`ClusterPrefix::new`); `..` or control characters would leave the folder.
    if let Some(problem) = path_prefix
        .iter()
        .flat_map(|p| p.split('/'))
        .filter(|s| !s.is_empty())
        .find_map(segment_problem)
    {
        return Err(ConfigError::invalid(
            vars::EXECUTOR_STORE_PATH_PREFIX,
            format!("{:?} {problem}", path_prefix.unwrap_or_default()),
        ));
    }
    let prefix = ClusterPrefix::new(path_prefix.as_deref(), &namespace, &cluster);
    Ok(CommonConfig {
        namespace,
        cluster,
        openbao_address,
        openbao_tls,
        leader_hosts: leader_hosts(env)?,
        auth: auth(env)?,
        store,
        prefix,
        report_path: report_path(env),
    })
}

/// `EXECUTOR_OPENBAO_LEADER_HOSTS`: comma-separated `spec.leaderHosts` entries.
fn leader_hosts(env: &Env) -> Result<Vec<HostRule>, ConfigError> {
    let Some(list) = env.optional(vars::EXECUTOR_OPENBAO_LEADER_HOSTS) else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            HostRule::parse(entry)
                .and_then(|rule| rule.forbidden().map_or(Ok(rule), Err))
                .map_err(|problem| {
                    ConfigError::invalid(vars::EXECUTOR_OPENBAO_LEADER_HOSTS, problem)
                })
        })
        .collect()
}

fn auth(env: &Env) -> Result<AuthConfig, ConfigError> {
    match (
        env.path(vars::EXECUTOR_AUTH_JWT_FILE),
        env.path(vars::EXECUTOR_AUTH_TOKEN_FILE),
    ) {
        (Some(jwt_file), None) => Ok(AuthConfig::Jwt {
            mount: env
                .optional(vars::EXECUTOR_AUTH_JWT_MOUNT)
                .map(|m| m.trim_matches('/').to_owned())
                .unwrap_or_else(|| "jwt".to_owned()),
            role: env.required(vars::EXECUTOR_AUTH_JWT_ROLE)?,
            jwt: read_secret(vars::EXECUTOR_AUTH_JWT_FILE, &jwt_file)?,
        }),
        (None, Some(token_file)) => Ok(AuthConfig::Token(read_secret(
            vars::EXECUTOR_AUTH_TOKEN_FILE,
            &token_file,
        )?)),
        _ => Err(ConfigError::invalid(
            vars::EXECUTOR_AUTH_JWT_FILE,
            "set exactly one of EXECUTOR_AUTH_JWT_FILE or EXECUTOR_AUTH_TOKEN_FILE",
        )),
    }
}

fn store(env: &Env) -> Result<StoreSettings, ConfigError> {
    let provider = match env.required(vars::EXECUTOR_STORE_PROVIDER)?.as_str() {
        "s3" => StorageProvider::S3,
        "gcs" => StorageProvider::Gcs,
        "azure" => StorageProvider::Azure,
        other => {
            return Err(ConfigError::invalid(
                vars::EXECUTOR_STORE_PROVIDER,
                format!("{other:?} is not s3, gcs or azure"),
            ));
        }
    };
    let azure_account = env.optional(vars::EXECUTOR_STORE_AZURE_ACCOUNT);
    if provider == StorageProvider::Azure && azure_account.is_none() {
        return Err(ConfigError::Missing(vars::EXECUTOR_STORE_AZURE_ACCOUNT));
    }
    let credentials = match env.path(vars::EXECUTOR_STORE_CREDENTIALS_DIR) {
        None => StoreCredentials::Ambient,
        Some(dir) => credentials_from_dir(provider, &dir)?,
    };
    let defaults = RetrySettings::default();
    let endpoint = env.optional(vars::EXECUTOR_STORE_ENDPOINT);
    // Over plain HTTP nothing else protects the bytes in transit, so keep the payload signature there.
    let unsigned_payload = match env.optional(vars::EXECUTOR_STORE_UNSIGNED_PAYLOAD) {
        Some(_) => env.flag(vars::EXECUTOR_STORE_UNSIGNED_PAYLOAD)?,
        None => !endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://")),
    };
    Ok(StoreSettings {
        provider,
        bucket: env.required(vars::EXECUTOR_STORE_BUCKET)?,
        endpoint,
        region: env.optional(vars::EXECUTOR_STORE_REGION),
        force_path_style: env.flag(vars::EXECUTOR_STORE_FORCE_PATH_STYLE)?,
        azure_account,
        credentials,
        ca_pem: env
            .path(vars::EXECUTOR_STORE_CA_FILE)
            .map(|p| read_file(vars::EXECUTOR_STORE_CA_FILE, &p))
            .transpose()?,
        retry: RetrySettings {
            max_retries: env
                .parsed(vars::EXECUTOR_STORE_MAX_RETRIES, "a whole number")?
                .unwrap_or(defaults.max_retries),
            retry_timeout: env
                .duration(vars::EXECUTOR_STORE_RETRY_TIMEOUT)?
                .map(|d| d.as_std())
                .unwrap_or(defaults.retry_timeout),
        },
        unsigned_payload,
    })
}

fn credentials_from_dir(
    provider: StorageProvider,
    dir: &std::path::Path,
) -> Result<StoreCredentials, ConfigError> {
    const FIELD: &str = vars::EXECUTOR_STORE_CREDENTIALS_DIR;
    let secret = |name: &str| read_secret(FIELD, &dir.join(name));
    Ok(match provider {
        StorageProvider::S3 => StoreCredentials::S3 {
            access_key_id: secret(S3_ACCESS_KEY_FILE)?,
            secret_access_key: secret(S3_SECRET_KEY_FILE)?,
            session_token: dir
                .join(S3_SESSION_TOKEN_FILE)
                .exists()
                .then(|| secret(S3_SESSION_TOKEN_FILE))
                .transpose()?,
        },
        StorageProvider::Gcs => {
            StoreCredentials::GcsServiceAccount(secret(GCS_SERVICE_ACCOUNT_FILE)?)
        }
        StorageProvider::Azure => {
            StoreCredentials::AzureAccountKey(secret(AZURE_ACCOUNT_KEY_FILE)?)
        }
    })
}

/// `EXECUTOR_RETENTION` is the cluster's `spec.backup.retention` as JSON; absent means keep everything.
fn retention(env: &Env) -> Result<Option<RetentionRules>, ConfigError> {
    const FIELD: &str = vars::EXECUTOR_RETENTION;
    let Some(json) = env.optional(FIELD) else {
        return Ok(None);
    };
    let policy: RetentionPolicy = serde_json::from_str(&json)
        .map_err(|e| ConfigError::invalid(FIELD, format!("not a retention policy: {e}")))?;
    let count = |name: &'static str, value: Option<i32>| -> Result<Option<usize>, ConfigError> {
        value
            .map(|n| {
                usize::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ConfigError::invalid(FIELD, format!("{name} must be at least 1, got {n}"))
                })
            })
            .transpose()
    };
    let time_zone = match env.optional(vars::EXECUTOR_RETENTION_TIME_ZONE) {
        None => chrono_tz::UTC,
        Some(name) => openbao_crds::schedule::parse_time_zone(&name)
            .map_err(|e| ConfigError::invalid(vars::EXECUTOR_RETENTION_TIME_ZONE, e.to_string()))?,
    };
    Ok(Some(RetentionRules {
        keep_last: count("keepLast", policy.keep_last)?,
        max_age: policy
            .max_age
            .as_deref()
            .map(|text| {
                text.parse::<openbao_crds::duration::HumanDuration>()
                    .map(|d| d.as_chrono())
                    .map_err(|e| ConfigError::invalid(FIELD, format!("maxAge: {e}")))
            })
            .transpose()?,
        keep_daily: count("keepDaily", policy.keep_daily)?,
        keep_weekly: count("keepWeekly", policy.keep_weekly)?,
        keep_monthly: count("keepMonthly", policy.keep_monthly)?,
        keep_pre_upgrade: count("keepPreUpgrade", Some(policy.keep_pre_upgrade))?,
        time_zone,
    }))
}

#[cfg(test)]
mod tests;

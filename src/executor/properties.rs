//! Generated inputs for what the executor reads from outside: object keys and manifests from the bucket (anyone
//! with write access can put anything there) and `EXECUTOR_*` variables (a Job spec anyone can edit). None of
//! them may panic; each either parses with its invariants holding or is refused with a named reason.

use chrono::{TimeZone, Utc};
use openbao_crds::BackupKind;
use proptest::prelude::*;

use super::config::{self, ConfigError, Env};
use super::key::{ClusterPrefix, manifest_key, snapshot_key_of_manifest, snapshot_key_problem};
use super::manifest::{Manifest, sample};

const CASES: u32 = 10_000;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        Just(String::new()),
        Just(".".to_string()),
        Just("..".to_string()),
        ".{0,12}",
    ]
}

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(segment(), 0..6).prop_map(|segments| segments.join("/")),
        proptest::collection::vec(segment(), 0..6)
            .prop_map(|segments| format!("{}.snap", segments.join("/"))),
    ]
}

fn kind() -> impl Strategy<Value = BackupKind> {
    prop_oneof![
        Just(BackupKind::Manual),
        Just(BackupKind::Scheduled),
        Just(BackupKind::PreUpgrade),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Keys the operator writes are always valid, in their folder, and their manifest key maps back.
    #[test]
    fn written_keys_are_valid_and_stay_in_their_folder(
        path_prefix in proptest::option::of("[a-z0-9/]{0,20}"),
        namespace in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        cluster in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        seconds in 0i64..253_402_300_799,
        kind in kind(),
        random in any::<u32>(),
    ) {
        let prefix = ClusterPrefix::new(path_prefix.as_deref(), &namespace, &cluster);
        let taken = Utc.timestamp_opt(seconds, 0).single().unwrap();
        let key = prefix.new_key(taken, kind, random);
        prop_assert!(prefix.holds_snapshot(&key), "{key} outside {}", prefix.as_str());
        prop_assert_eq!(snapshot_key_problem(&key), None, "{}", key);
        let manifest = manifest_key(&key);
        prop_assert_eq!(snapshot_key_of_manifest(&manifest), Some(key.as_str()));
    }

    /// Any key from the bucket or a request: a verdict, never a panic; an accepted key can not climb out.
    #[test]
    fn any_key_gets_a_verdict(key in any_key()) {
        let prefix = ClusterPrefix::new(Some("backups"), "ns", "main");
        if snapshot_key_problem(&key).is_none() {
            prop_assert!(key.ends_with(".snap"));
            prop_assert!(!key.starts_with('/'));
            prop_assert!(!key.split('/').any(|s| s.is_empty() || s == "." || s == ".."), "{}", key);
        }
        if prefix.holds_snapshot(&key) {
            prop_assert!(key.starts_with("backups/ns/main/"));
            prop_assert!(!key["backups/ns/main/".len()..].contains('/'));
        }
        let _ = snapshot_key_of_manifest(&key);
    }

    /// Any bytes where a manifest should be: parsed for exactly that key, or refused.
    #[test]
    fn any_manifest_bytes_get_a_verdict(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            any::<String>().prop_map(String::into_bytes),
        ],
        key in any_key(),
    ) {
        if let Ok(manifest) = Manifest::parse_for(&bytes, &key) {
            prop_assert_eq!(manifest.key, key);
        }
    }

    /// A real manifest with fields swapped for hostile values: never a panic, and the key check holds.
    #[test]
    fn mangled_manifests_get_a_verdict(
        field in prop_oneof![
            Just("formatVersion"), Just("key"), Just("digest"), Just("size"), Just("clusterId"),
            Just("created"), Just("kind"), Just("raftIndex"), Just("extra"),
        ],
        value in prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            Just(serde_json::json!({"nested": [1, 2]})),
            Just(serde_json::Value::from("9999-12-31T23:59:59Z")),
            Just(serde_json::Value::from("sha256:00")),
            Just(serde_json::Value::from(u64::MAX)),
        ],
    ) {
        let key = "ns/c/a.snap";
        let mut json = serde_json::to_value(sample(key, Utc::now(), BackupKind::Manual)).unwrap();
        json[field] = value;
        let bytes = serde_json::to_vec(&json).unwrap();
        if let Ok(manifest) = Manifest::parse_for(&bytes, key) {
            prop_assert_eq!(manifest.key.as_str(), key);
        }
    }
}

/// What a value of one variable can be: valid, near the edge, or anything at all.
fn variable_value(name: &'static str, files: &Files) -> BoxedStrategy<String> {
    let anything = prop_oneof![any::<String>(), ".{0,20}", Just(String::new())];
    let specific: BoxedStrategy<String> = match name {
        "EXECUTOR_AUTH_TOKEN_FILE"
        | "EXECUTOR_AUTH_JWT_FILE"
        | "EXECUTOR_OPENBAO_CA_FILE"
        | "EXECUTOR_STORE_CA_FILE"
        | "EXECUTOR_STORE_CREDENTIALS_DIR" => {
            // Only paths inside the fixture (or missing ones): a generated path must never name a device.
            let choices = files.paths();
            return proptest::sample::select(choices).boxed();
        }
        "EXECUTOR_PART_SIZE" => prop_oneof![
            "[0-9]{1,25}(Ki|Mi|Gi|Ti|K|M|G|k|)",
            Just("5Mi".to_string()),
            Just("512Mi".to_string()),
        ]
        .boxed(),
        "EXECUTOR_UPLOAD_CONCURRENCY" | "EXECUTOR_STORE_MAX_RETRIES" => {
            prop_oneof!["-?[0-9]{1,25}", Just("64".to_string())].boxed()
        }
        "EXECUTOR_RESTORE_HEALTH_TIMEOUT" | "EXECUTOR_STORE_RETRY_TIMEOUT" => {
            "[0-9]{1,25}(ms|s|m|h|d|w|y|)".boxed()
        }
        "EXECUTOR_RETENTION" => prop_oneof![
            Just(r#"{"keepLast": 3}"#.to_string()),
            "-?[0-9]{1,22}".prop_map(|n| format!(r#"{{"keepLast": {n}}}"#)),
            "[0-9]{1,22}(ms|s|m|h|d|w|y|)".prop_map(|d| format!(r#"{{"maxAge": "{d}"}}"#)),
            Just(r#"{"keepDaily": 7, "keepWeekly": 4, "keepMonthly": 12}"#.to_string()),
        ]
        .boxed(),
        "EXECUTOR_KEY" => prop_oneof![
            Just("latest".to_string()),
            Just("prod/ns/main/20260101T000000Z-manual-00000001.snap".to_string()),
            any_key(),
        ]
        .boxed(),
        "EXECUTOR_EXPECTED_DIGEST" => "sha256:[0-9a-fA-F]{0,70}".boxed(),
        "EXECUTOR_STORE_PROVIDER" => prop_oneof![
            Just("s3".to_string()),
            Just("gcs".to_string()),
            Just("azure".to_string())
        ]
        .boxed(),
        "EXECUTOR_OPENBAO_ADDR" | "EXECUTOR_STORE_ENDPOINT" => prop_oneof![
            Just("https://openbao.ns.svc:8200".to_string()),
            Just("http://169.254.169.254/".to_string()),
            "(https?|ftp)://[a-z0-9.:\\[\\]]{0,30}(/.{0,10})?",
        ]
        .boxed(),
        "EXECUTOR_FORCE"
        | "EXECUTOR_DRY_RUN"
        | "EXECUTOR_STORE_FORCE_PATH_STYLE"
        | "EXECUTOR_STORE_UNSIGNED_PAYLOAD" => prop_oneof![
            Just("true".to_string()),
            Just("false".to_string()),
            Just("1".to_string())
        ]
        .boxed(),
        "EXECUTOR_KIND" => prop_oneof![
            Just("manual".to_string()),
            Just("scheduled".to_string()),
            Just("pre-upgrade".to_string())
        ]
        .boxed(),
        "EXECUTOR_RETENTION_TIME_ZONE" => prop_oneof![
            Just("Europe/Berlin".to_string()),
            Just("UTC".to_string()),
            "[A-Za-z/_+-]{0,20}",
        ]
        .boxed(),
        "EXECUTOR_NAMESPACE" | "EXECUTOR_CLUSTER" => segment().boxed(),
        "EXECUTOR_OPENBAO_LEADER_HOSTS" => proptest::collection::vec(
            prop_oneof![
                "[a-z0-9.-]{1,20}",
                "\\*\\.[a-z0-9.-]{0,20}",
                "[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?",
                "[0-9a-f:]{2,20}(/[0-9]{1,3})?",
                Just("169.254.169.254".to_string()),
            ],
            0..4,
        )
        .prop_map(|entries| entries.join(","))
        .boxed(),
        "EXECUTOR_STORE_PATH_PREFIX" => proptest::collection::vec(segment(), 0..5)
            .prop_map(|segments| segments.join("/"))
            .boxed(),
        _ => "[a-z0-9-]{1,20}".boxed(),
    };
    prop_oneof![3 => specific, 1 => anything].boxed()
}

const VARIABLES: &[&str] = &[
    "EXECUTOR_NAMESPACE",
    "EXECUTOR_CLUSTER",
    "EXECUTOR_OPENBAO_ADDR",
    "EXECUTOR_OPENBAO_CA_FILE",
    "EXECUTOR_OPENBAO_TLS_SERVER_NAME",
    "EXECUTOR_OPENBAO_LEADER_HOSTS",
    "EXECUTOR_AUTH_TOKEN_FILE",
    "EXECUTOR_AUTH_JWT_FILE",
    "EXECUTOR_AUTH_JWT_ROLE",
    "EXECUTOR_AUTH_JWT_MOUNT",
    "EXECUTOR_STORE_PROVIDER",
    "EXECUTOR_STORE_BUCKET",
    "EXECUTOR_STORE_PATH_PREFIX",
    "EXECUTOR_STORE_ENDPOINT",
    "EXECUTOR_STORE_REGION",
    "EXECUTOR_STORE_AZURE_ACCOUNT",
    "EXECUTOR_STORE_CREDENTIALS_DIR",
    "EXECUTOR_STORE_CA_FILE",
    "EXECUTOR_STORE_FORCE_PATH_STYLE",
    "EXECUTOR_STORE_UNSIGNED_PAYLOAD",
    "EXECUTOR_STORE_MAX_RETRIES",
    "EXECUTOR_STORE_RETRY_TIMEOUT",
    "EXECUTOR_KEY",
    "EXECUTOR_KIND",
    "EXECUTOR_PART_SIZE",
    "EXECUTOR_UPLOAD_CONCURRENCY",
    "EXECUTOR_RETENTION",
    "EXECUTOR_RETENTION_TIME_ZONE",
    "EXECUTOR_EXPECTED_DIGEST",
    "EXECUTOR_FORCE",
    "EXECUTOR_DRY_RUN",
    "EXECUTOR_RESTORE_HEALTH_TIMEOUT",
    "EXECUTOR_SCRATCH_DIR",
];

/// Token, JWT, CA and credential files (some empty, some binary) in one temporary folder.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s.token-value\n").unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        std::fs::write(dir.path().join("binary"), [0u8, 255, 10, 13, 0]).unwrap();
        std::fs::write(
            dir.path().join("ca.pem"),
            "-----BEGIN CERTIFICATE-----\nzz\n",
        )
        .unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join(config::S3_ACCESS_KEY_FILE), "AKIA").unwrap();
        std::fs::write(creds.join(config::S3_SECRET_KEY_FILE), "secret").unwrap();
        std::fs::write(creds.join(config::GCS_SERVICE_ACCOUNT_FILE), "{not json").unwrap();
        std::fs::write(creds.join(config::AZURE_ACCOUNT_KEY_FILE), "a2V5").unwrap();
        Self { dir }
    }

    fn paths(&self) -> Vec<String> {
        ["token", "empty", "binary", "ca.pem", "creds", "missing", ""]
            .iter()
            .map(|name| self.dir.path().join(name).display().to_string())
            .collect()
    }
}

fn base(files: &Files) -> Vec<(&'static str, String)> {
    let path = |name: &str| files.dir.path().join(name).display().to_string();
    vec![
        ("EXECUTOR_NAMESPACE", "ns".into()),
        ("EXECUTOR_CLUSTER", "main".into()),
        (
            "EXECUTOR_OPENBAO_ADDR",
            "https://openbao.ns.svc:8200".into(),
        ),
        ("EXECUTOR_AUTH_TOKEN_FILE", path("token")),
        ("EXECUTOR_STORE_PROVIDER", "s3".into()),
        ("EXECUTOR_STORE_BUCKET", "snaps".into()),
        ("EXECUTOR_STORE_PATH_PREFIX", "prod".into()),
        ("EXECUTOR_STORE_CREDENTIALS_DIR", path("creds")),
        ("EXECUTOR_KEY", "latest".into()),
    ]
}

fn named_variable(error: &ConfigError) -> &'static str {
    match error {
        ConfigError::Missing(field) | ConfigError::Invalid { field, .. } => field,
    }
}

/// A Job's environment: the working base with some variables replaced, removed or added.
fn environment(files: &Files) -> impl Strategy<Value = Vec<(&'static str, Option<String>)>> {
    let changes: Vec<_> = VARIABLES
        .iter()
        .map(|name| {
            prop_oneof![
                6 => Just(None),
                1 => Just(Some(None)),
                3 => variable_value(name, files).prop_map(|value| Some(Some(value))),
            ]
            .prop_map(move |change| change.map(|value| (*name, value)))
        })
        .collect();
    changes.prop_map(|changes| changes.into_iter().flatten().collect())
}

#[test]
fn any_executor_environment_gets_a_verdict() {
    let files = Files::new();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(CASES));
    let strategy = (environment(&files), any::<bool>(), any::<bool>());
    runner
        .run(&strategy, |(changes, force, dry_run)| {
            let mut vars = base(&files);
            for (name, value) in changes {
                vars.retain(|(n, _)| *n != name);
                if let Some(value) = value {
                    vars.push((name, value));
                }
            }
            let env = Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())));
            match config::backup(&env) {
                Ok(backup) => {
                    prop_assert!((5 << 20..=512 << 20).contains(&backup.part_size));
                    prop_assert!((1..=64).contains(&backup.upload_concurrency));
                    if let Some(key) = &backup.key {
                        prop_assert!(backup.common.prefix.holds_snapshot(key), "{}", key);
                    }
                    // Whatever folder was accepted, the keys written into it are keys a restore accepts.
                    let written = backup.common.prefix.new_key(Utc::now(), backup.kind, 7);
                    prop_assert_eq!(snapshot_key_problem(&written), None, "{}", written);
                }
                Err(error) => prop_assert!(named_variable(&error).starts_with("EXECUTOR_")),
            }
            if let Err(error) = config::restore(&env, force, dry_run) {
                prop_assert!(named_variable(&error).starts_with("EXECUTOR_"));
            }
            Ok(())
        })
        .unwrap();
}

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s.token-value\n").unwrap();
        std::fs::write(dir.path().join("jwt"), "eyJ.jwt.value").unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join(S3_ACCESS_KEY_FILE), "AKIA").unwrap();
        std::fs::write(creds.join(S3_SECRET_KEY_FILE), "secret").unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn base(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EXECUTOR_NAMESPACE", "ns".into()),
            ("EXECUTOR_CLUSTER", "main".into()),
            (
                "EXECUTOR_OPENBAO_ADDR",
                "https://openbao.ns.svc:8200".into(),
            ),
            ("EXECUTOR_AUTH_TOKEN_FILE", self.path("token")),
            ("EXECUTOR_STORE_PROVIDER", "s3".into()),
            ("EXECUTOR_STORE_BUCKET", "snaps".into()),
            ("EXECUTOR_STORE_PATH_PREFIX", "prod".into()),
            ("EXECUTOR_STORE_CREDENTIALS_DIR", self.path("creds")),
        ]
    }

    fn env(&self, overrides: &[(&'static str, &str)]) -> Env {
        let mut vars: Vec<(&'static str, String)> = self.base();
        for (name, value) in overrides {
            vars.retain(|(n, _)| n != name);
            vars.push((name, (*value).to_owned()));
        }
        Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())))
    }
}

fn field_of(err: ConfigError) -> &'static str {
    match err {
        ConfigError::Missing(field) | ConfigError::Invalid { field, .. } => field,
    }
}

#[test]
fn minimal_backup_config_gets_defaults() {
    let fixture = Fixture::new();
    let config = backup(&fixture.env(&[])).unwrap();
    assert_eq!(config.kind, BackupKind::Manual);
    assert_eq!(config.part_size, 8 << 20);
    assert_eq!(config.upload_concurrency, 4);
    assert_eq!(config.retention, None);
    assert_eq!(config.common.prefix.as_str(), "prod/ns/main/");
    assert_eq!(
        config.common.report_path,
        PathBuf::from("/dev/termination-log")
    );
    assert_eq!(
        config.common.auth,
        AuthConfig::Token(SecretString::new("s.token-value"))
    );
    assert!(matches!(
        config.common.store.credentials,
        StoreCredentials::S3 {
            session_token: None,
            ..
        }
    ));
}

#[test]
fn each_bad_value_names_its_variable() {
    let fixture = Fixture::new();
    let cases: Vec<(&[(&'static str, &str)], &str)> = vec![
        (&[("EXECUTOR_CLUSTER", "")], "EXECUTOR_CLUSTER"),
        (&[("EXECUTOR_KIND", "hourly")], "EXECUTOR_KIND"),
        (&[("EXECUTOR_PART_SIZE", "1Mi")], "EXECUTOR_PART_SIZE"),
        (
            &[("EXECUTOR_UPLOAD_CONCURRENCY", "0")],
            "EXECUTOR_UPLOAD_CONCURRENCY",
        ),
        (
            &[("EXECUTOR_STORE_PROVIDER", "ftp")],
            "EXECUTOR_STORE_PROVIDER",
        ),
        (
            &[("EXECUTOR_STORE_PROVIDER", "azure")],
            "EXECUTOR_STORE_AZURE_ACCOUNT",
        ),
        (
            &[("EXECUTOR_RETENTION", "{\"maxAge\":\"3 months\"}")],
            "EXECUTOR_RETENTION",
        ),
        (
            &[("EXECUTOR_RETENTION", "{\"keepLast\":0}")],
            "EXECUTOR_RETENTION",
        ),
        (
            &[
                ("EXECUTOR_RETENTION_TIME_ZONE", "Mars/Olympus"),
                ("EXECUTOR_RETENTION", "{}"),
            ],
            "EXECUTOR_RETENTION_TIME_ZONE",
        ),
        (&[("EXECUTOR_KEY", "other/ns/main/x.snap")], "EXECUTOR_KEY"),
        (
            &[("EXECUTOR_AUTH_TOKEN_FILE", "/nonexistent/token")],
            "EXECUTOR_AUTH_TOKEN_FILE",
        ),
        (
            &[("EXECUTOR_STORE_CREDENTIALS_DIR", "/nonexistent")],
            "EXECUTOR_STORE_CREDENTIALS_DIR",
        ),
        (
            &[("EXECUTOR_STORE_RETRY_TIMEOUT", "soon")],
            "EXECUTOR_STORE_RETRY_TIMEOUT",
        ),
    ];
    for (overrides, field) in cases {
        let err = backup(&fixture.env(overrides)).unwrap_err();
        assert_eq!(field_of(err), field, "{overrides:?}");
    }
}

#[test]
fn jwt_and_token_are_mutually_exclusive() {
    let fixture = Fixture::new();
    let jwt = fixture.path("jwt");
    let both = fixture.env(&[
        ("EXECUTOR_AUTH_JWT_FILE", &jwt),
        ("EXECUTOR_AUTH_JWT_ROLE", "backup"),
    ]);
    assert_eq!(
        field_of(backup(&both).unwrap_err()),
        "EXECUTOR_AUTH_JWT_FILE"
    );

    let mut vars = fixture.base();
    vars.retain(|(k, _)| *k != "EXECUTOR_AUTH_TOKEN_FILE");
    vars.push(("EXECUTOR_AUTH_JWT_FILE", jwt));
    vars.push(("EXECUTOR_AUTH_JWT_ROLE", "backup".into()));
    vars.push(("EXECUTOR_AUTH_JWT_MOUNT", "/kubernetes-jwt/".into()));
    let config = backup(&Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())))).unwrap();
    assert_eq!(
        config.common.auth,
        AuthConfig::Jwt {
            mount: "kubernetes-jwt".into(),
            role: "backup".into(),
            jwt: SecretString::new("eyJ.jwt.value"),
        }
    );
}

#[test]
fn retention_json_is_the_crd_shape() {
    let fixture = Fixture::new();
    let env = fixture.env(&[
        (
            "EXECUTOR_RETENTION",
            r#"{"keepLast":5,"maxAge":"30d","keepDaily":7,"keepMonthly":3}"#,
        ),
        ("EXECUTOR_RETENTION_TIME_ZONE", "Europe/Berlin"),
    ]);
    let rules = backup(&env).unwrap().retention.unwrap();
    assert_eq!(rules.keep_last, Some(5));
    assert_eq!(rules.max_age, Some(chrono::Duration::days(30)));
    assert_eq!(rules.keep_daily, Some(7));
    assert_eq!(rules.keep_weekly, None);
    assert_eq!(rules.keep_monthly, Some(3));
    assert_eq!(rules.keep_pre_upgrade, Some(3), "CRD default");
    assert_eq!(rules.time_zone, chrono_tz::Europe::Berlin);
}

#[test]
fn restore_source_and_flags() {
    let fixture = Fixture::new();
    let latest = restore(&fixture.env(&[("EXECUTOR_KEY", "latest")]), false, false).unwrap();
    assert_eq!(latest.source, RestoreSource::Latest);
    assert!(!latest.force && !latest.dry_run);
    let key = "prod/ns/main/20260101T000000Z-manual-0000000a.snap";
    let by_key = restore(
        &fixture.env(&[("EXECUTOR_KEY", key), ("EXECUTOR_FORCE", "true")]),
        false,
        true,
    )
    .unwrap();
    assert_eq!(by_key.source, RestoreSource::Key(key.into()));
    assert!(by_key.force && by_key.dry_run);
    let missing = restore(&fixture.env(&[]), false, false).unwrap_err();
    assert_eq!(field_of(missing), "EXECUTOR_KEY");
}

#[test]
fn payload_signing_stays_on_for_plain_http_unless_asked() {
    let fixture = Fixture::new();
    let aws = backup(&fixture.env(&[])).unwrap();
    assert!(
        aws.common.store.unsigned_payload,
        "default endpoint is HTTPS"
    );
    let http = backup(&fixture.env(&[("EXECUTOR_STORE_ENDPOINT", "http://minio:9000")])).unwrap();
    assert!(!http.common.store.unsigned_payload);
    let forced = backup(&fixture.env(&[
        ("EXECUTOR_STORE_ENDPOINT", "http://minio:9000"),
        ("EXECUTOR_STORE_UNSIGNED_PAYLOAD", "true"),
    ]))
    .unwrap();
    assert!(forced.common.store.unsigned_payload);
}

#[test]
fn force_may_name_another_clusters_folder_but_only_a_plain_snap_key() {
    let fixture = Fixture::new();
    let foreign = "prod/other-ns/other/20260101T000000Z-manual-0000000a.snap";
    let unforced = restore(&fixture.env(&[("EXECUTOR_KEY", foreign)]), false, false).unwrap_err();
    assert_eq!(field_of(unforced), "EXECUTOR_KEY");
    let by_env = restore(
        &fixture.env(&[("EXECUTOR_KEY", foreign), ("EXECUTOR_FORCE", "true")]),
        false,
        false,
    )
    .unwrap();
    assert_eq!(by_env.source, RestoreSource::Key(foreign.into()));
    let by_flag = restore(&fixture.env(&[("EXECUTOR_KEY", foreign)]), true, true).unwrap();
    assert_eq!(by_flag.source, RestoreSource::Key(foreign.into()));
    assert!(by_flag.force && by_flag.dry_run);
    // `latest` stays this cluster's own folder.
    let latest = restore(&fixture.env(&[("EXECUTOR_KEY", "latest")]), true, false).unwrap();
    assert_eq!(latest.source, RestoreSource::Latest);

    for bad in [
        "prod/other-ns/other/x.snap.json",
        "prod/other-ns/other/",
        "/prod/other-ns/other/x.snap",
        "prod//other/x.snap",
        "prod/ns/main/../../other-ns/other/x.snap",
        "prod/./other/x.snap",
    ] {
        let err = restore(&fixture.env(&[("EXECUTOR_KEY", bad)]), true, false).unwrap_err();
        let message = err.to_string();
        assert_eq!(field_of(err), "EXECUTOR_KEY", "{bad}");
        assert!(message.contains("not a snapshot key"), "{bad}: {message}");
    }
}

#[test]
fn the_expected_digest_is_optional_and_strictly_formed() {
    let fixture = Fixture::new();
    let key = "prod/ns/main/20260101T000000Z-manual-0000000a.snap";
    let unpinned = restore(&fixture.env(&[("EXECUTOR_KEY", key)]), false, false).unwrap();
    assert_eq!(unpinned.expected_digest, None);
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let pinned = restore(
        &fixture.env(&[("EXECUTOR_KEY", key), ("EXECUTOR_EXPECTED_DIGEST", &digest)]),
        false,
        true,
    )
    .unwrap();
    assert_eq!(
        pinned.expected_digest.as_ref().map(|d| d.as_str()),
        Some(digest.as_str())
    );
    for bad in [
        "0123456789abcdef".repeat(4),
        format!("sha256:{}", "0123456789ABCDEF".repeat(4)),
        format!("sha256:{}", "0123456789abcdef".repeat(3)),
        format!("md5:{}", "0123456789abcdef".repeat(2)),
        "latest".to_owned(),
    ] {
        let err = restore(
            &fixture.env(&[("EXECUTOR_KEY", key), ("EXECUTOR_EXPECTED_DIGEST", &bad)]),
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(field_of(err), "EXECUTOR_EXPECTED_DIGEST", "{bad}");
    }
}

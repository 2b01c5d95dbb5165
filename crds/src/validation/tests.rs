//! Table-driven checks: each spec written as the YAML a user would apply.

use chrono::Duration;

use super::*;
use crate::schedule::CronExpression;

const BACKUP_OK: &str = r#"
version: 2.4.1
backup:
  schedule: "0 3 * * 1-5"
  timeZone: Europe/Berlin
  jitterSeconds: 600
  target:
    provider: s3
    bucket: openbao-snapshots
    credentialsSecretRef:
      name: s3-credentials
  auth:
    tokenSecretRef:
      name: openbao-backup-token
  retention:
    keepLast: 7
    maxAge: 30d
"#;

fn cluster_spec(yaml: &str) -> OpenBaoClusterSpec {
    serde_norway::from_str(yaml)
        .unwrap_or_else(|error| panic!("test spec does not parse: {error}\n{yaml}"))
}

fn restore_spec(yaml: &str) -> OpenBaoRestoreSpec {
    serde_norway::from_str(yaml)
        .unwrap_or_else(|error| panic!("test spec does not parse: {error}\n{yaml}"))
}

/// `BACKUP_OK` with one line replaced, so each bad case differs from the good spec in one place.
fn backup_with(from: &str, to: &str) -> OpenBaoClusterSpec {
    assert!(BACKUP_OK.contains(from), "{from:?} is not in the base spec");
    cluster_spec(&BACKUP_OK.replacen(from, to, 1))
}

fn problems(errors: &FieldErrors) -> Vec<(&str, FieldReason)> {
    errors
        .iter()
        .map(|error| (error.field.as_str(), error.reason))
        .collect()
}

#[test]
fn valid_backup_spec_yields_typed_config() {
    let config = validate_cluster_spec(&cluster_spec(BACKUP_OK))
        .expect("valid spec")
        .expect("backup is configured");
    assert_eq!(
        config.schedule.expression(),
        &CronExpression::parse("0 3 * * 1-5").expect("valid")
    );
    assert_eq!(config.schedule.time_zone(), chrono_tz::Europe::Berlin);
    assert!(!config.suspend);
    assert_eq!(config.max_jitter_seconds, 600);
    assert_eq!(config.starting_deadline, Duration::seconds(3600));
    assert_eq!(config.timeout, Duration::seconds(1800));
    assert_eq!(
        config.max_age.map(HumanDuration::as_seconds),
        Some(30 * 24 * 3600)
    );
    assert_eq!(
        config.jitter_for("team-a", "openbao"),
        jitter("team-a", "openbao", 600)
    );
}

#[test]
fn valid_cluster_specs() {
    let table: &[(&str, OpenBaoClusterSpec)] = &[
        ("no backup", cluster_spec("version: 2.4.1")),
        (
            "no backup, pre-upgrade snapshot off",
            cluster_spec("version: 2.4.1\nupgrade:\n  preUpgradeSnapshot: false"),
        ),
        (
            "macro schedule",
            backup_with("\"0 3 * * 1-5\"", "\"@daily\""),
        ),
        (
            "default time zone",
            backup_with("  timeZone: Europe/Berlin\n", ""),
        ),
        ("no retention max age", backup_with("    maxAge: 30d\n", "")),
        (
            "combined max age",
            backup_with("maxAge: 30d", "maxAge: 1w2d12h"),
        ),
        (
            "jwt auth",
            backup_with(
                "    tokenSecretRef:\n      name: openbao-backup-token\n",
                "    jwt:\n      role: backup\n",
            ),
        ),
        (
            "workload identity",
            backup_with(
                "    credentialsSecretRef:\n      name: s3-credentials\n",
                "",
            ),
        ),
        (
            "credentials named like a root CA",
            backup_with("name: s3-credentials", "name: root-ca"),
        ),
        (
            "suspended",
            backup_with(
                "  jitterSeconds: 600\n",
                "  jitterSeconds: 600\n  suspend: true\n",
            ),
        ),
    ];
    for (name, spec) in table {
        assert!(
            validate_cluster_spec(spec).is_ok(),
            "{name}: {:?}",
            validate_cluster_spec(spec)
        );
    }
}

#[test]
fn invalid_cluster_specs_name_field_and_reason() {
    let table: &[(&str, OpenBaoClusterSpec, &str, FieldReason, &str)] = &[
        (
            "six-field schedule",
            backup_with("\"0 3 * * 1-5\"", "\"0 0 3 * * *\""),
            "spec.backup.schedule",
            FieldReason::InvalidSchedule,
            "5 are expected",
        ),
        (
            "day-of-week out of range",
            backup_with("\"0 3 * * 1-5\"", "\"0 3 * * 9\""),
            "spec.backup.schedule",
            FieldReason::InvalidSchedule,
            "day-of-week",
        ),
        (
            "unknown macro",
            backup_with("\"0 3 * * 1-5\"", "\"@reboot\""),
            "spec.backup.schedule",
            FieldReason::InvalidSchedule,
            "@hourly",
        ),
        (
            "a provider block for another provider",
            backup_with(
                "bucket: openbao-snapshots",
                "bucket: openbao-snapshots\n    gcs: {}",
            ),
            "spec.backup.target.gcs",
            FieldReason::ConflictingFields,
            "does not apply to provider s3",
        ),
        (
            "azure without a storage account",
            backup_with("provider: s3", "provider: azure"),
            "spec.backup.target.azure.storageAccount",
            FieldReason::MissingRequiredField,
            "azure.storageAccount",
        ),
        (
            "unknown time zone",
            backup_with("timeZone: Europe/Berlin", "timeZone: Europe/Atlantis"),
            "spec.backup.timeZone",
            FieldReason::InvalidTimeZone,
            "not an IANA time zone name",
        ),
        (
            "max age without unit",
            backup_with("maxAge: 30d", "maxAge: \"30\""),
            "spec.backup.retention.maxAge",
            FieldReason::InvalidDuration,
            "without a unit",
        ),
        (
            "max age in years",
            backup_with("maxAge: 30d", "maxAge: 1y"),
            "spec.backup.retention.maxAge",
            FieldReason::InvalidDuration,
            "365d",
        ),
        (
            "jitter above the bound",
            backup_with("jitterSeconds: 600", "jitterSeconds: 7200"),
            "spec.backup.jitterSeconds",
            FieldReason::InvalidValue,
            "between 0 and 3600",
        ),
        (
            "negative jitter",
            backup_with("jitterSeconds: 600", "jitterSeconds: -1"),
            "spec.backup.jitterSeconds",
            FieldReason::InvalidValue,
            "got -1",
        ),
        (
            "zero starting deadline",
            backup_with(
                "jitterSeconds: 600",
                "jitterSeconds: 600\n  startingDeadlineSeconds: 0",
            ),
            "spec.backup.startingDeadlineSeconds",
            FieldReason::InvalidValue,
            "startingDeadlineSeconds must be between 1",
        ),
        (
            "timeout below a minute",
            backup_with(
                "jitterSeconds: 600",
                "jitterSeconds: 600\n  timeoutSeconds: 10",
            ),
            "spec.backup.timeoutSeconds",
            FieldReason::InvalidValue,
            "timeoutSeconds must be between 60",
        ),
        (
            "store endpoint at the cloud metadata service",
            backup_with(
                "bucket: openbao-snapshots",
                "bucket: openbao-snapshots\n    s3:\n      endpoint: https://169.254.169.254/latest",
            ),
            "spec.backup.target.s3.endpoint",
            FieldReason::ForbiddenEndpoint,
            "link-local",
        ),
        (
            "OpenBao endpoint at the GCE metadata server",
            backup_with(
                "version: 2.4.1",
                "version: 2.4.1\nendpoint: https://metadata.google.internal",
            ),
            "spec.endpoint",
            FieldReason::ForbiddenEndpoint,
            "cloud metadata service",
        ),
        (
            "plain http OpenBao endpoint without the opt-in",
            backup_with(
                "version: 2.4.1",
                "version: 2.4.1\nendpoint: http://openbao.security.svc:8200",
            ),
            "spec.endpoint",
            FieldReason::PlainHttpNotAllowed,
            "allowPlainHttp",
        ),
        (
            "plain http store endpoint without the opt-in",
            backup_with(
                "bucket: openbao-snapshots",
                "bucket: openbao-snapshots\n    s3:\n      endpoint: HTTP://minio.storage.svc:9000",
            ),
            "spec.backup.target.s3.endpoint",
            FieldReason::PlainHttpNotAllowed,
            "unencrypted",
        ),
        (
            "token secret named root-token",
            backup_with("name: openbao-backup-token", "name: root-token"),
            "spec.backup.auth.tokenSecretRef.name",
            FieldReason::ForbiddenSecretReference,
            "looks like a root token",
        ),
        (
            "token secret from helm-style init",
            backup_with("name: openbao-backup-token", "name: openbao-init"),
            "spec.backup.auth.tokenSecretRef.name",
            FieldReason::ForbiddenSecretReference,
            "`operator init` output",
        ),
        (
            "token secret holding unseal keys",
            backup_with("name: openbao-backup-token", "name: openbao-unseal-keys"),
            "spec.backup.auth.tokenSecretRef.name",
            FieldReason::ForbiddenSecretReference,
            "unseal keys",
        ),
        (
            "token key root_token",
            backup_with(
                "name: openbao-backup-token",
                "name: openbao-backup-token\n      key: root_token",
            ),
            "spec.backup.auth.tokenSecretRef.key",
            FieldReason::ForbiddenSecretReference,
            "key \"root_token\" looks like a root token",
        ),
        (
            "object-store credentials from the recovery keys Secret",
            backup_with("name: s3-credentials", "name: recovery-keys"),
            "spec.backup.target.credentialsSecretRef.name",
            FieldReason::ForbiddenSecretReference,
            "recovery keys",
        ),
        (
            "both auth methods",
            backup_with(
                "    tokenSecretRef:\n",
                "    jwt:\n      role: backup\n    tokenSecretRef:\n",
            ),
            "spec.backup.auth",
            FieldReason::ConflictingFields,
            "exactly one auth method",
        ),
        (
            "no auth method",
            backup_with(
                "    tokenSecretRef:\n      name: openbao-backup-token\n",
                "    {}\n",
            ),
            "spec.backup.auth",
            FieldReason::MissingRequiredField,
            "set an auth method",
        ),
        (
            "pre-upgrade snapshot without backup",
            cluster_spec("version: 2.4.1\nupgrade:\n  preUpgradeSnapshot: true"),
            "spec.upgrade.preUpgradeSnapshot",
            FieldReason::MissingRequiredField,
            "needs spec.backup",
        ),
    ];
    for (name, spec, field, reason, fragment) in table {
        let errors = validate_cluster_spec(spec).expect_err(name);
        assert_eq!(
            problems(&errors),
            vec![(*field, *reason)],
            "{name}: {errors}"
        );
        let message = &errors.iter().next().expect("one error").message;
        assert!(message.contains(fragment), "{name}: {message}");
    }
}

#[test]
fn every_cluster_problem_is_reported_at_once() {
    let yaml = BACKUP_OK
        .replacen("\"0 3 * * 1-5\"", "\"0 3 * *\"", 1)
        .replacen("timeZone: Europe/Berlin", "timeZone: CEST", 1)
        .replacen("maxAge: 30d", "maxAge: 0d", 1)
        .replacen("name: openbao-backup-token", "name: root", 1);
    let errors = validate_cluster_spec(&cluster_spec(&yaml)).expect_err("four problems");
    assert_eq!(
        problems(&errors),
        vec![
            ("spec.backup.schedule", FieldReason::InvalidSchedule),
            ("spec.backup.timeZone", FieldReason::InvalidTimeZone),
            ("spec.backup.retention.maxAge", FieldReason::InvalidDuration),
            (
                "spec.backup.auth.tokenSecretRef.name",
                FieldReason::ForbiddenSecretReference
            ),
        ]
    );
    assert_eq!(errors.reason(), Some(FieldReason::InvalidSchedule));
    let text = errors.to_string();
    assert!(text.starts_with("spec.backup.schedule: "), "{text}");
    assert!(text.contains("; spec.backup.timeZone: "), "{text}");
}

const RESTORE_OK: &str = r#"
cluster: openbao
source:
  latest: true
auth:
  jwt:
    role: restore
"#;

fn restore_with(from: &str, to: &str) -> OpenBaoRestoreSpec {
    assert!(
        RESTORE_OK.contains(from),
        "{from:?} is not in the base spec"
    );
    restore_spec(&RESTORE_OK.replacen(from, to, 1))
}

#[test]
fn valid_restore_specs() {
    let table: &[(&str, OpenBaoRestoreSpec)] = &[
        ("latest with jwt", restore_spec(RESTORE_OK)),
        (
            "explicit key",
            restore_with(
                "latest: true",
                "key: prod/ns/openbao/20260502T030000Z-scheduled-0a1b2c3d.snap",
            ),
        ),
        (
            "forced",
            restore_with("cluster: openbao", "cluster: openbao\nforce: true"),
        ),
        (
            "forced with lock override",
            restore_with(
                "cluster: openbao",
                "cluster: openbao\nforce: true\noverrideOperationLock: true",
            ),
        ),
        (
            "dry run",
            restore_with("cluster: openbao", "cluster: openbao\ndryRun: true"),
        ),
        (
            "token auth with a dedicated Secret",
            restore_with(
                "  jwt:\n    role: restore\n",
                "  tokenSecretRef:\n    name: openbao-restore-token\n",
            ),
        ),
        (
            "other target with normal credentials",
            restore_with(
                "  latest: true\n",
                "  latest: true\n  target:\n    provider: gcs\n    bucket: dr-snapshots\n    credentialsSecretRef:\n      name: gcs-service-account\n",
            ),
        ),
    ];
    for (name, spec) in table {
        assert_eq!(validate_restore_spec(spec), Ok(()), "{name}");
    }
}

#[test]
fn invalid_restore_specs_name_field_and_reason() {
    let table: &[(&str, OpenBaoRestoreSpec, &str, FieldReason, &str)] = &[
        (
            "lock override without force",
            restore_with(
                "cluster: openbao",
                "cluster: openbao\noverrideOperationLock: true",
            ),
            "spec.overrideOperationLock",
            FieldReason::MissingRequiredField,
            "requires force: true",
        ),
        (
            "restore token from the root token Secret",
            restore_with(
                "  jwt:\n    role: restore\n",
                "  tokenSecretRef:\n    name: openbao-root-token\n",
            ),
            "spec.auth.tokenSecretRef.name",
            FieldReason::ForbiddenSecretReference,
            "looks like a root token",
        ),
        (
            "restore token key from init output",
            restore_with(
                "  jwt:\n    role: restore\n",
                "  tokenSecretRef:\n    name: dr-credentials\n    key: init-output\n",
            ),
            "spec.auth.tokenSecretRef.key",
            FieldReason::ForbiddenSecretReference,
            "`operator init` output",
        ),
        (
            "source target credentials from unseal keys",
            restore_with(
                "  latest: true\n",
                "  latest: true\n  target:\n    provider: s3\n    bucket: dr-snapshots\n    credentialsSecretRef:\n      name: unseal-keys\n",
            ),
            "spec.source.target.credentialsSecretRef.name",
            FieldReason::ForbiddenSecretReference,
            "unseal keys",
        ),
        (
            "both key and latest",
            restore_with("latest: true", "latest: true\n  key: a/b.snap"),
            "spec.source",
            FieldReason::ConflictingFields,
            "not both",
        ),
        (
            "neither key nor latest",
            restore_with("  latest: true\n", "  {}\n"),
            "spec.source",
            FieldReason::MissingRequiredField,
            "source.latest: true",
        ),
        (
            "latest false",
            restore_with("latest: true", "latest: false"),
            "spec.source.latest",
            FieldReason::InvalidValue,
            "must be true",
        ),
        (
            "both auth methods",
            restore_with(
                "  jwt:\n",
                "  tokenSecretRef:\n    name: openbao-restore-token\n  jwt:\n",
            ),
            "spec.auth",
            FieldReason::ConflictingFields,
            "exactly one auth method",
        ),
    ];
    for (name, spec, field, reason, fragment) in table {
        let errors = validate_restore_spec(spec).expect_err(name);
        assert_eq!(
            problems(&errors),
            vec![(*field, *reason)],
            "{name}: {errors}"
        );
        let message = &errors.iter().next().expect("one error").message;
        assert!(message.contains(fragment), "{name}: {message}");
    }
}

#[test]
fn every_restore_problem_is_reported_at_once() {
    let spec = restore_with(
        "cluster: openbao\nsource:\n  latest: true\nauth:\n  jwt:\n    role: restore\n",
        "cluster: openbao\noverrideOperationLock: true\nsource:\n  latest: false\nauth:\n  tokenSecretRef:\n    name: root\n",
    );
    let errors = validate_restore_spec(&spec).expect_err("three problems");
    assert_eq!(
        problems(&errors),
        vec![
            ("spec.source.latest", FieldReason::InvalidValue),
            (
                "spec.auth.tokenSecretRef.name",
                FieldReason::ForbiddenSecretReference
            ),
            (
                "spec.overrideOperationLock",
                FieldReason::MissingRequiredField
            ),
        ]
    );
}

#[test]
fn plain_http_endpoints_are_accepted_with_the_opt_in_and_listed_for_the_warning() {
    let spec = backup_with(
        "version: 2.4.1",
        "version: 2.4.1\nallowPlainHttp: true\nendpoint: http://127.0.0.1:8200",
    );
    validate_cluster_spec(&spec).expect("accepted with allowPlainHttp");
    assert_eq!(
        crate::validation::plain_http_endpoints(&spec),
        ["http://127.0.0.1:8200"]
    );
    let https = backup_with(
        "version: 2.4.1",
        "version: 2.4.1\nendpoint: https://openbao:8200",
    );
    assert!(crate::validation::plain_http_endpoints(&https).is_empty());
}

#[test]
fn leader_hosts_are_host_rules_that_spare_the_metadata_service() {
    let mut spec = cluster_spec("version: 2.7.2");
    spec.leader_hosts = vec![
        "10.244.0.0/16".into(),
        "*.openbao-internal.security.svc".into(),
        "openbao-0".into(),
    ];
    assert!(validate_cluster_spec(&spec).is_ok());
    spec.leader_hosts = vec![
        "10.244.0.0/16".into(),
        "169.254.0.0/16".into(),
        "not a host".into(),
    ];
    let errors = validate_cluster_spec(&spec).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["spec.leaderHosts[1]", "spec.leaderHosts[2]"]);
    assert!(
        errors
            .iter()
            .all(|e| e.reason == FieldReason::ForbiddenEndpoint)
    );
}

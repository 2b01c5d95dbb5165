//! Semantic checks the CRD schema cannot express, run by the operator before it acts on a spec.
//!
//! The schema and CEL rules already refuse most malformed objects at admission, but objects can predate a rule,
//! come from a cluster without CEL support, or be checked offline; so the rules that matter for safety are
//! checked again here. Every problem is reported at once, each with the JSON path of its field and a stable
//! [`FieldReason`], ready to become a condition.

mod endpoints;
pub mod leader_hosts;
#[cfg(test)]
mod properties;
mod secret_names;

use chrono::Duration;

use crate::auth::AuthSpec;
use crate::backup::BackupSpec;
use crate::backup_target::{BackupTarget, StorageProvider};
use crate::cluster::OpenBaoClusterSpec;
use crate::duration::HumanDuration;
use crate::field_error::{FieldError, FieldErrors, FieldProblem, FieldReason};
use crate::restore::OpenBaoRestoreSpec;
use crate::schedule::{BackupSchedule, CronExpression, jitter, parse_time_zone};

pub use endpoints::{forbidden_endpoint, is_plain_http, plain_http_endpoints};
pub use secret_names::root_or_unseal_material;

/// Largest `jitterSeconds` the operator accepts; matches the schema bound.
pub const MAX_JITTER_SECONDS: i32 = 3600;

/// `spec.backup` after validation, in the types the backup actor works with.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedBackupConfig {
    pub schedule: BackupSchedule,
    pub suspend: bool,
    pub max_jitter_seconds: u32,
    pub starting_deadline: Duration,
    pub timeout: Duration,
    /// `retention.maxAge`, if set.
    pub max_age: Option<HumanDuration>,
}

impl ValidatedBackupConfig {
    /// The cluster's stable offset from each scheduled time.
    pub fn jitter_for(&self, namespace: &str, name: &str) -> Duration {
        jitter(namespace, name, self.max_jitter_seconds)
    }
}

/// Checks an `OpenBaoCluster` spec. `Ok(None)` means valid without `spec.backup` (no scheduled backups).
pub fn validate_cluster_spec(
    spec: &OpenBaoClusterSpec,
) -> Result<Option<ValidatedBackupConfig>, FieldErrors> {
    let mut errors = FieldErrors::new();
    if let Some(endpoint) = &spec.endpoint {
        check_endpoint(
            endpoint,
            "spec.endpoint",
            spec.allow_plain_http,
            &mut errors,
        );
    }
    for (index, entry) in spec.leader_hosts.iter().enumerate() {
        let problem = leader_hosts::HostRule::parse(entry)
            .and_then(|rule| rule.forbidden().map_or(Ok(()), Err));
        if let Err(problem) = problem {
            errors.push(FieldError::new(
                format!("spec.leaderHosts[{index}]"),
                FieldReason::ForbiddenEndpoint,
                format!("{problem}; executors send their OpenBao token to the leader they follow"),
            ));
        }
    }
    let backup = spec
        .backup
        .as_ref()
        .and_then(|backup| validate_backup(backup, spec.allow_plain_http, &mut errors));

    let wants_pre_upgrade_snapshot = spec
        .upgrade
        .as_ref()
        .and_then(|upgrade| upgrade.pre_upgrade_snapshot);
    if spec.backup.is_none() && wants_pre_upgrade_snapshot == Some(true) {
        errors.push(FieldError::new(
            "spec.upgrade.preUpgradeSnapshot",
            FieldReason::MissingRequiredField,
            "preUpgradeSnapshot needs spec.backup (target and auth) to write the snapshot; configure spec.backup \
             or set preUpgradeSnapshot: false",
        ));
    }
    errors.into_result(backup)
}

/// Checks an `OpenBaoRestore` spec.
pub fn validate_restore_spec(spec: &OpenBaoRestoreSpec) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();

    match (&spec.source.key, spec.source.latest) {
        (Some(_), Some(_)) => errors.push(FieldError::new(
            "spec.source",
            FieldReason::ConflictingFields,
            "set exactly one of source.key or source.latest, not both",
        )),
        (None, None) => errors.push(FieldError::new(
            "spec.source",
            FieldReason::MissingRequiredField,
            "set source.key to a snapshot key or source.latest: true",
        )),
        (None, Some(false)) => errors.push(FieldError::new(
            "spec.source.latest",
            FieldReason::InvalidValue,
            "source.latest must be true when set; use source.key to pick a snapshot",
        )),
        (Some(_), None) | (None, Some(true)) => {}
    }
    if let Some(target) = &spec.source.target {
        // Plain HTTP is the target cluster's decision (`spec.allowPlainHttp`); the restore actor checks it.
        check_target(target, "spec.source.target", true, &mut errors);
    }
    check_auth(&spec.auth, "spec.auth", &mut errors);
    if spec.override_operation_lock && !spec.force {
        errors.push(FieldError::new(
            "spec.overrideOperationLock",
            FieldReason::MissingRequiredField,
            "overrideOperationLock requires force: true; overriding another operation's lock is only allowed for \
             a forced restore",
        ));
    }
    errors.into_result(())
}

fn validate_backup(
    backup: &BackupSpec,
    allow_plain_http: bool,
    errors: &mut FieldErrors,
) -> Option<ValidatedBackupConfig> {
    let expression = errors
        .collect(CronExpression::parse(&backup.schedule).map_err(|e| e.at("spec.backup.schedule")));
    let time_zone = errors
        .collect(parse_time_zone(&backup.time_zone).map_err(|e| e.at("spec.backup.timeZone")));

    let max_jitter_seconds = match u32::try_from(backup.jitter_seconds) {
        Ok(seconds) if backup.jitter_seconds <= MAX_JITTER_SECONDS => Some(seconds),
        _ => {
            errors.push(FieldError::new(
                "spec.backup.jitterSeconds",
                FieldReason::InvalidValue,
                format!(
                    "jitterSeconds must be between 0 and {MAX_JITTER_SECONDS}, got {}",
                    backup.jitter_seconds
                ),
            ));
            None
        }
    };
    let starting_deadline = positive_seconds(
        backup.starting_deadline_seconds,
        1,
        "spec.backup.startingDeadlineSeconds",
        errors,
    );
    let timeout = positive_seconds(
        backup.timeout_seconds,
        60,
        "spec.backup.timeoutSeconds",
        errors,
    );

    let max_age = match backup
        .retention
        .as_ref()
        .and_then(|retention| retention.max_age.as_deref())
    {
        Some(text) => errors
            .collect(HumanDuration::parse_field(
                text,
                "spec.backup.retention.maxAge",
            ))
            .map(Some),
        None => Some(None),
    };

    check_target(
        &backup.target,
        "spec.backup.target",
        allow_plain_http,
        errors,
    );
    check_auth(&backup.auth, "spec.backup.auth", errors);

    Some(ValidatedBackupConfig {
        schedule: BackupSchedule::new(expression?, time_zone?),
        suspend: backup.suspend,
        max_jitter_seconds: max_jitter_seconds?,
        starting_deadline: starting_deadline?,
        timeout: timeout?,
        max_age: max_age?,
    })
}

fn positive_seconds(
    value: i64,
    minimum: i64,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<Duration> {
    // Above a century the value is a mistake, and chrono's range is not a concern.
    const MAXIMUM: i64 = 100 * 366 * 24 * 3600;
    if (minimum..=MAXIMUM).contains(&value) {
        return Some(Duration::seconds(value));
    }
    let name = field.rsplit('.').next().unwrap_or(field);
    errors.push(FieldError::new(
        field,
        FieldReason::InvalidValue,
        format!("{name} must be between {minimum} and {MAXIMUM} seconds, got {value}"),
    ));
    None
}

fn check_auth(auth: &AuthSpec, field: &str, errors: &mut FieldErrors) {
    match (&auth.jwt, &auth.token_secret_ref) {
        (Some(_), Some(_)) => errors.push(FieldError::new(
            field,
            FieldReason::ConflictingFields,
            "set exactly one auth method: jwt or tokenSecretRef, not both",
        )),
        (None, None) => errors.push(FieldError::new(
            field,
            FieldReason::MissingRequiredField,
            "set an auth method: jwt (a dedicated role bound to the Job's ServiceAccount) or tokenSecretRef",
        )),
        (None, Some(token)) => {
            check_secret_identifier(&token.name, &format!("{field}.tokenSecretRef.name"), "Secret", errors);
            check_secret_identifier(&token.key, &format!("{field}.tokenSecretRef.key"), "key", errors);
        }
        (Some(_), None) => {}
    }
}

fn check_target(
    target: &BackupTarget,
    field: &str,
    allow_plain_http: bool,
    errors: &mut FieldErrors,
) {
    let blocks = [
        (StorageProvider::S3, target.s3.is_some()),
        (StorageProvider::Gcs, target.gcs.is_some()),
        (StorageProvider::Azure, target.azure.is_some()),
    ];
    for (provider, set) in blocks {
        if set && provider != target.provider {
            errors.push(FieldError::new(
                format!("{field}.{provider}"),
                FieldReason::ConflictingFields,
                format!(
                    "the {provider} block does not apply to provider {}; remove it or set provider: {provider}",
                    target.provider
                ),
            ));
        }
    }
    if target.provider == StorageProvider::Azure
        && target
            .azure
            .as_ref()
            .is_none_or(|azure| azure.storage_account.trim().is_empty())
    {
        errors.push(FieldError::new(
            format!("{field}.azure.storageAccount"),
            FieldReason::MissingRequiredField,
            "provider azure needs azure.storageAccount (the storage account that holds the container)",
        ));
    }
    let endpoints = [
        (
            "s3",
            target.s3.as_ref().and_then(|s3| s3.endpoint.as_deref()),
        ),
        (
            "gcs",
            target.gcs.as_ref().and_then(|gcs| gcs.endpoint.as_deref()),
        ),
        (
            "azure",
            target
                .azure
                .as_ref()
                .and_then(|azure| azure.endpoint.as_deref()),
        ),
    ];
    for (block, endpoint) in endpoints {
        if let Some(endpoint) = endpoint {
            check_endpoint(
                endpoint,
                &format!("{field}.{block}.endpoint"),
                allow_plain_http,
                errors,
            );
        }
    }
    if let Some(credentials) = &target.credentials_secret_ref {
        check_secret_identifier(
            &credentials.name,
            &format!("{field}.credentialsSecretRef.name"),
            "Secret",
            errors,
        );
    }
}

fn check_endpoint(endpoint: &str, field: &str, allow_plain_http: bool, errors: &mut FieldErrors) {
    if !allow_plain_http && is_plain_http(endpoint) {
        errors.push(FieldError::new(
            field,
            FieldReason::PlainHttpNotAllowed,
            format!(
                "{endpoint} is plain http://: credentials would travel unencrypted; use https://, or set \
                 spec.allowPlainHttp: true for a test or trusted network"
            ),
        ));
    }
    if let Some(why) = forbidden_endpoint(endpoint) {
        errors.push(FieldError::new(
            field,
            FieldReason::ForbiddenEndpoint,
            format!("{why}; executors send credentials to this endpoint, so it must be the service itself"),
        ));
    }
}

fn check_secret_identifier(identifier: &str, field: &str, what: &str, errors: &mut FieldErrors) {
    if let Some(looks_like) = root_or_unseal_material(identifier) {
        errors.push(FieldError::new(
            field,
            FieldReason::ForbiddenSecretReference,
            format!(
                "{what} {identifier:?} looks like {looks_like}; backups and restores must use a dedicated identity \
                 (a jwt role or a token with only the snapshot policy) stored under a different name"
            ),
        ));
    }
}

#[cfg(test)]
mod tests;

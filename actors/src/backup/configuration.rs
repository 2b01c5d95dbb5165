//! `BackupConfigurationReady`: whether `spec.backup` can be acted on. Pure: spec in, verdict and condition out.
//!
//! The CRD schema and CEL rules refuse most bad specs at admission, but an object can predate a rule or come from
//! an API server without CEL, so the operator re-checks with [`validate_cluster_spec`]. An invalid spec schedules
//! nothing and starts nothing (manual triggers stay queued) until it is fixed: a backup built from a spec the
//! operator refused would only fail later, less clearly, and each attempt would take the operation lock.

use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};
use openbao_crds::field_error::FieldErrors;
use openbao_crds::validation::{ValidatedBackupConfig, validate_cluster_spec};
use openbao_crds::{OpenBaoCluster, OpenBaoClusterSpec};

use crate::effects::{ConditionReason, ConditionUpdate};

#[derive(Debug, Clone, PartialEq)]
pub enum Configuration {
    NotConfigured,
    Valid(Box<ValidatedBackupConfig>),
    Invalid(FieldErrors),
}

impl Configuration {
    pub fn assess(spec: &OpenBaoClusterSpec) -> Self {
        match validate_cluster_spec(spec) {
            Err(errors) => Self::Invalid(errors),
            Ok(Some(config)) => Self::Valid(Box::new(config)),
            Ok(None) => Self::NotConfigured,
        }
    }

    /// The checked `spec.backup`, when backups (scheduled, manual, pre-upgrade) may start.
    pub fn usable(&self) -> Option<&ValidatedBackupConfig> {
        match self {
            Self::Valid(config) => Some(config),
            _ => None,
        }
    }

    pub fn is_usable(&self) -> bool {
        self.usable().is_some()
    }

    pub fn condition(&self) -> ConditionUpdate {
        let (status, reason, message) = match self {
            Self::Valid(_) => (
                ConditionStatus::True,
                ClusterConditionReason::ConfigurationValid.into(),
                "spec.backup is valid".to_string(),
            ),
            Self::NotConfigured => (
                ConditionStatus::False,
                ClusterConditionReason::BackupNotConfigured.into(),
                "spec.backup is not set: no backups are taken".to_string(),
            ),
            Self::Invalid(errors) => (
                ConditionStatus::False,
                errors.reason().map_or(
                    ClusterConditionReason::BackupNotConfigured.into(),
                    ConditionReason::Field,
                ),
                format!("no backups until fixed: {errors}"),
            ),
        };
        ConditionUpdate {
            type_: ClusterConditionType::BackupConfigurationReady,
            status,
            reason,
            message,
        }
    }
}

/// A condition as status shows it (strings), to tell whether a write would change anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PublishedCondition {
    pub(crate) status: String,
    pub(crate) reason: String,
    pub(crate) message: String,
}

impl PublishedCondition {
    pub(crate) fn of(condition: &ConditionUpdate) -> Self {
        Self {
            status: condition.status.as_str().to_string(),
            reason: condition.reason.as_str().to_string(),
            message: condition.message.clone(),
        }
    }

    /// The condition of `type_` in the cluster's status; empty when there is none, so the first verdict is written.
    pub(crate) fn persisted(cluster: &OpenBaoCluster, type_: ClusterConditionType) -> Self {
        cluster
            .status
            .as_ref()
            .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_.as_str()))
            .map(|c| Self {
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use openbao_crds::field_error::FieldReason;

    use super::*;

    fn spec(yaml: &str) -> OpenBaoClusterSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    const VALID: &str = r#"
version: 2.4.1
backup:
  schedule: "0 3 * * *"
  target: {provider: s3, bucket: b}
  auth: {jwt: {role: backup}}
"#;

    #[test]
    fn a_valid_spec_is_ready() {
        let configuration = Configuration::assess(&spec(VALID));
        assert!(configuration.is_usable());
        let condition = configuration.condition();
        assert_eq!(condition.status, ConditionStatus::True);
        assert_eq!(condition.reason, ClusterConditionReason::ConfigurationValid);
    }

    #[test]
    fn no_backup_spec_is_not_ready_and_says_so() {
        let configuration = Configuration::assess(&spec("version: 2.4.1\n"));
        assert!(!configuration.is_usable());
        let condition = configuration.condition();
        assert_eq!(condition.status, ConditionStatus::False);
        assert_eq!(
            condition.reason,
            ClusterConditionReason::BackupNotConfigured
        );
    }

    #[test]
    fn an_invalid_spec_names_every_field_and_uses_the_first_reason() {
        let broken = VALID
            .replace("\"0 3 * * *\"", "\"0 0 3 * * *\"")
            .replace("schedule:", "timeZone: Mars/Olympus\n  schedule:");
        let configuration = Configuration::assess(&spec(&broken));
        assert!(!configuration.is_usable());
        let condition = configuration.condition();
        assert_eq!(condition.status, ConditionStatus::False);
        assert_eq!(
            condition.reason,
            ConditionReason::Field(FieldReason::InvalidSchedule)
        );
        assert_eq!(condition.reason.as_str(), "InvalidSchedule");
        assert!(
            condition.message.contains("spec.backup.schedule:")
                && condition.message.contains("spec.backup.timeZone:"),
            "{}",
            condition.message
        );
    }
}

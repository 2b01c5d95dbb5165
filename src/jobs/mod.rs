//! Executor Jobs and their ServiceAccounts, built by pure functions from the cluster spec, the actor's request
//! (e.g. [`BackupJobRequest`](openbao_actors::backup::effects::BackupJobRequest)) and the operator's settings.
//! Every executor Job has the one shape of [`executor_job`]; each operation adds its name, env and labels.
//!
//! The Job runs `openbao-operator executor backup`; its configuration contract (the `EXECUTOR_*` variables) is in
//! `docs/executor.md`. Secrets reach the executor only as read-only files: an environment variable names the file,
//! never holds the value, so nothing secret shows up in `kubectl describe`, the Job spec or a crash dump.

mod backup_job;
mod executor_env;
mod executor_job;
mod file_inputs;
mod metadata;
mod network_policy;
mod restore_job;
mod security;
mod service_account;

#[cfg(test)]
mod tests;

pub use backup_job::backup_job;
pub use executor_job::{ExecutorAction, ExecutorJobSpec, executor_job};
pub use metadata::{
    BACKUP_KIND_LABEL, CLUSTER_LABEL, EPOCH_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL,
    OPERATION_LABEL, TRIGGER_ANNOTATION, backup_service_account_name, managed_by_selector,
    operation_label, operation_of_label,
};
pub use network_policy::{executor_network_policy, executor_network_policy_name};
pub use restore_job::{RESTORE_LABEL, restore_job, restore_service_account_name};
pub use service_account::{backup_service_account, restore_service_account};

/// Where the executor writes its report; Kubernetes turns this file into the container's termination message.
pub const REPORT_PATH: &str = "/dev/termination-log";
/// Name of the executor container in backup Jobs; the report is read from this container's status.
pub const EXECUTOR_CONTAINER: &str = "executor";

/// Operator-wide settings that shape every Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// Image running `openbao-operator executor` when `spec.backup.executor.image` is unset.
    pub executor_image: String,
    /// How long a finished Job (and its Pod with the report) stays. The operator records the outcome from the
    /// watch long before; the TTL only bounds how long `kubectl logs` works for a human.
    pub ttl_seconds_after_finished: i32,
    /// Lifetime of the projected JWT (the API server's minimum is 600 s); the executor logs in at start.
    pub jwt_expiration_seconds: i64,
}

impl JobSettings {
    pub fn new(executor_image: impl Into<String>) -> Self {
        Self {
            executor_image: executor_image.into(),
            ttl_seconds_after_finished: 86_400,
            jwt_expiration_seconds: 600,
        }
    }
}

/// Why a Job could not be built from the cluster; each names what the user (or the API server) has to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobBuildError {
    #[error("the OpenBaoCluster has no metadata.{0}")]
    MissingMetadata(&'static str),
    #[error("spec.backup is not set")]
    BackupNotConfigured,
    #[error("spec.backup.auth must set exactly one of jwt or tokenSecretRef")]
    AuthNotChosen,
    #[error("spec.backup.target.azure.storageAccount is required with provider azure")]
    AzureAccountMissing,
    #[error("spec.backup.retention cannot be encoded: {0}")]
    Retention(String),
}

impl JobBuildError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingMetadata(_) => "MissingMetadata",
            Self::BackupNotConfigured => "BackupNotConfigured",
            Self::AuthNotChosen => "InvalidAuth",
            Self::AzureAccountMissing => "InvalidTarget",
            Self::Retention(_) => "InvalidRetention",
        }
    }
}

//! `OpenBaoCluster.status`: what the operator observed and did. Written only by the operator.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many manual-backup tokens `status.backup.pendingTriggers` holds at most.
pub const MAX_PENDING_TRIGGERS: usize = 16;

/// How many verified recovery points `status.backup.recoveryPoints` lists.
pub const RECOVERY_POINTS_IN_STATUS: usize = 10;

/// Observed state of an OpenBaoCluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenBaoClusterStatus {
    /// `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// OpenBao version the cluster reports running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    /// `BackupConfigurationReady`, `BackingUp`, `BackupHealthy`, `Upgrading`, `Restoring`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Backup history and schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStatus>,
    /// The operation holding the cluster; absent when the cluster is free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_lock: Option<OperationLock>,
    /// The highest lock epoch ever granted. It outlives a release, so the next grant, even after an operator
    /// restart, gets a larger epoch and a displaced holder's late writes stay fenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub last_lock_epoch: Option<i64>,
    /// The running or last upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeStatus>,
}

/// Backup history, visible without reading Jobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// When the newest backup Job was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_time: Option<DateTime<Utc>>,
    /// Scheduled fire time the newest scheduled attempt belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_scheduled_time: Option<DateTime<Utc>>,
    /// Next scheduled fire time, jitter included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_scheduled_backup: Option<DateTime<Utc>>,
    /// When the newest verified backup completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<DateTime<Utc>>,
    /// Object key of the newest verified backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_key: Option<String>,
    /// Size in bytes of the newest verified backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub last_backup_size: Option<i64>,
    /// `sha256:<hex>` digest of the newest verified backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_digest: Option<String>,
    /// Wall time of the newest verified backup, e.g. `42s` or `3m5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_duration: Option<String>,
    /// Backups failed in a row since the last success.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub consecutive_failures: i32,
    /// The newest failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<BackupFailure>,
    /// Value of the `openbao.org/trigger-backup` annotation whose Job was created last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_trigger: Option<String>,
    /// Manual-backup tokens seen but whose Job was not created yet (a backup was running or the operation lock
    /// was held), oldest first. Kept in status so a token that the annotation no longer shows still runs after an
    /// operator restart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("maxItems" = 16))]
    pub pending_triggers: Vec<String>,
    /// The newest verified recovery points (at most 10), newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("maxItems" = 10))]
    pub recovery_points: Vec<RecoveryPoint>,
}

/// A failed backup attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupFailure {
    /// When the attempt failed.
    pub time: DateTime<Utc>,
    /// Low-cardinality cause, e.g. `AuthFailed`, `StorageError`, `DeadlineExceeded`.
    pub reason: String,
    /// What happened and what to do.
    pub message: String,
}

/// A verified snapshot in object storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPoint {
    /// Object key of the snapshot.
    pub key: String,
    /// When the snapshot was taken.
    pub time: DateTime<Utc>,
    /// Size in bytes.
    #[schemars(range(min = 0))]
    pub size: i64,
    /// `sha256:<hex>` digest.
    pub digest: String,
    /// What started the backup.
    pub kind: BackupKind,
}

/// What started a backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    Scheduled,
    Manual,
    PreUpgrade,
}

impl BackupKind {
    /// The API string, also used in object keys (`scheduled`, `manual`, `pre-upgrade`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
            Self::PreUpgrade => "pre-upgrade",
        }
    }

    /// The kind an API string names.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Scheduled, Self::Manual, Self::PreUpgrade]
            .into_iter()
            .find(|kind| kind.as_str() == value)
    }
}

impl std::fmt::Display for BackupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The per-cluster operation lock as persisted by the cluster supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationLock {
    /// Operation holding the lock.
    pub operation: Operation,
    /// Who holds it, e.g. the Job or OpenBaoRestore name.
    pub holder: String,
    /// Why it is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it was granted.
    pub acquired_at: DateTime<Utc>,
    /// When the holder last confirmed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_at: Option<DateTime<Utc>>,
    /// Fencing token: increments on every grant; every lock-guarded write checks it.
    #[schemars(range(min = 0))]
    pub epoch: i64,
}

/// An operation that needs the cluster to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Operation {
    Backup,
    Restore,
    Upgrade,
}

impl Operation {
    /// The API string (`Backup`, `Restore`, `Upgrade`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "Backup",
            Self::Restore => "Restore",
            Self::Upgrade => "Upgrade",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version change and its progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStatus {
    /// Version before the upgrade.
    pub from_version: String,
    /// Version being rolled out.
    pub to_version: String,
    /// Progress of the upgrade.
    pub phase: UpgradePhase,
    /// Key of the snapshot taken before the rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_upgrade_snapshot_key: Option<String>,
    /// When the upgrade started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended (`Completed`, `Blocked` or `Failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Pods this upgrade replaced, in order. A restarted operator never replaces one twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods_updated: Vec<String>,
    /// The Pod being replaced: its name and the uid of the instance that is deleted, so a delete repeated after
    /// an operator restart never removes the Pod that replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacing: Option<ReplacedPod>,
    /// The `openbao.org/retry-upgrade` annotation value this attempt answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_token: Option<String>,
    /// Why the upgrade waits, stopped or failed, and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A Pod the rollout deletes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplacedPod {
    pub name: String,
    pub uid: String,
}

/// Progress of an upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum UpgradePhase {
    /// Waiting for the operation lock.
    Pending,
    /// Taking the pre-upgrade snapshot.
    PreUpgradeSnapshot,
    /// Rolling the StatefulSet to the new version.
    RollingOut,
    Completed,
    /// The pre-upgrade snapshot failed; nothing was replaced. Retried on a spec change or a new
    /// `openbao.org/retry-upgrade` annotation.
    Blocked,
    /// The rollout stopped at a Pod; nothing further was replaced.
    Failed,
}

impl UpgradePhase {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::PreUpgradeSnapshot => "PreUpgradeSnapshot",
            Self::RollingOut => "RollingOut",
            Self::Completed => "Completed",
            Self::Blocked => "Blocked",
            Self::Failed => "Failed",
        }
    }
}

impl std::fmt::Display for UpgradePhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

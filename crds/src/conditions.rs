//! Condition types and reasons of both resources, as enums that map to their API strings.
//!
//! Reasons are CamelCase, stable and low-cardinality: they appear in conditions, events and metric labels alike.

/// `status` of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// Condition types of an OpenBaoCluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClusterConditionType {
    /// `spec.backup` is valid and its references resolve.
    BackupConfigurationReady,
    /// A backup Job is running.
    BackingUp,
    /// The newest backup attempt succeeded and no scheduled window was missed.
    BackupHealthy,
    /// A version change is being rolled out.
    Upgrading,
    /// An OpenBaoRestore holds the cluster.
    Restoring,
}

impl ClusterConditionType {
    /// Every cluster condition type, in display order.
    pub const ALL: [Self; 5] = [
        Self::BackupConfigurationReady,
        Self::BackingUp,
        Self::BackupHealthy,
        Self::Upgrading,
        Self::Restoring,
    ];

    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackupConfigurationReady => "BackupConfigurationReady",
            Self::BackingUp => "BackingUp",
            Self::BackupHealthy => "BackupHealthy",
            Self::Upgrading => "Upgrading",
            Self::Restoring => "Restoring",
        }
    }
}

/// Condition types of an OpenBaoRestore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestoreConditionType {
    /// The request, the snapshot and the cluster passed validation.
    Validated,
    /// The restore holds the cluster's operation lock.
    LockAcquired,
    /// The snapshot was restored and the cluster reported back.
    RestoreComplete,
}

impl RestoreConditionType {
    /// Every restore condition type, in display order.
    pub const ALL: [Self; 3] = [Self::Validated, Self::LockAcquired, Self::RestoreComplete];

    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validated => "Validated",
            Self::LockAcquired => "LockAcquired",
            Self::RestoreComplete => "RestoreComplete",
        }
    }
}

/// Reasons of OpenBaoCluster conditions. `BackupConfigurationReady=False` caused by a spec field uses the
/// [`FieldReason`](crate::field_error::FieldReason) of the first problem (`InvalidSchedule`, …) instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClusterConditionReason {
    /// `BackupConfigurationReady=True`.
    ConfigurationValid,
    /// `BackupConfigurationReady=False`: a referenced Secret is missing or lacks the key.
    SecretNotFound,
    /// No `spec.backup`.
    BackupNotConfigured,
    /// `BackingUp=True`.
    BackupRunning,
    /// `BackingUp=False`.
    Idle,
    /// `BackingUp=False`: a backup is due but another operation holds the lock.
    WaitingForLock,
    /// `BackupHealthy=True`.
    BackupSucceeded,
    /// `BackupHealthy=False`: the newest attempt failed.
    BackupFailed,
    /// `BackupHealthy=False`: a scheduled window passed its starting deadline.
    ScheduleMissed,
    /// `BackupHealthy=Unknown`: no backup has finished yet.
    NoBackupYet,
    /// `Upgrading=True`: the pre-upgrade snapshot is running.
    PreUpgradeSnapshot,
    /// `Upgrading=True`: the new version is rolling out.
    RollingOut,
    /// `Upgrading=False`: the cluster runs the desired version.
    UpgradeComplete,
    /// `Upgrading=False`: the upgrade stopped; the message says why.
    UpgradeFailed,
    /// `Upgrading=True`: the upgrade waits for the operation lock.
    UpgradeWaitingForLock,
    /// `Upgrading=False`: `spec.version` is older than the running version.
    DowngradeRefused,
    /// `Upgrading=False`: `spec.version` is not `x.y.z`.
    InvalidVersion,
    /// `Upgrading=False`: the Pods report a version that is not `x.y.z`, or different versions.
    UnknownCurrentVersion,
    /// `Upgrading=False`: the workload StatefulSet does not exist.
    WorkloadNotFound,
    /// `Upgrading=False`: the StatefulSet's update strategy is not `OnDelete`.
    UpdateStrategyNotOnDelete,
    /// `Upgrading=False`: the pre-upgrade snapshot failed; nothing was replaced.
    PreUpgradeSnapshotFailed,
    /// `Upgrading=False`: a replaced Pod came back sealed.
    PodSealed,
    /// `Upgrading=False`: a Pod did not become healthy in time.
    PodNotHealthy,
    /// `Upgrading=False`: a restore took the lock with `overrideOperationLock`.
    UpgradePreempted,
    /// `Restoring=True`.
    RestoreInProgress,
    /// `Restoring=False`.
    NoRestore,
}

impl ClusterConditionReason {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigurationValid => "ConfigurationValid",
            Self::SecretNotFound => "SecretNotFound",
            Self::BackupNotConfigured => "BackupNotConfigured",
            Self::BackupRunning => "BackupRunning",
            Self::Idle => "Idle",
            Self::WaitingForLock => "WaitingForLock",
            Self::BackupSucceeded => "BackupSucceeded",
            Self::BackupFailed => "BackupFailed",
            Self::ScheduleMissed => "ScheduleMissed",
            Self::NoBackupYet => "NoBackupYet",
            Self::PreUpgradeSnapshot => "PreUpgradeSnapshot",
            Self::RollingOut => "RollingOut",
            Self::UpgradeComplete => "UpgradeComplete",
            Self::UpgradeFailed => "UpgradeFailed",
            Self::UpgradeWaitingForLock => "UpgradeWaitingForLock",
            Self::DowngradeRefused => "DowngradeRefused",
            Self::InvalidVersion => "InvalidVersion",
            Self::UnknownCurrentVersion => "UnknownCurrentVersion",
            Self::WorkloadNotFound => "WorkloadNotFound",
            Self::UpdateStrategyNotOnDelete => "UpdateStrategyNotOnDelete",
            Self::PreUpgradeSnapshotFailed => "PreUpgradeSnapshotFailed",
            Self::PodSealed => "PodSealed",
            Self::PodNotHealthy => "PodNotHealthy",
            Self::UpgradePreempted => "UpgradePreempted",
            Self::RestoreInProgress => "RestoreInProgress",
            Self::NoRestore => "NoRestore",
        }
    }
}

/// Reasons of OpenBaoRestore conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestoreConditionReason {
    /// `Validated=True`.
    ValidationSucceeded,
    /// `Validated=False`: the request or the snapshot failed a check; the message names it.
    ValidationFailed,
    /// `Validated=False`: `spec.cluster` does not exist.
    ClusterNotFound,
    /// `Validated=False`: the key or the newest verified manifest cannot be found.
    SnapshotNotFound,
    /// `LockAcquired=True`.
    LockGranted,
    /// `LockAcquired=False`: another operation holds the lock; the restore waits.
    LockHeld,
    /// `LockAcquired=True`: taken from another holder with `overrideOperationLock`.
    LockOverridden,
    /// `LockAcquired=False`: a dry run never takes the lock.
    DryRun,
    /// `RestoreComplete=True`.
    RestoreSucceeded,
    /// `RestoreComplete=True`: the dry run found the restore possible.
    DryRunSucceeded,
    /// `RestoreComplete=False`.
    RestoreFailed,
}

impl RestoreConditionReason {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationSucceeded => "ValidationSucceeded",
            Self::ValidationFailed => "ValidationFailed",
            Self::ClusterNotFound => "ClusterNotFound",
            Self::SnapshotNotFound => "SnapshotNotFound",
            Self::LockGranted => "LockGranted",
            Self::LockHeld => "LockHeld",
            Self::LockOverridden => "LockOverridden",
            Self::DryRun => "DryRun",
            Self::RestoreSucceeded => "RestoreSucceeded",
            Self::DryRunSucceeded => "DryRunSucceeded",
            Self::RestoreFailed => "RestoreFailed",
        }
    }
}

macro_rules! display_as_api_string {
    ($($ty:ty),*) => {$(
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_api_string!(
    ConditionStatus,
    ClusterConditionType,
    RestoreConditionType,
    ClusterConditionReason,
    RestoreConditionReason
);

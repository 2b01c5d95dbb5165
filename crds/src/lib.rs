//! OpenBaoCluster and OpenBaoRestore API types (`openbao.org/v1alpha1`), their generated CRDs and schema rules.

pub mod auth;
pub mod backup;
pub mod backup_target;
pub mod cluster;
pub mod cluster_status;
pub mod conditions;
pub mod crd_manifest;
pub mod duration;
pub mod executor_report;
pub mod field_error;
pub mod patterns;
pub mod restore;
pub mod restore_status;
pub mod retention;
pub mod schedule;
#[cfg(feature = "schema-check")]
pub mod schema_check;
pub mod secret_ref;
pub mod validation;

#[cfg(test)]
mod tests;

pub use auth::{AuthMethod, AuthSpec, JwtAuth, TokenSecretRef};
pub use backup::{BackupSpec, ExecutorSpec};
pub use backup_target::{
    AzureOptions, BackupTarget, GcsOptions, S3Options, StorageProvider, WorkloadIdentity,
    cluster_folder,
};
pub use cluster::{
    BACKUP_KIND_LABEL, OpenBaoCluster, OpenBaoClusterSpec, RETRY_UPGRADE_ANNOTATION,
    TRIGGER_BACKUP_ANNOTATION, TlsSpec, UpgradeSpec, WorkloadSpec,
};
pub use cluster_status::{
    BackupFailure, BackupKind, BackupStatus, OpenBaoClusterStatus, Operation, OperationLock,
    RecoveryPoint, ReplacedPod, UpgradePhase, UpgradeStatus,
};
pub use crd_manifest::{crd_yaml, crds};
pub use restore::{OpenBaoRestore, OpenBaoRestoreSpec, RestoreSource, SnapshotSelection};
pub use restore_status::{OpenBaoRestoreStatus, RestorePhase, SnapshotInfo};
pub use retention::RetentionPolicy;
pub use secret_ref::{CaBundleSecretRef, SecretNameRef};

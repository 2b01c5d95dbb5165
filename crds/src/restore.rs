//! `OpenBaoRestore`: one explicit, immutable restore request. Its phases, conditions and events are the audit trail.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::AuthSpec;
use crate::backup_target::BackupTarget;
use crate::patterns;
use crate::restore_status::OpenBaoRestoreStatus;

/// Which snapshot to restore into which OpenBaoCluster, and how. Immutable after creation.
// clippy reads the repeated `type_ = ...` of the printcolumn lists as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "openbao.org",
    version = "v1alpha1",
    kind = "OpenBaoRestore",
    plural = "openbaorestores",
    singular = "openbaorestore",
    shortname = "obrestore",
    category = "openbao",
    namespaced,
    status = "OpenBaoRestoreStatus",
    derive = "PartialEq",
    doc = "An explicit, immutable request to restore an OpenBao raft snapshot into an OpenBaoCluster.",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.cluster",
        description = "Target OpenBaoCluster"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Restore progress"
    ),
    printcolumn(
        name = "Snapshot",
        type_ = "string",
        json_path = ".status.snapshot.key",
        description = "Object key of the resolved snapshot"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "self == oldSelf",
        "message": "spec is immutable: create a new OpenBaoRestore instead"
    },
    {
        "rule": "!self.overrideOperationLock || self.force",
        "message": "overrideOperationLock requires force: true"
    }
]))]
pub struct OpenBaoRestoreSpec {
    /// Name of the OpenBaoCluster in the same namespace to restore into.
    #[schemars(length(min = 1, max = 253), pattern(patterns::DNS_SUBDOMAIN))]
    pub cluster: String,
    /// Which snapshot to restore.
    pub source: RestoreSource,
    /// How the restore Job logs in to OpenBao; use a dedicated role, e.g. JWT role `restore`.
    pub auth: AuthSpec,
    /// Use `sys/storage/raft/snapshot-force`, needed for a snapshot from another cluster or with other unseal
    /// keys. Default `false`: the seal-checked `sys/storage/raft/snapshot`.
    #[serde(default)]
    pub force: bool,
    /// Resolve, download and verify the snapshot, check cluster health and lock availability, then report.
    /// No destructive call and no lock. Default `false`.
    #[serde(default)]
    pub dry_run: bool,
    /// Take the operation lock even if another operation holds it; requires `force`. Audited with a Warning
    /// event and a condition. Default `false`.
    #[serde(default)]
    pub override_operation_lock: bool,
}

/// The snapshot to restore: exactly one of `key` or `latest: true`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "has(self.key) != has(self.latest)",
        "message": "set exactly one of source.key or source.latest"
    },
    {
        "rule": "!has(self.latest) || self.latest",
        "message": "source.latest must be true when set"
    }
]))]
pub struct RestoreSource {
    /// Object key of the snapshot, e.g. `prod/openbao/vault/main/20250101T020000Z-scheduled-1a2b3c4d.snap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 6, max = 1024), pattern(patterns::SNAPSHOT_KEY))]
    pub key: Option<String>,
    /// Restore the newest verified snapshot of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<bool>,
    /// Where to read from. Default: the cluster's `spec.backup.target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<BackupTarget>,
}

impl RestoreSource {
    /// The snapshot at `key`.
    pub fn key(key: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            ..Self::default()
        }
    }

    /// The newest verified snapshot.
    pub fn latest() -> Self {
        Self {
            latest: Some(true),
            ..Self::default()
        }
    }

    /// What the source selects, or `None` when it selects nothing or both (the schema rejects both cases).
    pub fn selection(&self) -> Option<SnapshotSelection<'_>> {
        match (&self.key, self.latest) {
            (Some(key), None) => Some(SnapshotSelection::Key(key)),
            (None, Some(true)) => Some(SnapshotSelection::Latest),
            _ => None,
        }
    }
}

/// Which snapshot a [`RestoreSource`] selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotSelection<'a> {
    Key(&'a str),
    Latest,
}

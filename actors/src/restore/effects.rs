//! What the restore actor needs from outside beyond the shared [`ClusterEffects`](crate::effects::ClusterEffects):
//! the requests of its cluster (from the watch cache), writing a request's status, finalizer and events, creating
//! its Jobs, the cluster's `Restoring` condition, and the restore metrics.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, OpenBaoRestoreStatus, SnapshotInfo};

use crate::backup::effects::JobCreation;
use crate::cluster_key::ClusterKey;
use crate::effects::{ConditionUpdate, EffectError, JobReader};

/// The `OpenBaoRestore` objects whose `spec.cluster` names this cluster, as the watch cache holds them.
pub trait RestoreRequests: Send + Sync {
    fn requests_for(&self, cluster: &ClusterKey) -> Vec<Arc<OpenBaoRestore>>;
}

/// Event reasons on an `OpenBaoRestore` (and, for start and end, on its cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum RestoreEventReason {
    RestoreQueued,
    RestoreValidated,
    RestoreWaitingForLock,
    RestoreStarted,
    RestoreCompleted,
    RestoreFailed,
    OperationLockOverridden,
}

impl RestoreEventReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::RestoreFailed | Self::RestoreWaitingForLock | Self::OperationLockOverridden
        )
    }
}

/// Writes what the restore actor decides about one request. The actor is the only writer of a request's status.
pub trait RestoreWriter: Send + Sync {
    /// Replaces `status` (conditions carry their own transition times).
    fn write_status<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        status: &'a OpenBaoRestoreStatus,
    ) -> BoxFuture<'a, Result<(), EffectError>>;

    /// Adds or removes the operator's finalizer, which keeps a running request (and so its lock) until its Job
    /// ended.
    fn set_finalizer<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        present: bool,
    ) -> BoxFuture<'a, Result<(), EffectError>>;

    fn record_event<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        reason: RestoreEventReason,
        message: String,
    ) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// Which executor run a restore Job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreJobKind {
    /// `executor restore --dry-run`: resolves, downloads and verifies the snapshot and logs in; its report pins
    /// the snapshot. Never destructive, no lock.
    Preflight,
    /// The destructive restore of exactly the pinned snapshot, under the lock granted with `epoch`.
    Restore { epoch: u64, snapshot: SnapshotInfo },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreJobRequest {
    pub job_name: String,
    pub kind: RestoreJobKind,
}

pub trait RestoreJobs: Send + Sync {
    fn create_restore_job<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        request: &'a OpenBaoRestore,
        job: &'a RestoreJobRequest,
    ) -> BoxFuture<'a, Result<JobCreation, EffectError>>;
}

/// Merges conditions into the OpenBaoCluster's status (the restore actor's `Restoring`).
pub trait ClusterConditionWriter: Send + Sync {
    fn write_cluster_conditions<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// How a restore request ended, for `openbao_restore_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreMetricOutcome {
    Succeeded,
    SucceededSealed,
    DryRun,
    Failed,
}

impl RestoreMetricOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::SucceededSealed => "succeeded_sealed",
            Self::DryRun => "dry_run",
            Self::Failed => "failed",
        }
    }
}

pub trait RestoreMetrics: Send + Sync {
    /// A destructive restore Job started (or was adopted) for `cluster`.
    fn restore_running(&self, cluster: &ClusterKey, running: bool);
    /// A request ended; `duration` from its start to its end.
    fn restore_finished(
        &self,
        cluster: &ClusterKey,
        outcome: RestoreMetricOutcome,
        duration: Option<Duration>,
    );
}

/// The restore child's bundle.
#[derive(Clone)]
pub struct RestoreEffects {
    pub requests: Arc<dyn RestoreRequests>,
    pub writer: Arc<dyn RestoreWriter>,
    pub jobs: Arc<dyn RestoreJobs>,
    pub job_reader: Arc<dyn JobReader>,
    pub cluster_conditions: Arc<dyn ClusterConditionWriter>,
    pub metrics: Arc<dyn RestoreMetrics>,
}

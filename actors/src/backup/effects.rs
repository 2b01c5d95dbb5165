//! What the backup actor needs from outside beyond the shared [`ClusterEffects`](crate::effects::ClusterEffects):
//! creating its Jobs, writing `status.backup`, and reading a Job that holds the lock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use openbao_crds::{BackupKind, BackupStatus, OpenBaoCluster};

use crate::cluster_key::ClusterKey;
use crate::effects::{ConditionUpdate, EffectError, JobReader};

/// What a backup Job is for; `src/` builds the Job (executor image, auth, target) from it and the cluster spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupJobRequest {
    pub job_name: String,
    pub kind: BackupKind,
    /// Fencing epoch of the lock grant the Job runs under.
    pub epoch: u64,
    /// The scheduled window (without jitter) of a scheduled backup.
    pub scheduled_time: Option<DateTime<Utc>>,
    /// The annotation token of a manual backup.
    pub trigger: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobCreation {
    Created,
    /// A Job with this deterministic name exists already (e.g. created before an operator restart): it is the
    /// same backup, so nothing is duplicated.
    AlreadyExisted,
}

pub trait BackupJobs: Send + Sync {
    fn create_backup_job<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        request: &'a BackupJobRequest,
    ) -> BoxFuture<'a, Result<JobCreation, EffectError>>;

    /// Stops a running backup Job (deletes it with its Pod): an override took its lock.
    fn stop_backup_job<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// Writes `status.backup` (whole) and merges conditions by type.
pub trait BackupStatusWriter: Send + Sync {
    fn write_backup_status<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        status: &'a BackupStatus,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// The backup child's bundle.
#[derive(Clone)]
pub struct BackupEffects {
    pub jobs: Arc<dyn BackupJobs>,
    pub status: Arc<dyn BackupStatusWriter>,
    pub job_reader: Arc<dyn JobReader>,
}

//! Messages of the backup actor and what it reports back.

use std::sync::Arc;

use openbao_crds::{BackupKind, OpenBaoCluster};
use ractor::{ActorRef, RpcReplyPort};

use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, JobObservation};
use crate::metrics::MailboxGauge;
use crate::supervisor::SupervisorMsg;

/// A backup Job that was running when the actor (re)started, taken from the persisted lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumedBackup {
    pub job_name: String,
    pub epoch: u64,
    /// The Job ended already: record it and release the lock at once.
    pub finished: Option<JobObservation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreUpgradeResult {
    Succeeded {
        job_name: String,
        key: String,
    },
    Failed {
        reason: String,
        message: String,
    },
    /// Not attempted (no `spec.backup`, stale epoch, actor restarting).
    Refused {
        reason: String,
    },
}

/// Outcome report to the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub job_name: String,
    pub kind: BackupKind,
    pub succeeded: bool,
}

pub enum BackupMsg {
    ClusterObserved(Arc<OpenBaoCluster>),
    JobObserved(JobObservation),
    /// The next window's fire time may have come.
    ScheduleTick,
    /// Retry after an API error.
    Retry,
    /// The supervisor released the lock: a trigger that was denied may run now.
    LockReleased,
    PreUpgradeSnapshot {
        upgrade_id: String,
        epoch: u64,
        reply: RpcReplyPort<PreUpgradeResult>,
    },
}

pub struct BackupArgs {
    pub key: ClusterKey,
    pub cluster: Arc<OpenBaoCluster>,
    pub effects: ClusterEffects,
    pub supervisor: ActorRef<SupervisorMsg>,
    pub resume: Option<ResumedBackup>,
    pub mailbox: MailboxGauge,
}

//! Messages of the backup actor and what it starts with.

use std::sync::Arc;

use openbao_crds::OpenBaoCluster;
use ractor::RpcReplyPort;

use super::effects::BackupEffects;
use crate::child::{ChildEvent, PreUpgradeResult, ResumedWork};
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, JobObservation};
use crate::lock_client::LockClient;
use crate::metrics::MailboxGauge;

pub enum BackupMsg {
    ClusterObserved(Arc<OpenBaoCluster>),
    JobObserved(JobObservation),
    /// The next window's fire time may have come.
    ScheduleTick,
    /// Retry after an API error.
    Retry,
    /// The supervisor released the lock: a trigger that was denied may run now.
    LockReleased,
    /// A restore took the lock from `holder` with `overrideOperationLock`.
    Preempted {
        holder: String,
        by: String,
    },
    PreUpgradeSnapshot {
        upgrade_id: String,
        epoch: u64,
        reply: RpcReplyPort<PreUpgradeResult>,
    },
}

impl From<ChildEvent> for BackupMsg {
    fn from(event: ChildEvent) -> Self {
        match event {
            ChildEvent::ClusterObserved(cluster) => Self::ClusterObserved(cluster),
            ChildEvent::JobObserved(job) => Self::JobObserved(job),
            ChildEvent::LockReleased => Self::LockReleased,
            ChildEvent::Preempted { holder, by } => Self::Preempted { holder, by },
            // Not routed to backup; if it were, deciding again changes nothing.
            ChildEvent::RestoresChanged => Self::Retry,
            ChildEvent::PreUpgradeSnapshot {
                upgrade_id,
                epoch,
                reply,
            } => Self::PreUpgradeSnapshot {
                upgrade_id,
                epoch,
                reply,
            },
        }
    }
}

pub struct BackupArgs {
    pub key: ClusterKey,
    pub cluster: Arc<OpenBaoCluster>,
    pub effects: ClusterEffects,
    pub backup_effects: BackupEffects,
    pub lock: LockClient,
    /// A backup Job that held the lock when the actor (re)started.
    pub resume: Option<ResumedWork>,
    pub mailbox: MailboxGauge,
}

//! Messages of the restore actor and what it starts with.

use std::sync::Arc;

use openbao_crds::OpenBaoCluster;

use super::effects::RestoreEffects;
use crate::child::{ChildEvent, PreUpgradeResult, ResumedWork};
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, JobObservation};
use crate::lock_client::LockClient;
use crate::metrics::MailboxGauge;

pub enum RestoreMsg {
    ClusterObserved(Arc<OpenBaoCluster>),
    /// An `OpenBaoRestore` of this cluster was created, changed or deleted: the cache holds the new state.
    RequestsChanged,
    JobObserved(JobObservation),
    /// The lock became free: a request waiting for it may take it.
    LockReleased,
    /// Retry after an API error.
    Retry,
    /// An event meant for another child.
    Ignored,
}

impl From<ChildEvent> for RestoreMsg {
    fn from(event: ChildEvent) -> Self {
        match event {
            ChildEvent::ClusterObserved(cluster) => Self::ClusterObserved(cluster),
            ChildEvent::RestoresChanged => Self::RequestsChanged,
            ChildEvent::JobObserved(job) => Self::JobObserved(job),
            ChildEvent::LockReleased => Self::LockReleased,
            // One restore runs at a time per cluster: a restore is never the holder an override displaces.
            ChildEvent::Preempted { .. } => Self::Ignored,
            ChildEvent::PreUpgradeSnapshot { reply, .. } => {
                let _ = reply.send(PreUpgradeResult::Refused {
                    reason: "the restore actor takes no snapshots".into(),
                });
                Self::Ignored
            }
        }
    }
}

pub struct RestoreArgs {
    pub key: ClusterKey,
    pub cluster: Arc<OpenBaoCluster>,
    pub effects: ClusterEffects,
    pub restore_effects: RestoreEffects,
    pub lock: LockClient,
    /// The restore that held the lock when the actor (re)started.
    pub resume: Option<ResumedWork>,
    pub mailbox: MailboxGauge,
}

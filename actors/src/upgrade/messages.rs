//! Messages of the upgrade actor and what it starts with.

use std::sync::Arc;
use std::time::Duration;

use openbao_crds::OpenBaoCluster;

use super::effects::UpgradeEffects;
use crate::child::{ChildEvent, PreUpgradeResult, ResumedWork};
use crate::cluster_key::ClusterKey;
use crate::effects::ClusterEffects;
use crate::lock_client::{LockCallError, LockClient};
use crate::metrics::MailboxGauge;

pub enum UpgradeMsg {
    ClusterObserved(Arc<OpenBaoCluster>),
    /// The lock became free: an upgrade waiting for it may take it.
    LockReleased,
    /// A restore took the lock with `overrideOperationLock`.
    Preempted {
        by: String,
    },
    /// Look at the workload again (rollout progress, the running version).
    Tick,
    /// The backup child's answer to the pre-upgrade snapshot of attempt `attempt`.
    SnapshotFinished {
        attempt: String,
        result: Result<PreUpgradeResult, LockCallError>,
    },
    /// An event meant for another child.
    Ignored,
}

impl From<ChildEvent> for UpgradeMsg {
    fn from(event: ChildEvent) -> Self {
        match event {
            ChildEvent::ClusterObserved(cluster) => Self::ClusterObserved(cluster),
            ChildEvent::LockReleased => Self::LockReleased,
            ChildEvent::Preempted { by, .. } => Self::Preempted { by },
            ChildEvent::JobObserved(_) | ChildEvent::RestoresChanged => Self::Ignored,
            ChildEvent::PreUpgradeSnapshot { reply, .. } => {
                let _ = reply.send(PreUpgradeResult::Refused {
                    reason: "the upgrade actor takes no snapshots".into(),
                });
                Self::Ignored
            }
        }
    }
}

pub struct UpgradeArgs {
    pub key: ClusterKey,
    pub cluster: Arc<OpenBaoCluster>,
    pub effects: ClusterEffects,
    pub upgrade_effects: UpgradeEffects,
    pub lock: LockClient,
    /// The upgrade that held the lock when the actor (re)started.
    pub resume: Option<ResumedWork>,
    pub mailbox: MailboxGauge,
    /// How long the rollout waits for a Pod (or the cluster) to become healthy before it fails.
    pub pod_timeout: Duration,
}

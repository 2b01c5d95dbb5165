//! What the upgrade guard needs from outside beyond the shared [`ClusterEffects`](crate::effects::ClusterEffects):
//! the workload as it is now (StatefulSet, Pods, each Pod's `sys/health`), the two moves a rollout makes (set the
//! image, delete one Pod), the cluster's upgrade status, and the upgrade metrics.

use std::sync::Arc;

use futures::future::BoxFuture;
use openbao_crds::{OpenBaoCluster, ReplacedPod, UpgradeStatus};

use super::plan::{PodFacts, RaftFacts, WorkloadFacts};
use crate::cluster_key::ClusterKey;
use crate::effects::{ConditionUpdate, EffectError};

/// The StatefulSet as observed: what [`drivable`](super::plan::drivable) judges, plus the container's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadState {
    pub facts: WorkloadFacts,
    /// The OpenBao container's image in the Pod template; `None` when the container is missing.
    pub image: Option<String>,
}

/// One Pod: what the plan reads, and the uid a delete is conditioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPod {
    pub facts: PodFacts,
    pub uid: String,
}

/// The workload at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// `None`: the StatefulSet does not exist.
    pub workload: Option<WorkloadState>,
    pub pods: Vec<ObservedPod>,
    pub raft: RaftFacts,
}

impl Observation {
    pub fn pod_facts(&self) -> Vec<PodFacts> {
        self.pods.iter().map(|pod| pod.facts.clone()).collect()
    }

    pub fn pod(&self, name: &str) -> Option<&ObservedPod> {
        self.pods.iter().find(|pod| pod.facts.name == name)
    }
}

/// Reads and moves the OpenBao StatefulSet of a cluster.
pub trait Workload: Send + Sync {
    /// The StatefulSet, its Pods and each Pod's `sys/health` (a Pod that does not answer has no version).
    fn observe<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
    ) -> BoxFuture<'a, Result<Observation, EffectError>>;

    /// Sets the OpenBao container's image in the Pod template (with `OnDelete`, nothing moves by itself).
    fn set_image<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        image: &'a str,
    ) -> BoxFuture<'a, Result<(), EffectError>>;

    /// Deletes `pod` only while it is still the instance with `pod.uid`: repeated after a restart, the delete
    /// never touches the Pod that replaced it. A Pod already gone is success.
    fn delete_pod<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        pod: &'a ReplacedPod,
    ) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// Writes `status.currentVersion`, `status.upgrade` and the `Upgrading` condition in one patch.
pub trait UpgradeStatusWriter: Send + Sync {
    fn write_upgrade_status<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        current_version: Option<&'a str>,
        upgrade: Option<&'a UpgradeStatus>,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// The cluster as the watch cache holds it: what the lock probe reads.
pub trait ClusterReader: Send + Sync {
    fn cluster(&self, key: &ClusterKey) -> Option<Arc<OpenBaoCluster>>;
}

/// How an upgrade ended, for `openbao_upgrade_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeOutcome {
    Succeeded,
    Blocked,
    Failed,
    Refused,
}

impl UpgradeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }
}

pub trait UpgradeMetrics: Send + Sync {
    /// An upgrade holds the lock (`true`) or no longer does.
    fn upgrade_running(&self, cluster: &ClusterKey, running: bool);
    fn upgrade_finished(&self, cluster: &ClusterKey, outcome: UpgradeOutcome);
}

/// The upgrade child's bundle.
#[derive(Clone)]
pub struct UpgradeEffects {
    pub workload: Arc<dyn Workload>,
    pub status: Arc<dyn UpgradeStatusWriter>,
    pub clusters: Arc<dyn ClusterReader>,
    pub metrics: Arc<dyn UpgradeMetrics>,
}

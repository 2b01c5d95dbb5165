//! Kubernetes implementations of the actors' effect traits: the shared bundle (`openbao_actors::effects`) and
//! each child's own. [`kube_children`] is the list of children every cluster supervisor runs: adding an operation
//! is one entry there plus its child module.

mod api_error;
mod backup_jobs;
mod events;
mod job_reader;
mod lock_store;
#[cfg(test)]
mod mock_api;
mod network_policy;
mod restore_effects;
mod restore_reader;
mod status_writer;
mod upgrade_effects;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::PatchParams;
use kube::runtime::reflector::Store;
use openbao_actors::backup::{BackupChild, BackupEffects};
use openbao_actors::child::ChildSpecs;
use openbao_actors::clock::{Clock, SystemClock};
use openbao_actors::effects::ClusterEffects;
use openbao_actors::restore::{RestoreChild, RestoreEffects};
use openbao_actors::upgrade::{UpgradeChild, UpgradeEffects};
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, Operation};

pub use api_error::ApiFailure;
pub use backup_jobs::KubeBackupJobs;
pub use events::KubeEvents;
pub use job_reader::JobReader;
pub use lock_store::KubeLockStore;
pub use restore_effects::{CachedRestoreRequests, KubeRestoreJobs, KubeRestoreWriter};
pub use restore_reader::KubeRestoreReader;
pub use status_writer::{KubeStatusWriter, backup_status_patch};
pub use upgrade_effects::{CachedClusters, KubeWorkload};

use crate::jobs::JobSettings;
use crate::metrics::OperatorMetrics;

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "openbao-operator";

pub fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    }
}

/// What every actor needs, wired to `client`.
pub fn kube_effects(
    client: kube::Client,
    clusters: Store<OpenBaoCluster>,
    instance: Option<String>,
    metrics: Arc<OperatorMetrics>,
) -> ClusterEffects {
    ClusterEffects {
        locks: Arc::new(KubeLockStore::new(client.clone(), metrics.clone())),
        events: Arc::new(KubeEvents::new(client, instance, clusters, metrics.clone())),
        clock: Arc::new(SystemClock),
        metrics,
    }
}

/// The children of every cluster supervisor, one per operation, each with its own effects.
pub fn kube_children(
    client: kube::Client,
    job_settings: JobSettings,
    stores: ChildStores,
    instance: Option<String>,
    metrics: Arc<OperatorMetrics>,
) -> ChildSpecs {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let status = Arc::new(KubeStatusWriter::new(
        client.clone(),
        clock,
        stores.clusters.clone(),
    ));
    let upgrade = UpgradeEffects {
        workload: Arc::new(KubeWorkload::new(client.clone(), stores.stateful_sets)),
        status: status.clone(),
        clusters: Arc::new(CachedClusters(stores.clusters)),
        metrics: Arc::new(metrics.upgrade.clone()),
    };
    let job_reader = Arc::new(JobReader::new(client.clone()));
    let backup = BackupEffects {
        jobs: Arc::new(KubeBackupJobs::new(client.clone(), job_settings.clone())),
        status: status.clone(),
        job_reader: job_reader.clone(),
    };
    let restore = RestoreEffects {
        requests: Arc::new(CachedRestoreRequests::new(stores.restores)),
        writer: Arc::new(KubeRestoreWriter::new(client.clone(), instance)),
        jobs: Arc::new(KubeRestoreJobs::new(client.clone(), job_settings)),
        job_reader,
        cluster_conditions: status,
        metrics: Arc::new(metrics.restore.clone()),
    };
    Arc::new([
        Arc::new(BackupChild::new(backup)),
        Arc::new(RestoreChild::new(
            Arc::new(KubeRestoreReader::new(client)),
            restore,
        )),
        Arc::new(UpgradeChild::new(upgrade, stores.upgrade_pod_timeout)),
    ])
}

/// The watch caches the children read, created before the watchers that fill them.
pub struct ChildStores {
    pub clusters: Store<OpenBaoCluster>,
    pub restores: Store<OpenBaoRestore>,
    pub stateful_sets: Store<StatefulSet>,
    /// How long a rollout waits for a replaced Pod to become healthy.
    pub upgrade_pod_timeout: std::time::Duration,
}

/// The operations whose Jobs the children take (their Job events are routed; others are ignored).
pub fn child_operations(children: &ChildSpecs) -> std::collections::HashSet<Operation> {
    children.iter().map(|child| child.operation()).collect()
}

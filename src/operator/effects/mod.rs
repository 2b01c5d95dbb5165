//! Kubernetes implementations of the actors' effect traits (`openbao_actors::effects`). Each method is one or
//! two short API calls; none waits for a Job.

mod api_error;
mod backup_jobs;
mod events;
mod holder_probe;
mod job_reader;
mod lock_store;
mod status_writer;

use std::sync::Arc;

use kube::api::PatchParams;
use kube::runtime::reflector::Store;
use openbao_actors::clock::{Clock, SystemClock};
use openbao_actors::effects::ClusterEffects;
use openbao_crds::OpenBaoCluster;

pub use api_error::ApiFailure;
pub use backup_jobs::KubeBackupJobs;
pub use events::KubeEvents;
pub use holder_probe::KubeHolderProbe;
pub use job_reader::JobReader;
pub use lock_store::KubeLockStore;
pub use status_writer::{KubeStatusWriter, backup_status_patch};

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

/// Everything the actors need, wired to `client`.
pub fn kube_effects(
    client: kube::Client,
    job_settings: JobSettings,
    clusters: Store<OpenBaoCluster>,
    instance: Option<String>,
    metrics: Arc<OperatorMetrics>,
) -> ClusterEffects {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    ClusterEffects {
        locks: Arc::new(KubeLockStore::new(client.clone(), metrics.clone())),
        holders: Arc::new(KubeHolderProbe::new(client.clone())),
        jobs: Arc::new(KubeBackupJobs::new(client.clone(), job_settings)),
        backup_status: Arc::new(KubeStatusWriter::new(client.clone(), clock.clone())),
        events: Arc::new(KubeEvents::new(client, instance, clusters, metrics.clone())),
        clock,
        metrics,
    }
}

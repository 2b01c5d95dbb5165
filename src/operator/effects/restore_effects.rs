//! Kubernetes side of the restore actor: the requests of a cluster from the watch cache, a request's status,
//! finalizer and events, its Jobs (with the `<cluster>-restore` ServiceAccount), and the cluster's `Restoring`
//! condition.

use std::sync::Arc;

use futures::future::BoxFuture;
use kube::api::Patch;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Api, Resource};
use openbao_actors::backup::effects::JobCreation;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::EffectError;
use openbao_actors::restore::FINALIZER;
use openbao_actors::restore::effects::{
    RestoreEventReason, RestoreJobKind, RestoreJobRequest, RestoreJobs, RestoreRequests,
    RestoreWriter,
};
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, OpenBaoRestoreStatus, Operation};
use serde_json::json;

use super::api_error::ApiFailure;
use super::backup_jobs::{create_job, create_or_annotate};
use super::events::note;
use super::network_policy::ensure_network_policy;
use super::patch_params;
use crate::jobs::{JobSettings, executor_network_policy, restore_job, restore_service_account};

/// The requests of a cluster, read from the OpenBaoRestore watch cache.
pub struct CachedRestoreRequests {
    store: Store<OpenBaoRestore>,
}

impl CachedRestoreRequests {
    pub fn new(store: Store<OpenBaoRestore>) -> Self {
        Self { store }
    }
}

impl RestoreRequests for CachedRestoreRequests {
    fn requests_for(&self, cluster: &ClusterKey) -> Vec<Arc<OpenBaoRestore>> {
        self.store
            .state()
            .into_iter()
            .filter(|request| {
                request.metadata.namespace.as_deref() == Some(cluster.namespace.as_str())
                    && request.spec.cluster == cluster.name
            })
            .collect()
    }
}

pub struct KubeRestoreWriter {
    client: kube::Client,
    recorder: Recorder,
}

impl KubeRestoreWriter {
    pub fn new(client: kube::Client, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: "openbao-operator".to_string(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
        }
    }

    fn api(&self, request: &OpenBaoRestore) -> Api<OpenBaoRestore> {
        Api::namespaced(
            self.client.clone(),
            request.metadata.namespace.as_deref().unwrap_or_default(),
        )
    }
}

fn described(request: &OpenBaoRestore) -> String {
    format!(
        "OpenBaoRestore {}/{}",
        request.metadata.namespace.as_deref().unwrap_or_default(),
        request.metadata.name.as_deref().unwrap_or_default()
    )
}

impl RestoreWriter for KubeRestoreWriter {
    fn write_status<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        status: &'a OpenBaoRestoreStatus,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            let name = request.metadata.name.as_deref().unwrap_or_default();
            let patch = json!({"status": status});
            self.api(request)
                .patch_status(name, &patch_params(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(|error| {
                    ApiFailure::from(error)
                        .into_effect_error(format!("status of {}", described(request)))
                })
        })
    }

    fn set_finalizer<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        present: bool,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            let name = request.metadata.name.as_deref().unwrap_or_default();
            let api = self.api(request);
            let failed = |error: kube::Error| {
                ApiFailure::from(error)
                    .into_effect_error(format!("finalizer of {}", described(request)))
            };
            // Read fresh: the finalizer list is shared with others, and the write is conditioned on this read.
            let current =
                match api.get(name).await {
                    Ok(current) => current,
                    Err(error) => {
                        return match ApiFailure::from(error) {
                            ApiFailure::NotFound if !present => Ok(()),
                            other => Err(other
                                .into_effect_error(format!("finalizer of {}", described(request)))),
                        };
                    }
                };
            let mut finalizers = current.metadata.finalizers.clone().unwrap_or_default();
            let has = finalizers.iter().any(|f| f == FINALIZER);
            if has == present {
                return Ok(());
            }
            if present {
                finalizers.push(FINALIZER.to_string());
            } else {
                finalizers.retain(|f| f != FINALIZER);
            }
            // An empty list is removed, not left as `finalizers: []`.
            let finalizers = (!finalizers.is_empty()).then_some(finalizers);
            let patch = json!({"metadata": {
                "finalizers": finalizers,
                "resourceVersion": current.metadata.resource_version,
            }});
            api.patch(name, &patch_params(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(failed)
        })
    }

    fn record_event<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        reason: RestoreEventReason,
        message: String,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            let event = Event {
                type_: if reason.is_warning() {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: reason.as_str().to_string(),
                note: Some(note(&message)),
                action: "Restore".to_string(),
                secondary: None,
            };
            self.recorder
                .publish(&event, &request.object_ref(&()))
                .await
                .map_err(|error| {
                    ApiFailure::from(error).into_effect_error("cannot record an Event")
                })
        })
    }
}

pub struct KubeRestoreJobs {
    client: kube::Client,
    settings: JobSettings,
}

impl KubeRestoreJobs {
    pub fn new(client: kube::Client, settings: JobSettings) -> Self {
        Self { client, settings }
    }

    /// The destructive Job only under the grant it was decided with: the lock must still be this request's,
    /// with the same epoch (a deposed leader's late create is refused).
    async fn check_fence(
        &self,
        cluster: &OpenBaoCluster,
        request: &OpenBaoRestore,
        epoch: u64,
    ) -> Result<(), EffectError> {
        let namespace = cluster.metadata.namespace.clone().unwrap_or_default();
        let name = cluster.metadata.name.clone().unwrap_or_default();
        let api: Api<OpenBaoCluster> = Api::namespaced(self.client.clone(), &namespace);
        let current = api.get(&name).await.map_err(|error| {
            ApiFailure::from(error).into_effect_error(format!("OpenBaoCluster {namespace}/{name}"))
        })?;
        let lock = current
            .status
            .as_ref()
            .and_then(|status| status.operation_lock.as_ref());
        let holder = openbao_actors::holder::HolderId::new(
            Operation::Restore,
            request.metadata.name.as_deref().unwrap_or_default(),
        )
        .to_string();
        match lock {
            Some(lock)
                if lock.holder == holder && u64::try_from(lock.epoch).ok() == Some(epoch) =>
            {
                Ok(())
            }
            Some(lock) => Err(EffectError::Fenced(format!(
                "the restore was granted lock epoch {epoch}, but the lock is now {} by {} under epoch {}",
                lock.operation, lock.holder, lock.epoch
            ))),
            None => Err(EffectError::Fenced(format!(
                "the restore was granted lock epoch {epoch}, but the lock has been released"
            ))),
        }
    }
}

impl RestoreJobs for KubeRestoreJobs {
    fn create_restore_job<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        request: &'a OpenBaoRestore,
        job: &'a RestoreJobRequest,
    ) -> BoxFuture<'a, Result<JobCreation, EffectError>> {
        Box::pin(async move {
            let build_error = |error: crate::jobs::JobBuildError| EffectError::Build {
                context: format!(
                    "cannot build restore Job {}: {}",
                    job.job_name,
                    error.reason()
                ),
                source: Arc::new(error),
            };
            let built = restore_job(cluster, request, job, &self.settings).map_err(build_error)?;
            let target = request
                .spec
                .source
                .target
                .as_ref()
                .or_else(|| cluster.spec.backup.as_ref().map(|backup| &backup.target));
            let account = restore_service_account(cluster, target).map_err(build_error)?;
            let namespace = built.metadata.namespace.clone().unwrap_or_default();
            let account_name = account.metadata.name.clone().unwrap_or_default();
            create_or_annotate(&self.client, &namespace, &account_name, account).await?;
            let backup_target = cluster.spec.backup.as_ref().map(|backup| &backup.target);
            let policy =
                executor_network_policy(cluster, &[backup_target, target]).map_err(build_error)?;
            ensure_network_policy(&self.client, policy).await?;
            if let RestoreJobKind::Restore { epoch, .. } = &job.kind {
                self.check_fence(cluster, request, *epoch).await?;
            }
            create_job(&self.client, &built).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::mock_api::{exchange, scripted_client, status_body};
    use super::*;

    const PATH: &str = "/apis/openbao.org/v1alpha1/namespaces/ns/openbaorestores/r";
    const STATUS_PATH: &str = "/apis/openbao.org/v1alpha1/namespaces/ns/openbaorestores/r/status";

    fn request(version: &str, finalizers: &[&str]) -> OpenBaoRestore {
        serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoRestore",
            "metadata": {"name": "r", "namespace": "ns", "uid": "u-1", "resourceVersion": version,
                "finalizers": finalizers},
            "spec": {"cluster": "c", "source": {"latest": true}, "auth": {"jwt": {"role": "restore"}}},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn the_finalizer_is_added_and_removed_on_a_fresh_read_keeping_others() {
        let (client, server) = scripted_client(vec![
            exchange(
                "GET",
                PATH,
                200,
                serde_json::to_value(request("7", &["keep/me"])).unwrap(),
            ),
            exchange(
                "PATCH",
                PATH,
                200,
                serde_json::to_value(request("8", &[])).unwrap(),
            ),
            // Already present: no write.
            exchange(
                "GET",
                PATH,
                200,
                serde_json::to_value(request("8", &["keep/me", FINALIZER])).unwrap(),
            ),
            exchange(
                "GET",
                PATH,
                200,
                serde_json::to_value(request("8", &[FINALIZER])).unwrap(),
            ),
            exchange(
                "PATCH",
                PATH,
                200,
                serde_json::to_value(request("9", &[])).unwrap(),
            ),
        ]);
        let writer = KubeRestoreWriter::new(client, None);
        let cached = request("1", &[]);
        writer.set_finalizer(&cached, true).await.expect("added");
        writer
            .set_finalizer(&cached, true)
            .await
            .expect("present already");
        writer.set_finalizer(&cached, false).await.expect("removed");
        let seen = server.await.unwrap();
        assert_eq!(
            seen[1].body["metadata"],
            json!({"finalizers": ["keep/me", FINALIZER], "resourceVersion": "7"}),
            "added next to the others, conditioned on the read"
        );
        assert_eq!(
            seen[4].body["metadata"],
            json!({"finalizers": null, "resourceVersion": "8"}),
            "the last one removed leaves no empty list"
        );
    }

    #[tokio::test]
    async fn removing_the_finalizer_of_a_deleted_request_is_done_and_a_status_write_names_it() {
        let (client, server) = scripted_client(vec![
            exchange("GET", PATH, 404, status_body(404, "NotFound")),
            exchange("PATCH", STATUS_PATH, 500, status_body(500, "InternalError")),
        ]);
        let writer = KubeRestoreWriter::new(client, None);
        let cached = request("1", &[FINALIZER]);
        writer
            .set_finalizer(&cached, false)
            .await
            .expect("nothing left to remove");
        let error = writer
            .write_status(&cached, &OpenBaoRestoreStatus::default())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("OpenBaoRestore ns/r"), "{error}");
        server.await.unwrap();
    }
}

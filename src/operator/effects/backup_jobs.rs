//! Creates backup Jobs (and the per-cluster ServiceAccount they run as). A Job that exists already under the
//! deterministic name is the same backup, reported as `AlreadyExisted`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::{Patch, PostParams};
use openbao_actors::backup::effects::{BackupJobRequest, BackupJobs, JobCreation};
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::EffectError;
use openbao_crds::{OpenBaoCluster, OpenBaoClusterStatus};
use serde_json::json;

use super::api_error::ApiFailure;
use super::network_policy::ensure_network_policy;
use super::{FIELD_MANAGER, patch_params};
use crate::jobs::{JobSettings, backup_job, backup_service_account, executor_network_policy};

/// Job creations in progress at once. A built Job is ~30 KB in memory; when a thousand clusters fire in the same
/// minute, building each only once it may be sent keeps that burst out of the operator's peak memory (measured:
/// ~30 MB of Jobs waiting for an API connection before this bound).
const CONCURRENT_JOB_CREATIONS: usize = 16;

/// How long a ServiceAccount made true is trusted without a look.
const ENSURE_AGAIN_AFTER: Duration = Duration::from_secs(600);

struct Ensured {
    /// The cluster object it was made for: a cluster deleted and created again under its name lost its
    /// ServiceAccount with it (garbage collection), so the new one is ensured afresh.
    cluster_uid: Option<String>,
    annotations: BTreeMap<String, String>,
    at: Instant,
}

pub struct KubeBackupJobs {
    client: kube::Client,
    settings: JobSettings,
    in_flight: tokio::sync::Semaphore,
    /// The ServiceAccount annotations last made true per cluster, and when: a Job of an unchanged cluster needs
    /// no ServiceAccount round trips (a thousand clusters firing together would double the API load otherwise),
    /// yet a ServiceAccount deleted by hand comes back within [`ENSURE_AGAIN_AFTER`].
    ensured: Mutex<HashMap<ClusterKey, Ensured>>,
}

impl KubeBackupJobs {
    pub fn new(client: kube::Client, settings: JobSettings) -> Self {
        Self {
            client,
            settings,
            in_flight: tokio::sync::Semaphore::new(CONCURRENT_JOB_CREATIONS),
            ensured: Mutex::new(HashMap::new()),
        }
    }

    fn ensured(&self) -> std::sync::MutexGuard<'_, HashMap<ClusterKey, Ensured>> {
        self.ensured
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates the ServiceAccount, or brings its annotations in line with `spec.backup.target`; skipped when this
    /// process made the same annotations true already.
    async fn ensure_service_account(&self, cluster: &OpenBaoCluster) -> Result<(), EffectError> {
        let wanted = backup_service_account(cluster).map_err(|error| EffectError::Build {
            context: "cannot build the backup ServiceAccount".into(),
            source: Arc::new(error),
        })?;
        let namespace = wanted.metadata.namespace.clone().unwrap_or_default();
        let name = wanted.metadata.name.clone().unwrap_or_default();
        let key = ClusterKey::new(
            namespace.clone(),
            cluster.metadata.name.clone().unwrap_or_default(),
        );
        let wanted_annotations = wanted.metadata.annotations.clone().unwrap_or_default();
        let cluster_uid = cluster.metadata.uid.clone();
        let fresh = self.ensured().get(&key).is_some_and(|ensured| {
            ensured.cluster_uid == cluster_uid
                && ensured.annotations == wanted_annotations
                && ensured.at.elapsed() < ENSURE_AGAIN_AFTER
        });
        if fresh {
            return Ok(());
        }
        create_or_annotate(&self.client, &namespace, &name, wanted).await?;
        let policy = executor_network_policy(
            cluster,
            &[cluster.spec.backup.as_ref().map(|backup| &backup.target)],
        )
        .map_err(|error| EffectError::Build {
            context: "cannot build the executor NetworkPolicy".into(),
            source: Arc::new(error),
        })?;
        ensure_network_policy(&self.client, policy).await?;
        self.ensured().insert(
            key,
            Ensured {
                cluster_uid,
                annotations: wanted_annotations,
                at: Instant::now(),
            },
        );
        Ok(())
    }
}

/// Creates `job`; one that exists under its deterministic name is the same work (`AlreadyExisted`).
pub(super) async fn create_job(
    client: &kube::Client,
    job: &Job,
) -> Result<JobCreation, EffectError> {
    let namespace = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let api: Api<Job> = Api::namespaced(client.clone(), &namespace);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    match api.create(&params, job).await {
        Ok(_) => Ok(JobCreation::Created),
        Err(error) => match ApiFailure::from(error) {
            ApiFailure::AlreadyExists => Ok(JobCreation::AlreadyExisted),
            other => Err(other.into_effect_error(format!("cannot create Job {namespace}/{name}"))),
        },
    }
}

/// Creates `wanted`, or brings the annotations of the one that exists in line, if the operator made it for the
/// same cluster; one made by anyone else is refused ([`EffectError::NotOwned`]).
pub(super) async fn create_or_annotate(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    wanted: ServiceAccount,
) -> Result<(), EffectError> {
    {
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PostParams::default()
        };
        match api.create(&params, &wanted).await {
            Ok(_) => return Ok(()),
            Err(error) => match ApiFailure::from(error) {
                ApiFailure::AlreadyExists => {}
                other => {
                    return Err(other.into_effect_error(format!(
                        "cannot create ServiceAccount {namespace}/{name}"
                    )));
                }
            },
        }
        let existing = api.get(name).await.map_err(|error| {
            ApiFailure::from(error)
                .into_effect_error(format!("cannot read ServiceAccount {namespace}/{name}"))
        })?;
        if !owned_by_same_owner(&existing, &wanted) {
            return Err(EffectError::NotOwned(format!(
                "ServiceAccount {namespace}/{name} exists but the operator did not create it for this cluster; \
                 it is left untouched and backups cannot run as it: delete or rename it"
            )));
        }
        let wanted_annotations = wanted.metadata.annotations.unwrap_or_default();
        let current = existing.metadata.annotations.unwrap_or_default();
        let missing = wanted_annotations
            .iter()
            .any(|(key, value)| current.get(key) != Some(value));
        if missing {
            let patch = json!({"metadata": {"annotations": wanted_annotations}});
            api.patch(name, &patch_params(), &Patch::Merge(&patch))
                .await
                .map_err(|error| {
                    ApiFailure::from(error).into_effect_error(format!(
                        "cannot annotate ServiceAccount {namespace}/{name}"
                    ))
                })?;
        }
        Ok(())
    }
}

/// Whether `existing` was made by the operator for the cluster `wanted` is for: the same controller owner. A
/// ServiceAccount someone else made under that name (another application's, or one planted to receive the
/// backup's workload-identity annotations) is never taken over.
fn owned_by_same_owner(existing: &ServiceAccount, wanted: &ServiceAccount) -> bool {
    let controller_uid = |account: &ServiceAccount| {
        account
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|owner| owner.controller == Some(true))
            .map(|owner| owner.uid.clone())
    };
    controller_uid(wanted).is_some() && controller_uid(existing) == controller_uid(wanted)
}

/// Whether `request` may still create its Job: the lock in `status` must be held under the request's epoch. A
/// replica that lost the Lease (or an actor that lost the lock) while deciding finds a newer epoch here and backs
/// off instead of starting a second backup next to the new holder's work.
pub fn fence(
    status: Option<&OpenBaoClusterStatus>,
    request: &BackupJobRequest,
) -> Result<(), String> {
    let lock = status.and_then(|status| status.operation_lock.as_ref());
    match lock {
        Some(lock) if u64::try_from(lock.epoch).ok() == Some(request.epoch) => Ok(()),
        Some(lock) => Err(format!(
            "Job {} was granted lock epoch {}, but the lock is now {} by {} under epoch {}",
            request.job_name, request.epoch, lock.operation, lock.holder, lock.epoch
        )),
        None => Err(format!(
            "Job {} was granted lock epoch {}, but the lock has been released",
            request.job_name, request.epoch
        )),
    }
}

impl KubeBackupJobs {
    async fn check_fence(
        &self,
        cluster: &OpenBaoCluster,
        request: &BackupJobRequest,
    ) -> Result<(), EffectError> {
        let namespace = cluster.metadata.namespace.clone().unwrap_or_default();
        let name = cluster.metadata.name.clone().unwrap_or_default();
        let api: Api<OpenBaoCluster> = Api::namespaced(self.client.clone(), &namespace);
        let current = api.get(&name).await.map_err(|error| {
            ApiFailure::from(error).into_effect_error(format!("OpenBaoCluster {namespace}/{name}"))
        })?;
        fence(current.status.as_ref(), request).map_err(EffectError::Fenced)
    }
}

impl BackupJobs for KubeBackupJobs {
    fn create_backup_job<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        request: &'a BackupJobRequest,
    ) -> BoxFuture<'a, Result<JobCreation, EffectError>> {
        Box::pin(async move {
            // Never closed, so acquiring cannot fail.
            let _permit = self.in_flight.acquire().await.ok();
            let job = backup_job(cluster, request, &self.settings).map_err(|error| {
                EffectError::Build {
                    context: format!(
                        "cannot build backup Job {}: {}",
                        request.job_name,
                        error.reason()
                    ),
                    source: Arc::new(error),
                }
            })?;
            self.ensure_service_account(cluster).await?;
            self.check_fence(cluster, request).await?;
            create_job(&self.client, &job).await
        })
    }

    fn stop_backup_job<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            let api: Api<Job> = Api::namespaced(self.client.clone(), &cluster.namespace);
            // Background: the Pod goes with the Job, and the call does not wait for it.
            let params = kube::api::DeleteParams::background();
            match api.delete(job_name, &params).await {
                Ok(_) => Ok(()),
                Err(error) => match ApiFailure::from(error) {
                    ApiFailure::NotFound => Ok(()),
                    other => Err(other.into_effect_error(format!(
                        "cannot stop Job {}/{job_name}",
                        cluster.namespace
                    ))),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use openbao_crds::{BackupKind, Operation, OperationLock};

    use super::*;

    fn request(epoch: u64) -> BackupJobRequest {
        BackupJobRequest {
            job_name: "prod-manual-0123456789".into(),
            kind: BackupKind::Manual,
            epoch,
            scheduled_time: None,
            trigger: Some("t1".into()),
        }
    }

    fn status_with(lock: Option<(Operation, &str, i64)>) -> OpenBaoClusterStatus {
        OpenBaoClusterStatus {
            operation_lock: lock.map(|(operation, holder, epoch)| OperationLock {
                operation,
                holder: holder.into(),
                message: None,
                acquired_at: chrono::Utc::now(),
                renewed_at: None,
                epoch,
            }),
            ..OpenBaoClusterStatus::default()
        }
    }

    #[test]
    fn only_the_current_epoch_may_create_its_job() {
        let current = status_with(Some((
            Operation::Backup,
            "backup/prod-manual-0123456789",
            7,
        )));
        assert_eq!(fence(Some(&current), &request(7)), Ok(()));

        let newer = status_with(Some((Operation::Restore, "restore/r1", 8)));
        let refused = fence(Some(&newer), &request(7)).unwrap_err();
        assert!(
            refused.contains("epoch 7") && refused.contains("Restore by restore/r1 under epoch 8"),
            "{refused}"
        );
        assert!(
            fence(Some(&status_with(None)), &request(7))
                .unwrap_err()
                .contains("released")
        );
        assert!(fence(None, &request(7)).is_err());
    }

    mod requests {
        use serde_json::{Value, json};

        use super::super::super::mock_api::{exchange, scripted_client, status_body};
        use super::*;

        const SA_PATH: &str = "/api/v1/namespaces/ns/serviceaccounts";
        const CLUSTER_PATH: &str = "/apis/openbao.org/v1alpha1/namespaces/ns/openbaoclusters/prod";
        const JOBS_PATH: &str = "/apis/batch/v1/namespaces/ns/jobs";
        const POLICIES_PATH: &str = "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies";

        fn cluster_with_lock(epoch: i64) -> Value {
            json!({
                "apiVersion": "openbao.org/v1alpha1",
                "kind": "OpenBaoCluster",
                "metadata": {"name": "prod", "namespace": "ns", "uid": "u-1", "resourceVersion": "5"},
                "spec": {
                    "version": "2.7.2",
                    "backup": {
                        "schedule": "0 3 * * *",
                        "target": {"provider": "s3", "bucket": "b"},
                        "auth": {"jwt": {"role": "backup"}},
                    },
                },
                "status": {"operationLock": {
                    "operation": "Backup",
                    "holder": "backup/prod-manual-0123456789",
                    "acquiredAt": "2026-03-01T03:00:00Z",
                    "epoch": epoch,
                }},
            })
        }

        fn jobs(client: kube::Client) -> KubeBackupJobs {
            KubeBackupJobs::new(client, JobSettings::new("openbao-operator:test"))
        }

        fn cluster() -> OpenBaoCluster {
            serde_json::from_value(cluster_with_lock(7)).unwrap()
        }

        #[tokio::test]
        async fn an_existing_job_is_the_same_backup_and_the_service_account_is_ensured_once() {
            let (client, server) = scripted_client(vec![
                exchange(
                    "POST",
                    SA_PATH,
                    201,
                    json!({"metadata": {"name": "prod-backup"}}),
                ),
                exchange(
                    "POST",
                    POLICIES_PATH,
                    201,
                    json!({"metadata": {"name": "prod-executor"}}),
                ),
                exchange("GET", CLUSTER_PATH, 200, cluster_with_lock(7)),
                exchange("POST", JOBS_PATH, 409, status_body(409, "AlreadyExists")),
                // The second Job of the same cluster: no ServiceAccount round trip.
                exchange("GET", CLUSTER_PATH, 200, cluster_with_lock(7)),
                exchange(
                    "POST",
                    JOBS_PATH,
                    201,
                    json!({"metadata": {"name": "prod-manual-0123456789"}}),
                ),
                // The cluster deleted and created again under its name: its ServiceAccount went with the old one.
                exchange(
                    "POST",
                    SA_PATH,
                    201,
                    json!({"metadata": {"name": "prod-backup"}}),
                ),
                exchange(
                    "POST",
                    POLICIES_PATH,
                    201,
                    json!({"metadata": {"name": "prod-executor"}}),
                ),
                exchange("GET", CLUSTER_PATH, 200, cluster_with_lock(7)),
                exchange(
                    "POST",
                    JOBS_PATH,
                    201,
                    json!({"metadata": {"name": "prod-manual-0123456789"}}),
                ),
            ]);
            let jobs = jobs(client);
            let first = jobs
                .create_backup_job(&cluster(), &request(7))
                .await
                .unwrap();
            assert_eq!(first, JobCreation::AlreadyExisted);
            let second = jobs
                .create_backup_job(&cluster(), &request(7))
                .await
                .unwrap();
            assert_eq!(second, JobCreation::Created);
            let mut recreated = cluster();
            recreated.metadata.uid = Some("u-2".into());
            let third = jobs
                .create_backup_job(&recreated, &request(7))
                .await
                .unwrap();
            assert_eq!(third, JobCreation::Created);
            let seen = server.await.unwrap();
            assert_eq!(
                seen[3].body["metadata"]["annotations"]["openbao.org/lock-epoch"],
                "7"
            );
            let egress = &seen[1].body["spec"]["egress"];
            assert_eq!(egress[0]["ports"][0]["port"], 53, "DNS first: {egress}");
        }

        #[tokio::test]
        async fn a_service_account_the_operator_did_not_create_is_never_taken_over() {
            let foreign = json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "prod-backup", "namespace": "ns", "annotations": {"team": "other"}},
            });
            let (client, server) = scripted_client(vec![
                exchange("POST", SA_PATH, 409, status_body(409, "AlreadyExists")),
                exchange(
                    "GET",
                    "/api/v1/namespaces/ns/serviceaccounts/prod-backup",
                    200,
                    foreign,
                ),
            ]);
            let error = jobs(client)
                .create_backup_job(&cluster(), &request(7))
                .await
                .unwrap_err();
            assert!(matches!(error, EffectError::NotOwned(_)), "{error}");
            assert!(error.to_string().contains("ns/prod-backup"), "{error}");
            assert_eq!(server.await.unwrap().len(), 2, "no patch, no Job");
        }

        #[tokio::test]
        async fn a_stale_epoch_creates_no_job() {
            let (client, server) = scripted_client(vec![
                exchange(
                    "POST",
                    SA_PATH,
                    201,
                    json!({"metadata": {"name": "prod-backup"}}),
                ),
                exchange(
                    "POST",
                    POLICIES_PATH,
                    201,
                    json!({"metadata": {"name": "prod-executor"}}),
                ),
                exchange("GET", CLUSTER_PATH, 200, cluster_with_lock(8)),
            ]);
            let error = jobs(client)
                .create_backup_job(&cluster(), &request(7))
                .await
                .unwrap_err();
            assert!(matches!(error, EffectError::Fenced(_)), "{error}");
            assert_eq!(
                server.await.unwrap().len(),
                3,
                "no Job request after the fence"
            );
        }
    }
}

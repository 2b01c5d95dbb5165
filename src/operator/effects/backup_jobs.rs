//! Creates backup Jobs (and the per-cluster ServiceAccount they run as). A Job that exists already under the
//! deterministic name is the same backup, reported as `AlreadyExisted`.

use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::{Patch, PostParams};
use openbao_actors::effects::{BackupJobRequest, BackupJobs, EffectError, JobCreation};
use openbao_crds::OpenBaoCluster;
use serde_json::json;

use super::api_error::ApiFailure;
use super::{FIELD_MANAGER, patch_params};
use crate::jobs::{JobSettings, backup_job, backup_service_account};

/// Job creations in progress at once. A built Job is ~30 KB in memory; when a thousand clusters fire in the same
/// minute, building each only once it may be sent keeps that burst out of the operator's peak memory (measured:
/// ~30 MB of Jobs waiting for an API connection before this bound).
const CONCURRENT_JOB_CREATIONS: usize = 16;

pub struct KubeBackupJobs {
    client: kube::Client,
    settings: JobSettings,
    in_flight: tokio::sync::Semaphore,
}

impl KubeBackupJobs {
    pub fn new(client: kube::Client, settings: JobSettings) -> Self {
        Self {
            client,
            settings,
            in_flight: tokio::sync::Semaphore::new(CONCURRENT_JOB_CREATIONS),
        }
    }

    /// Creates the ServiceAccount, or brings its annotations in line with `spec.backup.target`.
    async fn ensure_service_account(&self, cluster: &OpenBaoCluster) -> Result<(), EffectError> {
        let wanted =
            backup_service_account(cluster).map_err(|error| EffectError::Api(error.to_string()))?;
        let namespace = wanted.metadata.namespace.clone().unwrap_or_default();
        let name = wanted.metadata.name.clone().unwrap_or_default();
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &namespace);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PostParams::default()
        };
        match api.create(&params, &wanted).await {
            Ok(_) => return Ok(()),
            Err(error) => match ApiFailure::from(error) {
                ApiFailure::AlreadyExists => {}
                other => {
                    return Err(EffectError::Api(format!(
                        "cannot create ServiceAccount {namespace}/{name}: {}",
                        other.message()
                    )));
                }
            },
        }
        let existing = api
            .get(&name)
            .await
            .map_err(|error| EffectError::Api(ApiFailure::from(error).message()))?;
        let wanted_annotations = wanted.metadata.annotations.unwrap_or_default();
        let current = existing.metadata.annotations.unwrap_or_default();
        let missing = wanted_annotations
            .iter()
            .any(|(key, value)| current.get(key) != Some(value));
        if missing {
            let patch = json!({"metadata": {"annotations": wanted_annotations}});
            api.patch(&name, &patch_params(), &Patch::Merge(&patch))
                .await
                .map_err(|error| EffectError::Api(ApiFailure::from(error).message()))?;
        }
        Ok(())
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
            let job = backup_job(cluster, request, &self.settings)
                .map_err(|error| EffectError::Api(format!("{}: {error}", error.reason())))?;
            self.ensure_service_account(cluster).await?;
            let namespace = job.metadata.namespace.clone().unwrap_or_default();
            let api: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PostParams::default()
            };
            match api.create(&params, &job).await {
                Ok(_) => Ok(JobCreation::Created),
                Err(error) => match ApiFailure::from(error) {
                    ApiFailure::AlreadyExists => Ok(JobCreation::AlreadyExisted),
                    other => Err(EffectError::Api(format!(
                        "cannot create Job {namespace}/{}: {}",
                        request.job_name,
                        other.message()
                    ))),
                },
            }
        })
    }
}

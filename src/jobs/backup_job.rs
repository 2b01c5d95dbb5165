//! The backup Job: an [`executor_job`] running `executor backup` as the cluster's backup ServiceAccount.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use openbao_actors::backup::effects::BackupJobRequest;
use openbao_crds::OpenBaoCluster;

use super::executor_env::backup_env;
use super::executor_job::{ExecutorAction, ExecutorJobSpec, executor_job};
use super::file_inputs::FileInputs;
use super::metadata::{
    ClusterIdentity, EPOCH_ANNOTATION, SCHEDULED_TIME_ANNOTATION, TRIGGER_ANNOTATION,
    backup_service_account_name,
};
use super::{JobBuildError, JobSettings};

/// Builds the Job for `request`. Same inputs, same Job: the name comes from the request, so re-creating it after
/// an operator restart hits AlreadyExists instead of starting a second backup.
pub fn backup_job(
    cluster: &OpenBaoCluster,
    request: &BackupJobRequest,
    settings: &JobSettings,
) -> Result<Job, JobBuildError> {
    let identity = ClusterIdentity::of(cluster)?;
    let backup = cluster
        .spec
        .backup
        .as_ref()
        .ok_or(JobBuildError::BackupNotConfigured)?;
    let files = FileInputs::for_backup(cluster, backup, settings.jwt_expiration_seconds)?;
    let env = backup_env(cluster, &identity, backup, request)?;
    let executor = backup.executor.as_ref();
    let image = executor
        .and_then(|executor| executor.image.clone())
        .unwrap_or_else(|| settings.executor_image.clone());

    let mut annotations =
        BTreeMap::from([(EPOCH_ANNOTATION.to_string(), request.epoch.to_string())]);
    if let Some(scheduled) = request.scheduled_time {
        annotations.insert(
            SCHEDULED_TIME_ANNOTATION.to_string(),
            scheduled.to_rfc3339(),
        );
    }
    if let Some(trigger) = &request.trigger {
        annotations.insert(TRIGGER_ANNOTATION.to_string(), trigger.clone());
    }

    Ok(executor_job(ExecutorJobSpec {
        name: request.job_name.clone(),
        namespace: identity.namespace.to_string(),
        action: ExecutorAction::Backup,
        image,
        resources: executor.and_then(|executor| executor.resources.clone()),
        service_account: backup_service_account_name(identity.name),
        env,
        files,
        labels: identity.backup_labels(request.kind),
        annotations,
        owner: identity.owner_reference(),
        deadline_seconds: backup.timeout_seconds,
        ttl_seconds_after_finished: settings.ttl_seconds_after_finished,
    }))
}

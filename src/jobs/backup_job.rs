//! The backup Job: one executor container, no retries, a hard deadline, and a report in its termination message.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use openbao_actors::backup::effects::BackupJobRequest;
use openbao_crds::OpenBaoCluster;

use super::executor_env::backup_env;
use super::file_inputs::FileInputs;
use super::metadata::{
    ClusterIdentity, EPOCH_ANNOTATION, SCHEDULED_TIME_ANNOTATION, TRIGGER_ANNOTATION,
    backup_service_account_name,
};
use super::security::{container_security_context, pod_security_context};
use super::{EXECUTOR_CONTAINER, JobBuildError, JobSettings, REPORT_PATH};

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
    let endpoint = cluster
        .endpoint()
        .ok_or(JobBuildError::MissingMetadata("name"))?;
    let tls_server_name = cluster
        .spec
        .tls
        .as_ref()
        .and_then(|tls| tls.server_name.as_deref());
    let files = FileInputs::for_backup(cluster, backup, settings.jwt_expiration_seconds)?;
    let mut env = backup_env(&identity, endpoint, tls_server_name, backup, request)?;
    env.extend(files.env);

    let executor = backup.executor.as_ref();
    let image = executor
        .and_then(|executor| executor.image.clone())
        .unwrap_or_else(|| settings.executor_image.clone());
    let container = Container {
        name: EXECUTOR_CONTAINER.to_string(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".to_string()),
        args: Some(vec!["executor".to_string(), "backup".to_string()]),
        env: Some(env),
        volume_mounts: Some(files.mounts),
        resources: executor.and_then(|executor| executor.resources.clone()),
        security_context: Some(container_security_context()),
        termination_message_path: Some(REPORT_PATH.to_string()),
        // A crash before the report is written still leaves the log tail where the operator looks.
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        ..Container::default()
    };

    let labels = identity.backup_labels(request.kind);
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

    Ok(Job {
        metadata: ObjectMeta {
            name: Some(request.job_name.clone()),
            namespace: Some(identity.namespace.to_string()),
            labels: Some(labels.clone()),
            annotations: Some(annotations.clone()),
            owner_references: Some(vec![identity.owner_reference()]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // A failed backup is recorded and retried by the schedule, never by Kubernetes: a retry would run
            // outside the lock decision that allowed this one.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(backup.timeout_seconds),
            ttl_seconds_after_finished: Some(settings.ttl_seconds_after_finished),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_string()),
                    service_account_name: Some(backup_service_account_name(identity.name)),
                    // The executor needs no Kubernetes API access; its only token is the audience-bound one.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod_security_context()),
                    containers: vec![container],
                    volumes: Some(files.volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

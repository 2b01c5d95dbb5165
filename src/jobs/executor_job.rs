//! The one shape of every executor Job (backup today, restore next): one executor container, no retries, a hard
//! deadline, the report in its termination message, the hardened pod, secrets only as files, and a dedicated
//! ServiceAccount whose token is never mounted for the Kubernetes API.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PodSpec, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::file_inputs::FileInputs;
use super::security::{container_security_context, pod_security_context};
use super::{EXECUTOR_CONTAINER, REPORT_PATH};

/// The executor subcommand a Job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorAction {
    Backup,
    Restore,
}

impl ExecutorAction {
    fn subcommand(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Restore => "restore",
        }
    }
}

/// What differs between executor Jobs; everything else is the same for all of them.
pub struct ExecutorJobSpec {
    pub name: String,
    pub namespace: String,
    pub action: ExecutorAction,
    pub image: String,
    pub resources: Option<ResourceRequirements>,
    pub service_account: String,
    /// Non-secret configuration; secrets arrive through `files`.
    pub env: Vec<EnvVar>,
    pub files: FileInputs,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner: OwnerReference,
    pub deadline_seconds: i64,
    pub ttl_seconds_after_finished: i32,
}

pub fn executor_job(spec: ExecutorJobSpec) -> Job {
    let mut env = spec.env;
    env.extend(spec.files.env);
    let container = Container {
        name: EXECUTOR_CONTAINER.to_string(),
        image: Some(spec.image),
        image_pull_policy: Some("IfNotPresent".to_string()),
        args: Some(vec![
            "executor".to_string(),
            spec.action.subcommand().to_string(),
        ]),
        env: Some(env),
        volume_mounts: Some(spec.files.mounts),
        resources: spec.resources,
        security_context: Some(container_security_context()),
        termination_message_path: Some(REPORT_PATH.to_string()),
        // A crash before the report is written still leaves the log tail where the operator looks.
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(spec.name),
            namespace: Some(spec.namespace),
            labels: Some(spec.labels.clone()),
            annotations: Some(spec.annotations.clone()),
            owner_references: Some(vec![spec.owner]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // A failed run is recorded and retried by its actor, never by Kubernetes: a retry would run outside
            // the lock decision that allowed this one.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(spec.deadline_seconds),
            ttl_seconds_after_finished: Some(spec.ttl_seconds_after_finished),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(spec.labels),
                    annotations: Some(spec.annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_string()),
                    service_account_name: Some(spec.service_account),
                    // The executor needs no Kubernetes API access; its only token is the audience-bound one.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod_security_context()),
                    containers: vec![container],
                    volumes: Some(spec.files.volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

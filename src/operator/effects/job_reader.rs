//! Reads a Job's state and the executor's report from its Pod: shared by the Job watcher and the children's lock
//! probes.

use chrono::Utc;
use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use openbao_actors::effects::{EffectError, JobState};

use super::api_error::ApiFailure;
use crate::operator::job_state::{JobPhase, termination_message};

/// Label the Job controller puts on a Job's Pods.
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

#[derive(Clone)]
pub struct JobReader {
    client: kube::Client,
}

impl JobReader {
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// The actors' view of `job`; for a finished Job, with the report read from its Pod.
    pub async fn state_of(&self, job: &Job) -> JobState {
        let phase = JobPhase::of(job, Utc::now());
        if !phase.is_terminal() {
            return JobState::Active;
        }
        let report = match (&job.metadata.namespace, &job.metadata.name) {
            (Some(namespace), Some(name)) => self.report(namespace, name).await,
            _ => None,
        };
        phase.with_report(report)
    }

    /// Reads the Job by name; a missing Job is `Missing`.
    pub async fn read(&self, namespace: &str, name: &str) -> Result<JobState, ApiFailure> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), namespace);
        match api.get(name).await {
            Ok(job) => Ok(self.state_of(&job).await),
            Err(error) => match ApiFailure::from(error) {
                ApiFailure::NotFound => Ok(JobState::Missing),
                other => Err(other),
            },
        }
    }

    /// The executor's termination message; `None` when the Pod is gone (e.g. deleted by hand) or wrote none.
    async fn report(&self, namespace: &str, job_name: &str) -> Option<String> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let selector = ListParams::default().labels(&format!("{JOB_NAME_LABEL}={job_name}"));
        match pods.list(&selector).await {
            Ok(list) => termination_message(&list.items),
            Err(error) => {
                tracing::warn!(namespace, job = job_name, %error, "cannot read the backup Pod's report");
                None
            }
        }
    }
}

impl openbao_actors::effects::JobReader for JobReader {
    fn job_state<'a>(
        &'a self,
        namespace: &'a str,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<JobState, EffectError>> {
        Box::pin(async move {
            self.read(namespace, job_name).await.map_err(|failure| {
                failure.into_effect_error(format!("cannot read Job {namespace}/{job_name}"))
            })
        })
    }

    fn job_label<'a>(
        &'a self,
        namespace: &'a str,
        job_name: &'a str,
        label: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, EffectError>> {
        Box::pin(async move {
            let api: Api<Job> = Api::namespaced(self.client.clone(), namespace);
            match api.get(job_name).await {
                Ok(job) => Ok(job
                    .metadata
                    .labels
                    .and_then(|mut labels| labels.remove(label))),
                Err(error) => {
                    match ApiFailure::from(error) {
                        ApiFailure::NotFound => Ok(None),
                        other => Err(other
                            .into_effect_error(format!("cannot read Job {namespace}/{job_name}"))),
                    }
                }
            }
        })
    }
}

//! The Job controller: one Pod per attempt, status and conditions as kube-controller-manager writes them,
//! deadline, backoff limit, suspend and TTL-after-finished.

mod decide;
mod pod_template;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use super::api_result::ignore_not_found;
use super::labels::BATCH_CONTROLLER_UID;
use super::object_time::now;
use super::owner::is_controlled_by;
use super::status_patch::replacing_status_patch;
use decide::{JobDecision, decide};
use pod_template::{job_pod, random_name_suffix};

#[derive(Debug, thiserror::Error)]
pub enum JobControllerError {
    #[error("Kubernetes API call failed: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot encode the Job status: {0}")]
    Encode(#[from] serde_json::Error),
}

const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

pub async fn run(client: Client) {
    Controller::new(Api::<Job>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(client))
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "job reconcile failed");
            }
        })
        .await;
}

fn error_policy(job: Arc<Job>, error: &JobControllerError, _client: Arc<Client>) -> Action {
    tracing::debug!(job = %job.name_any(), %error, "retrying job");
    Action::requeue(RETRY_AFTER_ERROR)
}

async fn reconcile(job: Arc<Job>, client: Arc<Client>) -> Result<Action, JobControllerError> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = job.namespace().unwrap_or_default();
    let job_uid = job.uid().unwrap_or_default();
    let pods_api = Api::<Pod>::namespaced((*client).clone(), &namespace);
    // Listed live rather than from a cache, so a Pod created by the previous round is always seen; by the label
    // every Job Pod carries, so a reconcile costs the same with 10 or 1,000 Pods in the namespace.
    let pods: Vec<Pod> = pods_api
        .list(&own_pods(&job_uid))
        .await?
        .items
        .into_iter()
        .filter(|pod| is_controlled_by(pod, &job_uid))
        .collect();

    let decision = decide(&job, &pods, now());
    act(&job, &client, &pods_api, decision).await
}

fn own_pods(job_uid: &str) -> ListParams {
    ListParams::default().labels(&format!("{BATCH_CONTROLLER_UID}={job_uid}"))
}

async fn act(
    job: &Job,
    client: &Client,
    pods_api: &Api<Pod>,
    decision: JobDecision,
) -> Result<Action, JobControllerError> {
    for pod_name in &decision.delete_pods {
        ignore_not_found(pods_api.delete(pod_name, &DeleteParams::default()).await)?;
    }
    for _ in 0..decision.create_pods {
        pods_api
            .create(&PostParams::default(), &job_pod(job, &random_name_suffix()))
            .await?;
    }

    let namespace = job.namespace().unwrap_or_default();
    let jobs_api = Api::<Job>::namespaced(client.clone(), &namespace);
    let old_status = serde_json::to_value(job.status.clone().unwrap_or_default())?;
    let new_status = serde_json::to_value(&decision.status)?;
    if old_status != new_status {
        let patch = replacing_status_patch(&old_status, &new_status);
        jobs_api
            .patch_status(
                &job.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
    }

    if decision.delete_job {
        // Pods are removed explicitly too, so cleanup does not depend on a garbage collector.
        let job_uid = job.uid().unwrap_or_default();
        let pods = pods_api.list(&own_pods(&job_uid)).await?.items;
        for pod in pods.iter().filter(|pod| is_controlled_by(*pod, &job_uid)) {
            ignore_not_found(
                pods_api
                    .delete(&pod.name_any(), &DeleteParams::background())
                    .await,
            )?;
        }
        ignore_not_found(
            jobs_api
                .delete(&job.name_any(), &DeleteParams::background())
                .await,
        )?;
        return Ok(Action::await_change());
    }
    Ok(decision
        .requeue_after
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}

//! What ends a Pod's life from the kubelet's point of view: graceful deletion (`deletionTimestamp`) or the Pod
//! vanishing from the API, and the final delete that removes a gracefully deleted Pod.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use tokio::sync::watch;

use crate::controllers::api_result::ignore_not_found;

/// The node every Pod is bound to: this kubelet.
pub const NODE_NAME: &str = "kube-sim-node";

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Deletion was requested; the kubelet confirms it with a final delete once the container is gone.
    Deleting { grace: Duration },
    /// The Pod no longer exists in the API.
    Gone { grace: Duration },
}

pub fn grace_period(pod: &Pod) -> Duration {
    let seconds = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|spec| spec.termination_grace_period_seconds)
        })
        .unwrap_or(DEFAULT_GRACE_SECONDS);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

pub fn deletion_requested(pod: &Pod) -> Option<Stop> {
    pod.metadata
        .deletion_timestamp
        .as_ref()
        .map(|_| Stop::Deleting {
            grace: grace_period(pod),
        })
}

/// Resolves when the Pod is being deleted or gone. Cancel-safe.
pub async fn next_stop(updates: &mut watch::Receiver<Pod>) -> Stop {
    loop {
        let (stop, grace) = {
            let pod = updates.borrow_and_update();
            (deletion_requested(&pod), grace_period(&pod))
        };
        if let Some(stop) = stop {
            return stop;
        }
        if updates.changed().await.is_err() {
            return Stop::Gone { grace };
        }
    }
}

/// Removes a gracefully deleted Pod for good (grace period 0, same uid), as the kubelet does once its containers
/// stopped.
pub async fn finish_deletion(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    ignore_not_found(
        api.delete(pod.metadata.name.as_deref().unwrap_or_default(), &params)
            .await,
    )
}

pub async fn finish(api: &Api<Pod>, pod: &Pod, stop: Stop) {
    if let Stop::Deleting { .. } = stop
        && let Err(error) = finish_deletion(api, pod).await
    {
        tracing::debug!(pod = ?pod.metadata.name, %error, "final pod delete failed");
    }
}

/// Binds the Pod to this kubelet's node (what the scheduler does), which also makes its deletion graceful: the API
/// server then only marks a bound, running Pod for deletion and waits for the kubelet's final delete.
pub async fn bind(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let bound = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .is_some_and(|node| !node.is_empty());
    if bound {
        return Ok(());
    }
    let patch = serde_json::json!({"spec": {"nodeName": NODE_NAME}});
    ignore_not_found(
        api.patch(
            pod.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await,
    )
}

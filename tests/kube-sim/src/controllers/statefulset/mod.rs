//! The StatefulSet controller: Pods `<set>-<ordinal>` labelled with their template revision, rolled out as
//! [`rollout`] decides, with the status fields `kubectl rollout status` and the operator read.

mod pod_template;
mod revision;
mod rollout;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use super::ControllersConfig;
use super::api_result::ignore_not_found;
use super::labels;
use super::owner::is_controlled_by;
use super::pod_facts::PodFacts;
use super::status_patch::replacing_status_patch;
use pod_template::{statefulset_pod, template_of};
use revision::revision_name;
use rollout::{
    PodManagement, Replica, RolloutAction, RolloutInput, UpdateStrategy, next_actions,
    rollout_status,
};

#[derive(Debug, thiserror::Error)]
pub enum StatefulSetControllerError {
    #[error("Kubernetes API call failed: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot encode the StatefulSet status: {0}")]
    Encode(#[from] serde_json::Error),
}

const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

/// Templates by revision name, so Pods below a partition can be recreated from the current revision's template.
#[derive(Default)]
struct Revisions {
    templates: Mutex<HashMap<String, PodTemplateSpec>>,
}

struct Context {
    client: Client,
    revisions: Revisions,
}

pub async fn run(client: Client, _config: Arc<ControllersConfig>) {
    let context = Arc::new(Context {
        client: client.clone(),
        revisions: Revisions::default(),
    });
    Controller::new(
        Api::<StatefulSet>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Pod>::all(client), watcher::Config::default())
    .run(reconcile, error_policy, context)
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "statefulset reconcile failed");
        }
    })
    .await;
}

fn error_policy(
    set: Arc<StatefulSet>,
    error: &StatefulSetControllerError,
    _context: Arc<Context>,
) -> Action {
    tracing::debug!(statefulset = %set.name_any(), %error, "retrying statefulset");
    Action::requeue(RETRY_AFTER_ERROR)
}

async fn reconcile(
    set: Arc<StatefulSet>,
    context: Arc<Context>,
) -> Result<Action, StatefulSetControllerError> {
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = set.name_any();
    let namespace = set.namespace().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let pods_api = Api::<Pod>::namespaced(context.client.clone(), &namespace);
    let set_uid = set.uid().unwrap_or_default();
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|pod| is_controlled_by(pod, &set_uid))
        .collect();

    let update_revision = revision_name(&name, &spec.template);
    let old_status = set.status.clone().unwrap_or_default();
    let current_revision = old_status
        .current_revision
        .clone()
        .filter(|revision| !revision.is_empty())
        .unwrap_or_else(|| update_revision.clone());
    context.remember(&update_revision, &spec.template);

    let input = RolloutInput {
        replicas: u32::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0),
        strategy: update_strategy(&set),
        management: match spec.pod_management_policy.as_deref() {
            Some("Parallel") => PodManagement::Parallel,
            _ => PodManagement::OrderedReady,
        },
        current_revision,
        update_revision: update_revision.clone(),
        pods: pods.iter().filter_map(|pod| replica(&name, pod)).collect(),
    };

    for action in next_actions(&input) {
        match action {
            RolloutAction::Create { ordinal, revision } => {
                let template = context
                    .template(&revision, &pods)
                    .unwrap_or_else(|| spec.template.clone());
                let pod = statefulset_pod(&set, &template, ordinal, &revision);
                pods_api.create(&PostParams::default(), &pod).await?;
            }
            RolloutAction::Delete { ordinal } => {
                ignore_not_found(
                    pods_api
                        .delete(&format!("{name}-{ordinal}"), &DeleteParams::default())
                        .await,
                )?;
            }
        }
    }

    let counts = rollout_status(&input);
    let status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        replicas: counts.replicas,
        ready_replicas: Some(counts.ready_replicas),
        available_replicas: Some(counts.ready_replicas),
        current_replicas: Some(counts.current_replicas),
        updated_replicas: Some(counts.updated_replicas),
        current_revision: Some(counts.current_revision),
        update_revision: Some(update_revision),
        collision_count: Some(0),
        ..StatefulSetStatus::default()
    };
    let old = serde_json::to_value(&old_status)?;
    let new = serde_json::to_value(&status)?;
    if old != new {
        let sets = Api::<StatefulSet>::namespaced(context.client.clone(), &namespace);
        sets.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&replacing_status_patch(&old, &new)),
        )
        .await?;
    }
    Ok(Action::await_change())
}

impl Context {
    fn remember(&self, revision: &str, template: &PodTemplateSpec) {
        let mut templates = self
            .revisions
            .templates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        templates
            .entry(revision.to_string())
            .or_insert_with(|| template.clone());
    }

    fn template(&self, revision: &str, pods: &[Pod]) -> Option<PodTemplateSpec> {
        let templates = self
            .revisions
            .templates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        templates.get(revision).cloned().or_else(|| {
            pods.iter()
                .find(|pod| {
                    pod.labels()
                        .get(labels::CONTROLLER_REVISION_HASH)
                        .map(String::as_str)
                        == Some(revision)
                })
                .map(template_of)
        })
    }
}

fn update_strategy(set: &StatefulSet) -> UpdateStrategy {
    let strategy = set
        .spec
        .as_ref()
        .and_then(|spec| spec.update_strategy.clone())
        .unwrap_or_default();
    match strategy.type_.as_deref() {
        Some("OnDelete") => UpdateStrategy::OnDelete,
        _ => UpdateStrategy::RollingUpdate {
            partition: strategy
                .rolling_update
                .and_then(|rolling| rolling.partition)
                .and_then(|partition| u32::try_from(partition).ok())
                .unwrap_or(0),
        },
    }
}

/// A Pod of the set with its ordinal (from its name `<set>-<ordinal>`) and revision.
fn replica(set_name: &str, pod: &Pod) -> Option<Replica> {
    let ordinal = pod
        .name_any()
        .strip_prefix(set_name)?
        .strip_prefix('-')?
        .parse()
        .ok()?;
    Some(Replica {
        ordinal,
        revision: pod
            .labels()
            .get(labels::CONTROLLER_REVISION_HASH)
            .cloned()
            .unwrap_or_default(),
        facts: PodFacts::of(pod),
    })
}

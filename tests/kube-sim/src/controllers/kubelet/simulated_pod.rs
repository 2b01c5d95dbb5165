//! A StatefulSet Pod that is not run as a process: it runs as soon as it exists, and its readiness comes from the
//! test (the `on_pod_replaced` hook's future, or the ready annotation), which stands for the real workload.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::sync::watch;

use super::PodContext;
use super::lifecycle::{bind, deletion_requested, finish};
use super::pod_status::{ContainerRunState, ContainerView, PodView};
use super::prepare::ContainerFiles;
use super::status_writer::StatusWriter;
use crate::controllers::config::{PodReadyFuture, PodReplaced, READY_ANNOTATION};
use crate::controllers::labels;
use crate::controllers::object_time::now;
use crate::controllers::pod_facts::PodPhase;

pub async fn run(context: Arc<PodContext>, mut updates: watch::Receiver<Pod>) {
    let pod = updates.borrow().clone();
    let api = Api::<Pod>::namespaced(
        context.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    if let Err(error) = bind(&api, &pod).await {
        tracing::debug!(%error, "binding the pod to the node failed");
    }
    let mut writer = StatusWriter::new(api.clone(), &pod);
    let start_time = pod
        .status
        .as_ref()
        .and_then(|status| status.start_time.as_ref())
        .map(|time| time.0)
        .unwrap_or_else(now);
    let container = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.containers.first())
        .cloned()
        .unwrap_or_default();

    // An empty log, so `kubectl logs` on a simulated Pod answers instead of failing.
    let files = ContainerFiles::of(&context.config, &pod, &container.name);
    if let Some(parent) = files.log_file.parent()
        && let Err(error) =
            std::fs::create_dir_all(parent).and_then(|()| std::fs::write(&files.log_file, b""))
    {
        tracing::debug!(%error, "cannot create the simulated pod's log");
    }

    let mut hook_future: Option<PodReadyFuture> = match (
        &context.config.pod_hooks.on_pod_replaced,
        replaced_event(&pod),
    ) {
        (Some(hook), Some(event)) => Some(hook(event)),
        _ => None,
    };
    let mut view = PodView {
        phase: PodPhase::Running,
        start_time,
        container: Some(ContainerView {
            name: container.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            state: ContainerRunState::Running {
                started_at: start_time,
            },
            last_termination: None,
            restart_count: 0,
            ready: false,
        }),
        reason: None,
    };

    loop {
        let current = updates.borrow_and_update().clone();
        if let Some(stop) = deletion_requested(&current) {
            set_ready(&mut view, false);
            writer.report(&view).await;
            return finish(&api, &current, stop).await;
        }
        let ready = annotated_readiness(&current).unwrap_or(hook_future.is_none());
        set_ready(&mut view, ready);
        writer.report(&view).await;

        let hook_done = async {
            match hook_future.as_mut() {
                Some(future) => future.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = hook_done => hook_future = None,
            changed = updates.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

fn replaced_event(pod: &Pod) -> Option<PodReplaced> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.kind == "StatefulSet")?;
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ordinal = labels
        .get(labels::POD_INDEX)
        .cloned()
        .or_else(|| {
            name.rsplit_once('-')
                .map(|(_, ordinal)| ordinal.to_string())
        })
        .and_then(|ordinal| ordinal.parse().ok())?;
    Some(PodReplaced {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        statefulset: owner.name.clone(),
        ordinal,
        revision: labels
            .get(labels::CONTROLLER_REVISION_HASH)
            .cloned()
            .unwrap_or_default(),
        pod: pod.clone(),
    })
}

fn annotated_readiness(pod: &Pod) -> Option<bool> {
    match pod
        .metadata
        .annotations
        .as_ref()?
        .get(READY_ANNOTATION)?
        .as_str()
    {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn set_ready(view: &mut PodView, ready: bool) {
    if let Some(container) = view.container.as_mut() {
        container.ready = ready;
    }
}

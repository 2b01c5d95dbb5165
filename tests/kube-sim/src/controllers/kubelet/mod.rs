//! The kubelet: every Pod the simulator holds is "scheduled" here. Job and bare Pods run their first container
//! as a local process; StatefulSet Pods are simulated (see [`simulated_pod`]) unless configured to run too.

mod command;
mod downward;
mod env;
mod expansion;
mod lifecycle;
mod paths;
mod pod_status;
mod prepare;
mod process;
mod process_pod;
mod references;
mod simulated_pod;
mod status_writer;
mod termination;
mod volumes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

pub use downward::pod_ip;
pub use process::ProcessRegistry;

use super::ControllersConfig;
use super::pod_facts::PodPhase;

/// What every Pod worker shares.
pub struct PodContext {
    pub client: Client,
    pub config: Arc<ControllersConfig>,
    pub processes: ProcessRegistry,
}

struct Worker {
    updates: watch::Sender<Pod>,
    task: AbortHandle,
}

pub async fn run(client: Client, config: Arc<ControllersConfig>, processes: ProcessRegistry) {
    let context = Arc::new(PodContext {
        client: client.clone(),
        config,
        processes,
    });
    // Workers live in this set: when the kubelet task is aborted the set is dropped, which aborts every worker and
    // drops (kills) every process.
    let mut tasks = JoinSet::new();
    let mut workers: HashMap<String, Worker> = HashMap::new();
    let mut listed: HashSet<String> = HashSet::new();
    let events = watcher(Api::<Pod>::all(client), watcher::Config::default()).default_backoff();
    futures::pin_mut!(events);

    loop {
        tokio::select! {
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            event = events.next() => match event {
                None => return,
                Some(Err(error)) => tracing::debug!(%error, "pod watch failed"),
                Some(Ok(watcher::Event::Init)) => listed.clear(),
                Some(Ok(watcher::Event::InitApply(pod))) => {
                    listed.insert(uid(&pod));
                    on_pod(&context, &mut tasks, &mut workers, pod);
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    // Pods deleted while the watch was down: dropping the sender tells their workers.
                    workers.retain(|uid, _| listed.contains(uid));
                }
                Some(Ok(watcher::Event::Apply(pod))) => on_pod(&context, &mut tasks, &mut workers, pod),
                Some(Ok(watcher::Event::Delete(pod))) => {
                    workers.remove(&uid(&pod));
                }
            },
        }
    }
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn on_pod(
    context: &Arc<PodContext>,
    tasks: &mut JoinSet<()>,
    workers: &mut HashMap<String, Worker>,
    pod: Pod,
) {
    let uid = uid(&pod);
    if let Some(worker) = workers.get(&uid)
        && !worker.task.is_finished()
    {
        worker.updates.send_replace(pod);
        return;
    }
    let deleting = pod.metadata.deletion_timestamp.is_some();
    if deleting {
        // Nothing runs for this Pod (any more): confirm the deletion at once.
        let api = Api::<Pod>::namespaced(
            context.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        tasks.spawn(async move {
            if let Err(error) = lifecycle::finish_deletion(&api, &pod).await {
                tracing::debug!(%error, "final pod delete failed");
            }
        });
        return;
    }
    if workers.contains_key(&uid) || PodPhase::of(&pod).is_terminal() {
        return;
    }
    let (updates, receiver) = watch::channel(pod.clone());
    let task = if is_simulated(&context.config, &pod) {
        tasks.spawn(simulated_pod::run(context.clone(), receiver))
    } else {
        tasks.spawn(process_pod::run(context.clone(), receiver))
    };
    workers.insert(uid, Worker { updates, task });
}

fn is_simulated(config: &ControllersConfig, pod: &Pod) -> bool {
    let owned_by_statefulset = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.kind == "StatefulSet" && owner.controller == Some(true));
    owned_by_statefulset && !config.run_statefulset_pods
}

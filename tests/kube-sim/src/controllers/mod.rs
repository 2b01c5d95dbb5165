//! Controllers that act on the simulator through its HTTP API (kube::Client), like real kube-controller-manager
//! and kubelet: Jobs become Pods, Pods become local processes, StatefulSets roll out.
//!
//! Everything here is a plain API client: it watches objects and writes them back (`create`, `patch_status`,
//! `delete`), so the server's semantics (resourceVersions, watches, status subresources) are exercised the same way
//! a real cluster's controllers exercise them.

mod api_result;
mod config;
mod job;
mod kubelet;
mod labels;
mod object_time;
mod owner;
mod pod_facts;
mod statefulset;
mod status_patch;

use std::sync::Arc;

use tokio::task::JoinHandle;

pub use config::{
    ControllersConfig, ImageMap, PodHooks, PodReadyFuture, PodReplaced, PodReplacedHook,
    READY_ANNOTATION,
};
pub use kubelet::pod_ip;

/// Starts the Job controller, the kubelet and the StatefulSet controller as tasks on the current Tokio runtime.
///
/// Must be called from inside a Tokio runtime. Dropping the returned handle stops every task and kills every process
/// the kubelet started.
pub fn spawn(client: kube::Client, config: ControllersConfig) -> ControllersHandle {
    let config = Arc::new(config);
    let processes = kubelet::ProcessRegistry::default();
    let tasks = vec![
        tokio::spawn(job::run(client.clone())),
        tokio::spawn(statefulset::run(client.clone(), config.clone())),
        tokio::spawn(kubelet::run(client, config, processes.clone())),
    ];
    ControllersHandle { tasks, processes }
}

/// Keeps the controllers running; dropping it stops them and kills the Pods' processes.
pub struct ControllersHandle {
    tasks: Vec<JoinHandle<()>>,
    processes: kubelet::ProcessRegistry,
}

impl ControllersHandle {
    /// Stops the controllers and kills the Pods' processes now (the same as dropping the handle).
    pub fn shutdown(self) {}
}

impl Drop for ControllersHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Aborted pod workers drop their children (kill_on_drop), but an abort only lands at the task's next
        // await point; killing through the registry makes the processes go away before drop returns.
        self.processes.kill_all();
    }
}

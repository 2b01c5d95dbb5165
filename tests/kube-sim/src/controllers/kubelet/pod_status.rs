//! The Pod status a kubelet reports, built from what it knows about the Pod's one running container.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::jiff::Timestamp;

use super::downward::HOST_IP;
use crate::controllers::object_time::time;
use crate::controllers::pod_facts::PodPhase;

/// Why a container stopped, as `state.terminated.reason` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminationReason {
    Completed,
    Error,
    /// Killed because the Pod's `activeDeadlineSeconds` passed.
    DeadlineExceeded,
    /// The executable could not be started at all.
    StartError,
}

impl TerminationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "Completed",
            Self::Error => "Error",
            Self::DeadlineExceeded => "DeadlineExceeded",
            Self::StartError => "StartError",
        }
    }

    pub fn for_exit_code(exit_code: i32) -> Self {
        if exit_code == 0 {
            Self::Completed
        } else {
            Self::Error
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Termination {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: TerminationReason,
    pub message: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerRunState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated(Termination),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub state: ContainerRunState,
    pub last_termination: Option<Termination>,
    pub restart_count: i32,
    pub ready: bool,
}

/// Everything the kubelet reports about a Pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    pub phase: PodPhase,
    pub start_time: Timestamp,
    pub container: Option<ContainerView>,
    /// Pod-level `reason`/`message`, e.g. `DeadlineExceeded`.
    pub reason: Option<(String, String)>,
}

/// The status to write, with `pod_ip` as `podIP` (see [`super::downward::pod_ip`]). Condition transition times are
/// kept from `previous` when a condition did not change.
pub fn pod_status(
    view: &PodView,
    pod_ip: &str,
    previous: Option<&PodStatus>,
    now: Timestamp,
) -> PodStatus {
    let ready = view
        .container
        .as_ref()
        .is_some_and(|container| container.ready);
    let not_ready_reason = match view.phase {
        PodPhase::Succeeded | PodPhase::Failed => "PodCompleted",
        _ => "ContainersNotReady",
    };
    let container_name = view
        .container
        .as_ref()
        .map(|container| container.name.as_str())
        .unwrap_or_default();
    let readiness = |kind: &str| {
        if ready {
            condition(kind, true, None, None)
        } else {
            let message = format!("containers with unready status: [{container_name}]");
            condition(kind, false, Some(not_ready_reason), Some(message))
        }
    };
    let sandbox_ready = !matches!(view.phase, PodPhase::Succeeded | PodPhase::Failed);
    let conditions = vec![
        condition("PodReadyToStartContainers", sandbox_ready, None, None),
        condition("Initialized", true, None, None),
        readiness("Ready"),
        readiness("ContainersReady"),
        condition("PodScheduled", true, None, None),
    ]
    .into_iter()
    .map(|condition| keep_transition_time(condition, previous, now))
    .collect();

    PodStatus {
        phase: Some(view.phase.as_str().to_string()),
        start_time: Some(time(view.start_time)),
        conditions: Some(conditions),
        container_statuses: view
            .container
            .as_ref()
            .map(|container| vec![container_status(container)]),
        host_ip: Some(HOST_IP.to_string()),
        host_ips: Some(vec![HostIP {
            ip: HOST_IP.to_string(),
        }]),
        pod_ip: Some(pod_ip.to_string()),
        pod_ips: Some(vec![PodIP {
            ip: pod_ip.to_string(),
        }]),
        qos_class: Some("BestEffort".to_string()),
        reason: view.reason.as_ref().map(|(reason, _)| reason.clone()),
        message: view.reason.as_ref().map(|(_, message)| message.clone()),
        ..PodStatus::default()
    }
}

fn condition(
    kind: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: kind.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.map(str::to_string),
        message,
        ..PodCondition::default()
    }
}

fn keep_transition_time(
    mut condition: PodCondition,
    previous: Option<&PodStatus>,
    now: Timestamp,
) -> PodCondition {
    let unchanged = previous
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|old| old.type_ == condition.type_ && old.status == condition.status);
    condition.last_transition_time = Some(
        unchanged
            .and_then(|old| old.last_transition_time.clone())
            .unwrap_or_else(|| time(now)),
    );
    condition
}

fn container_status(container: &ContainerView) -> ContainerStatus {
    let started = matches!(container.state, ContainerRunState::Running { .. });
    ContainerStatus {
        name: container.name.clone(),
        image: container.image.clone(),
        image_id: String::new(),
        container_id: None,
        ready: container.ready,
        started: Some(started),
        restart_count: container.restart_count,
        state: Some(container_state(&container.state)),
        last_state: Some(
            container
                .last_termination
                .as_ref()
                .map(|termination| ContainerState {
                    terminated: Some(terminated(termination)),
                    ..Default::default()
                })
                .unwrap_or_default(),
        ),
        ..ContainerStatus::default()
    }
}

fn container_state(state: &ContainerRunState) -> ContainerState {
    match state {
        ContainerRunState::Waiting { reason, message } => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.clone()),
                message: message.clone(),
            }),
            ..ContainerState::default()
        },
        ContainerRunState::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(time(*started_at)),
            }),
            ..ContainerState::default()
        },
        ContainerRunState::Terminated(termination) => ContainerState {
            terminated: Some(terminated(termination)),
            ..ContainerState::default()
        },
    }
}

fn terminated(termination: &Termination) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: termination.exit_code,
        signal: termination.signal,
        reason: Some(termination.reason.as_str().to_string()),
        message: termination.message.clone(),
        started_at: Some(time(termination.started_at)),
        finished_at: Some(time(termination.finished_at)),
        container_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn view(phase: PodPhase, state: ContainerRunState, ready: bool) -> PodView {
        PodView {
            phase,
            start_time: at("2026-03-01T12:00:00Z"),
            container: Some(ContainerView {
                name: "main".into(),
                image: "img".into(),
                state,
                last_termination: None,
                restart_count: 0,
                ready,
            }),
            reason: None,
        }
    }

    fn condition_status<'a>(status: &'a PodStatus, kind: &str) -> &'a PodCondition {
        status
            .conditions
            .iter()
            .flatten()
            .find(|condition| condition.type_ == kind)
            .unwrap()
    }

    #[test]
    fn running_ready_pod() {
        let running = ContainerRunState::Running {
            started_at: at("2026-03-01T12:00:01Z"),
        };
        let status = pod_status(
            &view(PodPhase::Running, running, true),
            "127.9.8.1",
            None,
            at("2026-03-01T12:00:02Z"),
        );
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("127.9.8.1"));
        assert_eq!(status.pod_ips.as_ref().unwrap()[0].ip, "127.9.8.1");
        assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(condition_status(&status, "Ready").status, "True");
        let container = &status.container_statuses.as_ref().unwrap()[0];
        assert!(container.ready);
        assert_eq!(container.started, Some(true));
        assert!(container.state.as_ref().unwrap().running.is_some());
    }

    #[test]
    fn failed_pod_reports_exit_code_reason_and_message() {
        let termination = Termination {
            exit_code: 3,
            signal: None,
            reason: TerminationReason::for_exit_code(3),
            message: Some("{\"stage\":\"auth\"}".into()),
            started_at: at("2026-03-01T12:00:01Z"),
            finished_at: at("2026-03-01T12:00:05Z"),
        };
        let status = pod_status(
            &view(
                PodPhase::Failed,
                ContainerRunState::Terminated(termination),
                false,
            ),
            HOST_IP,
            None,
            at("2026-03-01T12:00:05Z"),
        );
        let terminated = status.container_statuses.as_ref().unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .terminated
            .clone();
        let terminated = terminated.unwrap();
        assert_eq!(
            (terminated.exit_code, terminated.reason.as_deref()),
            (3, Some("Error"))
        );
        assert_eq!(terminated.message.as_deref(), Some("{\"stage\":\"auth\"}"));
        let ready = condition_status(&status, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("False", Some("PodCompleted"))
        );
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_time() {
        let waiting = ContainerRunState::Waiting {
            reason: "ContainerCreating".into(),
            message: None,
        };
        let first = pod_status(
            &view(PodPhase::Pending, waiting.clone(), false),
            HOST_IP,
            None,
            at("2026-03-01T12:00:00Z"),
        );
        let running = ContainerRunState::Running {
            started_at: at("2026-03-01T12:00:09Z"),
        };
        let second = pod_status(
            &view(PodPhase::Running, running, true),
            HOST_IP,
            Some(&first),
            at("2026-03-01T12:00:09Z"),
        );
        assert_eq!(
            condition_status(&second, "PodScheduled").last_transition_time,
            Some(time(at("2026-03-01T12:00:00Z")))
        );
        assert_eq!(
            condition_status(&second, "Ready").last_transition_time,
            Some(time(at("2026-03-01T12:00:09Z")))
        );
    }
}

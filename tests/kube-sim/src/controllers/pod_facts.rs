//! The few facts about a Pod that controllers decide on, read once from the API object.

use k8s_openapi::api::core::v1::Pod;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl PodPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Unknown => "Unknown",
        }
    }

    /// A Pod without a phase has not been seen by a kubelet yet: Pending.
    pub fn of(pod: &Pod) -> Self {
        match pod
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
        {
            None | Some("Pending") => Self::Pending,
            Some("Running") => Self::Running,
            Some("Succeeded") => Self::Succeeded,
            Some("Failed") => Self::Failed,
            Some(_) => Self::Unknown,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFacts {
    pub name: String,
    pub phase: PodPhase,
    /// Deletion was requested (`deletionTimestamp` set) but the Pod still exists.
    pub terminating: bool,
    pub ready: bool,
    pub restarts: i32,
}

impl PodFacts {
    pub fn of(pod: &Pod) -> Self {
        let status = pod.status.as_ref();
        Self {
            name: pod.metadata.name.clone().unwrap_or_default(),
            phase: PodPhase::of(pod),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            ready: is_ready(pod),
            restarts: status
                .and_then(|status| status.container_statuses.as_ref())
                .map(|containers| {
                    containers
                        .iter()
                        .map(|container| container.restart_count)
                        .sum()
                })
                .unwrap_or(0),
        }
    }

    /// Not finished and not on its way out: it counts as an active replica or attempt.
    pub fn is_running(&self) -> bool {
        !self.phase.is_terminal() && !self.terminating
    }
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True")
}

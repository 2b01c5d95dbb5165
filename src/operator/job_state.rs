//! A Job (and its Pod's termination message) as the actors see it: pure, so every Job shape is tested without an
//! API server.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::JobState;

use super::time::to_chrono;
use crate::jobs::{CLUSTER_LABEL, EXECUTOR_CONTAINER, OPERATION_LABEL, operation_of_label};
use openbao_crds::Operation;

/// Where a Job stands, before its report is read. Only `Complete` and `Failed` count as terminal: the newer
/// `SuccessCriteriaMet`/`FailureTarget` conditions appear while the Pod may still be terminating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobPhase {
    Active,
    Succeeded {
        finished_at: DateTime<Utc>,
    },
    Failed {
        finished_at: DateTime<Utc>,
        job_reason: Option<String>,
    },
}

impl JobPhase {
    pub fn of(job: &Job, now: DateTime<Utc>) -> Self {
        let Some(status) = job.status.as_ref() else {
            return Self::Active;
        };
        let condition = |type_: &str| {
            status
                .conditions
                .iter()
                .flatten()
                .find(|condition| condition.type_ == type_ && condition.status == "True")
        };
        if let Some(complete) = condition("Complete") {
            let finished_at = status
                .completion_time
                .as_ref()
                .or(complete.last_transition_time.as_ref())
                .and_then(to_chrono)
                .unwrap_or(now);
            return Self::Succeeded { finished_at };
        }
        if let Some(failed) = condition("Failed") {
            let finished_at = failed
                .last_transition_time
                .as_ref()
                .and_then(to_chrono)
                .unwrap_or(now);
            return Self::Failed {
                finished_at,
                job_reason: failed.reason.clone(),
            };
        }
        Self::Active
    }

    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Active)
    }

    /// The actors' view, with the executor's report attached.
    pub fn with_report(self, termination_message: Option<String>) -> JobState {
        match self {
            Self::Active => JobState::Active,
            Self::Succeeded { finished_at } => JobState::Succeeded {
                finished_at,
                termination_message,
            },
            Self::Failed {
                finished_at,
                job_reason,
            } => JobState::Failed {
                finished_at,
                job_reason,
                termination_message,
            },
        }
    }
}

/// Whose Job this is: its cluster (namespace and `openbao.org/cluster` label) and operation (the
/// `openbao.org/operation` label, which routes it to that operation's child). `None` for Jobs that are not this
/// operator's.
pub fn executor_job_owner(job: &Job) -> Option<(ClusterKey, Operation)> {
    let labels = job.metadata.labels.as_ref()?;
    let operation = labels
        .get(OPERATION_LABEL)
        .and_then(|value| operation_of_label(value))?;
    let cluster = ClusterKey::new(
        job.metadata.namespace.clone()?,
        labels.get(CLUSTER_LABEL)?.clone(),
    );
    Some((cluster, operation))
}

/// The executor's report: the termination message of the newest terminated executor container among the Job's
/// Pods.
pub fn termination_message(pods: &[Pod]) -> Option<String> {
    pods.iter()
        .filter_map(|pod| {
            let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
            let executor = statuses.iter().find(|s| s.name == EXECUTOR_CONTAINER)?;
            let terminated = executor.state.as_ref()?.terminated.as_ref()?;
            let finished = terminated.finished_at.as_ref().and_then(to_chrono);
            Some((finished, terminated.message.clone()?))
        })
        .filter(|(_, message)| !message.trim().is_empty())
        .max_by_key(|(finished, _)| *finished)
        .map(|(_, message)| message)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn job(yaml: &str) -> Job {
        serde_norway::from_str(yaml).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 3, 0, 0).unwrap()
    }

    const META: &str = "metadata: {name: c-backup-1, namespace: ns, labels: {openbao.org/cluster: c, openbao.org/operation: backup}}\n";

    #[test]
    fn phases_follow_the_terminal_conditions() {
        let active = job(&format!(
            "{META}status: {{active: 1, conditions: [{{type: SuccessCriteriaMet, status: 'True'}}]}}"
        ));
        assert_eq!(JobPhase::of(&active, now()), JobPhase::Active);

        let complete = job(&format!(
            "{META}status: {{completionTime: '2026-03-01T02:00:42Z', conditions: [{{type: Complete, status: 'True'}}]}}"
        ));
        assert_eq!(
            JobPhase::of(&complete, now()),
            JobPhase::Succeeded {
                finished_at: Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 42).unwrap()
            }
        );

        let deadline = job(&format!(
            "{META}status: {{conditions: [{{type: Failed, status: 'True', reason: DeadlineExceeded, lastTransitionTime: '2026-03-01T02:30:00Z'}}]}}"
        ));
        let phase = JobPhase::of(&deadline, now());
        assert_eq!(
            phase,
            JobPhase::Failed {
                finished_at: Utc.with_ymd_and_hms(2026, 3, 1, 2, 30, 0).unwrap(),
                job_reason: Some("DeadlineExceeded".into())
            }
        );
        assert!(matches!(
            phase.with_report(Some("{}".into())),
            JobState::Failed {
                termination_message: Some(_),
                ..
            }
        ));
        assert_eq!(
            executor_job_owner(&deadline),
            Some((ClusterKey::new("ns", "c"), Operation::Backup))
        );
        let restore = job(
            "metadata: {name: r, namespace: ns, labels: {openbao.org/cluster: c, openbao.org/operation: restore}}\n",
        );
        assert_eq!(
            executor_job_owner(&restore),
            Some((ClusterKey::new("ns", "c"), Operation::Restore))
        );
        for foreign in [
            "metadata: {name: other, namespace: ns}\n",
            "metadata: {name: x, namespace: ns, labels: {openbao.org/cluster: c, openbao.org/operation: compact}}\n",
        ] {
            assert_eq!(executor_job_owner(&job(foreign)), None, "{foreign}");
        }
    }

    #[test]
    fn the_report_is_the_newest_executor_termination_message() {
        let pod = |finished: &str, message: &str| -> Pod {
            serde_norway::from_str(&format!(
                "metadata: {{name: p}}\nstatus:\n  containerStatuses:\n  - name: executor\n    image: x\n    imageID: ''\n    ready: false\n    restartCount: 0\n    state: {{terminated: {{exitCode: 0, finishedAt: '{finished}', message: '{message}'}}}}\n"
            ))
            .unwrap()
        };
        let pods = vec![
            pod("2026-03-01T02:00:10Z", "{\"outcome\":\"failed\"}"),
            pod("2026-03-01T02:00:40Z", "{\"outcome\":\"succeeded\"}"),
            pod("2026-03-01T02:00:50Z", " "),
        ];
        assert_eq!(
            termination_message(&pods).as_deref(),
            Some("{\"outcome\":\"succeeded\"}")
        );
        assert_eq!(termination_message(&[]), None);
    }
}

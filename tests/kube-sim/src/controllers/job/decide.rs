//! The Job state machine: from a Job, the Pods it owns and the time, what the Job controller must do next.
//! Follows kube-controller-manager 1.31+: `FailureTarget`/`SuccessCriteriaMet` first, the terminal `Failed`/
//! `Complete` once no Pod of the Job is still running.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use crate::controllers::object_time::{seconds_after, time, until};
use crate::controllers::pod_facts::{PodFacts, PodPhase};

/// Kubernetes' default `spec.backoffLimit`.
const DEFAULT_BACKOFF_LIMIT: i32 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobConditionType {
    Complete,
    Failed,
    SuccessCriteriaMet,
    FailureTarget,
    Suspended,
}

impl JobConditionType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "Complete",
            Self::Failed => "Failed",
            Self::SuccessCriteriaMet => "SuccessCriteriaMet",
            Self::FailureTarget => "FailureTarget",
            Self::Suspended => "Suspended",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureReason {
    BackoffLimitExceeded,
    DeadlineExceeded,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackoffLimitExceeded => "BackoffLimitExceeded",
            Self::DeadlineExceeded => "DeadlineExceeded",
        }
    }

    fn parse(reason: &str) -> Option<Self> {
        [Self::BackoffLimitExceeded, Self::DeadlineExceeded]
            .into_iter()
            .find(|known| known.as_str() == reason)
    }

    fn message(self) -> &'static str {
        match self {
            Self::BackoffLimitExceeded => "Job has reached the specified backoff limit",
            Self::DeadlineExceeded => "Job was active longer than specified deadline",
        }
    }
}

/// What the Job controller does next; `act` carries it out in this order: delete Pods, create Pods, write status,
/// delete the Job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobDecision {
    pub create_pods: u32,
    pub delete_pods: Vec<String>,
    pub status: JobStatus,
    pub delete_job: bool,
    pub requeue_after: Option<Duration>,
}

pub fn decide(job: &Job, pods: &[Pod], now: Timestamp) -> JobDecision {
    let spec = job.spec.clone().unwrap_or_default();
    let old_status = job.status.clone().unwrap_or_default();
    let pods: Vec<PodFacts> = pods.iter().map(PodFacts::of).collect();
    let counts = PodCounts::of(&pods, restarts_count_as_failures(job));
    let running_pod_names: Vec<String> = pods
        .iter()
        .filter(|pod| pod.is_running())
        .map(|pod| pod.name.clone())
        .collect();

    let mut status = JobStatus {
        start_time: old_status.start_time.clone(),
        completion_time: old_status.completion_time.clone(),
        conditions: old_status.conditions.clone(),
        active: positive(counts.active),
        succeeded: positive(counts.succeeded),
        failed: positive(counts.failed),
        terminating: positive(counts.terminating),
        ready: Some(counts.ready),
        ..JobStatus::default()
    };
    let mut decision = JobDecision {
        create_pods: 0,
        delete_pods: Vec::new(),
        status: JobStatus::default(),
        delete_job: false,
        requeue_after: None,
    };

    if let Some(finished_at) = finish_time(&old_status) {
        // A finished Job only cleans up: stray Pods go, and the Job itself once its TTL runs out.
        decision.delete_pods = running_pod_names;
        if let Some(ttl) = spec.ttl_seconds_after_finished {
            match until(now, seconds_after(finished_at, i64::from(ttl))) {
                Some(left) => decision.requeue_after = Some(left),
                None => decision.delete_job = true,
            }
        }
        decision.status = status;
        return decision;
    }

    let completions = spec.completions.unwrap_or(1).max(1);
    let backoff_limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
    let deadline = spec
        .active_deadline_seconds
        .zip(old_status.start_time.as_ref())
        .map(|(seconds, start)| seconds_after(start.0, seconds));

    let failure = existing_failure_target(&old_status)
        .or_else(|| (counts.failed > backoff_limit).then_some(FailureReason::BackoffLimitExceeded))
        .or_else(|| {
            deadline
                .filter(|deadline| until(now, *deadline).is_none())
                .map(|_| FailureReason::DeadlineExceeded)
        });

    if counts.succeeded >= completions {
        set_condition(
            &mut status,
            JobConditionType::SuccessCriteriaMet,
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            now,
        );
        decision.delete_pods = running_pod_names;
        if counts.active + counts.terminating == 0 {
            set_condition(
                &mut status,
                JobConditionType::Complete,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            );
            status.completion_time = Some(time(now));
            decision.requeue_after = spec
                .ttl_seconds_after_finished
                .map(|ttl| Duration::from_secs(ttl.max(0) as u64));
        }
    } else if let Some(reason) = failure {
        set_condition(
            &mut status,
            JobConditionType::FailureTarget,
            reason.as_str(),
            reason.message(),
            now,
        );
        decision.delete_pods = running_pod_names;
        if counts.active + counts.terminating == 0 {
            set_condition(
                &mut status,
                JobConditionType::Failed,
                reason.as_str(),
                reason.message(),
                now,
            );
            decision.requeue_after = spec
                .ttl_seconds_after_finished
                .map(|ttl| Duration::from_secs(ttl.max(0) as u64));
        }
    } else if spec.suspend == Some(true) {
        set_condition(
            &mut status,
            JobConditionType::Suspended,
            "JobSuspended",
            "Job suspended",
            now,
        );
        // The deadline counts from the last resume, so a suspended Job forgets its start.
        status.start_time = None;
        decision.delete_pods = running_pod_names;
    } else {
        if has_condition(&status, JobConditionType::Suspended) {
            set_condition_status(
                &mut status,
                JobConditionType::Suspended,
                "False",
                "JobResumed",
                "Job resumed",
                now,
            );
        }
        let start = status.start_time.get_or_insert_with(|| time(now)).0;
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let wanted = parallelism.min(completions - counts.succeeded);
        decision.create_pods =
            u32::try_from(wanted - counts.active - counts.terminating).unwrap_or(0);
        decision.requeue_after = spec
            .active_deadline_seconds
            .and_then(|seconds| until(now, seconds_after(start, seconds)));
    }

    decision.status = status;
    decision
}

/// With `restartPolicy: OnFailure` a failing container restarts in place, and Kubernetes counts each restart
/// against `backoffLimit` just like a failed Pod.
fn restarts_count_as_failures(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|pod| pod.restart_policy.as_deref())
        == Some("OnFailure")
}

#[derive(Debug, Default)]
struct PodCounts {
    active: i32,
    terminating: i32,
    succeeded: i32,
    failed: i32,
    ready: i32,
}

impl PodCounts {
    fn of(pods: &[PodFacts], count_restarts: bool) -> Self {
        let mut counts = Self::default();
        for pod in pods {
            match pod.phase {
                PodPhase::Succeeded => counts.succeeded += 1,
                PodPhase::Failed => counts.failed += 1,
                PodPhase::Pending | PodPhase::Running | PodPhase::Unknown if pod.terminating => {
                    counts.terminating += 1
                }
                PodPhase::Pending | PodPhase::Running | PodPhase::Unknown => {
                    counts.active += 1;
                    if pod.ready {
                        counts.ready += 1;
                    }
                }
            }
            if count_restarts {
                counts.failed += pod.restarts;
            }
        }
        counts
    }
}

fn positive(count: i32) -> Option<i32> {
    (count > 0).then_some(count)
}

fn condition_is_true(status: &JobStatus, kind: JobConditionType) -> Option<&JobCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == kind.as_str() && condition.status == "True")
}

fn has_condition(status: &JobStatus, kind: JobConditionType) -> bool {
    condition_is_true(status, kind).is_some()
}

fn existing_failure_target(status: &JobStatus) -> Option<FailureReason> {
    condition_is_true(status, JobConditionType::FailureTarget)
        .and_then(|condition| condition.reason.as_deref())
        .and_then(FailureReason::parse)
}

/// When the Job reached a terminal condition: `completionTime` for success, the `Failed` transition otherwise
/// (Kubernetes sets `completionTime` only for succeeded Jobs).
fn finish_time(status: &JobStatus) -> Option<Timestamp> {
    if has_condition(status, JobConditionType::Complete) {
        return status
            .completion_time
            .as_ref()
            .map(|completed| completed.0)
            .or_else(|| {
                condition_is_true(status, JobConditionType::Complete)
                    .and_then(|condition| condition.last_transition_time.as_ref())
                    .map(|at| at.0)
            });
    }
    condition_is_true(status, JobConditionType::Failed).map(|condition| {
        condition
            .last_transition_time
            .as_ref()
            .map(|at| at.0)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    })
}

fn set_condition(
    status: &mut JobStatus,
    kind: JobConditionType,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    set_condition_status(status, kind, "True", reason, message, now);
}

/// Transition times change only when the condition's status changes, as the API conventions require.
fn set_condition_status(
    status: &mut JobStatus,
    kind: JobConditionType,
    condition_status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let position = conditions
        .iter()
        .position(|condition| condition.type_ == kind.as_str());
    let transition_time = position
        .map(|index| &conditions[index])
        .filter(|existing| existing.status == condition_status)
        .and_then(|existing| existing.last_transition_time.clone())
        .unwrap_or_else(|| time(now));
    let condition = JobCondition {
        type_: kind.as_str().to_string(),
        status: condition_status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        last_probe_time: Some(time(now)),
        last_transition_time: Some(transition_time),
    };
    match position {
        Some(index) => {
            // Keep the probe time of an unchanged condition so an idle reconcile writes nothing.
            if conditions[index].status == condition.status
                && conditions[index].reason == condition.reason
            {
                return;
            }
            conditions[index] = condition;
        }
        None => conditions.push(condition),
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

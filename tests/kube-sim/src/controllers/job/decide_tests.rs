use std::time::Duration;

use serde_json::{Value, json};

use super::*;

const NOW: &str = "2026-03-01T12:00:00Z";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn job(spec: Value, status: Value) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "backup", "namespace": "ns", "uid": "job-uid"},
        "spec": merge(json!({"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "x"}]}}}), spec),
        "status": status,
    }))
    .unwrap()
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
        base.extend(extra);
    }
    base
}

fn pod(name: &str, phase: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name}, "status": {"phase": phase}})).unwrap()
}

fn terminating_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "deletionTimestamp": "2026-03-01T11:59:59Z"},
        "status": {"phase": "Running"}
    }))
    .unwrap()
}

fn condition<'a>(status: &'a JobStatus, kind: &str) -> Option<&'a JobCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == kind)
}

fn condition_types(status: &JobStatus) -> Vec<&str> {
    status
        .conditions
        .iter()
        .flatten()
        .map(|condition| condition.type_.as_str())
        .collect()
}

#[test]
fn new_job_gets_a_start_time_and_one_pod() {
    let decision = decide(&job(json!({}), json!({})), &[], at(NOW));
    assert_eq!(decision.create_pods, 1);
    assert_eq!(decision.status.start_time, Some(time(at(NOW))));
    assert_eq!(decision.status.active, None);
    assert_eq!(decision.status.ready, Some(0));
    assert!(decision.delete_pods.is_empty());
    assert!(!decision.delete_job);
}

#[test]
fn running_pod_is_not_duplicated_and_deadline_is_scheduled() {
    let job = job(
        json!({"activeDeadlineSeconds": 60}),
        json!({"startTime": "2026-03-01T11:59:30Z"}),
    );
    let mut running = pod("backup-abcde", "Running");
    running.status.as_mut().unwrap().conditions = Some(vec![
        serde_json::from_value(json!({"type": "Ready", "status": "True"})).unwrap(),
    ]);
    let decision = decide(&job, &[running], at(NOW));
    assert_eq!(decision.create_pods, 0);
    assert_eq!(decision.status.active, Some(1));
    assert_eq!(decision.status.ready, Some(1));
    assert_eq!(decision.requeue_after, Some(Duration::from_secs(30)));
}

#[test]
fn succeeded_pod_completes_the_job() {
    let job = job(
        json!({}),
        json!({"startTime": "2026-03-01T11:59:00Z", "active": 1}),
    );
    let decision = decide(&job, &[pod("backup-abcde", "Succeeded")], at(NOW));
    assert_eq!(
        condition_types(&decision.status),
        ["SuccessCriteriaMet", "Complete"]
    );
    assert_eq!(decision.status.succeeded, Some(1));
    assert_eq!(decision.status.active, None);
    assert_eq!(decision.status.completion_time, Some(time(at(NOW))));
    assert_eq!(decision.create_pods, 0);
}

#[test]
fn failed_attempts_are_retried_until_the_backoff_limit() {
    let job = job(
        json!({"backoffLimit": 2}),
        json!({"startTime": "2026-03-01T11:59:00Z"}),
    );
    let two_failed = [pod("backup-aaaaa", "Failed"), pod("backup-bbbbb", "Failed")];
    let decision = decide(&job, &two_failed, at(NOW));
    assert_eq!(
        decision.create_pods, 1,
        "failed = backoffLimit still retries"
    );
    assert_eq!(decision.status.failed, Some(2));
    assert!(decision.status.conditions.is_none());

    let three_failed = [
        two_failed[0].clone(),
        two_failed[1].clone(),
        pod("backup-ccccc", "Failed"),
    ];
    let decision = decide(&job, &three_failed, at(NOW));
    assert_eq!(decision.create_pods, 0);
    assert_eq!(
        condition_types(&decision.status),
        ["FailureTarget", "Failed"]
    );
    let failed = condition(&decision.status, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        decision.status.completion_time, None,
        "only succeeded Jobs get a completionTime"
    );
}

#[test]
fn zero_backoff_limit_fails_on_the_first_failure() {
    let job = job(
        json!({"backoffLimit": 0}),
        json!({"startTime": "2026-03-01T11:59:00Z"}),
    );
    let decision = decide(&job, &[pod("backup-aaaaa", "Failed")], at(NOW));
    assert_eq!(
        condition(&decision.status, "Failed")
            .unwrap()
            .reason
            .as_deref(),
        Some("BackoffLimitExceeded")
    );
}

#[test]
fn deadline_kills_the_running_pod_before_failing_the_job() {
    let job = job(
        json!({"activeDeadlineSeconds": 30}),
        json!({"startTime": "2026-03-01T11:59:00Z", "active": 1}),
    );
    let decision = decide(&job, &[pod("backup-abcde", "Running")], at(NOW));
    assert_eq!(decision.delete_pods, ["backup-abcde"]);
    assert_eq!(
        condition_types(&decision.status),
        ["FailureTarget"],
        "Failed waits until the pod is gone"
    );
    assert_eq!(
        condition(&decision.status, "FailureTarget")
            .unwrap()
            .reason
            .as_deref(),
        Some("DeadlineExceeded")
    );

    // Next round: the Pod is terminating; the FailureTarget is kept and nothing new starts.
    let job_after = Job {
        status: Some(decision.status.clone()),
        ..job.clone()
    };
    let decision = decide(&job_after, &[terminating_pod("backup-abcde")], at(NOW));
    assert!(decision.delete_pods.is_empty(), "already terminating");
    assert_eq!(decision.create_pods, 0);
    assert_eq!(decision.status.terminating, Some(1));
    assert_eq!(condition_types(&decision.status), ["FailureTarget"]);

    let job_after = Job {
        status: Some(decision.status),
        ..job
    };
    let decision = decide(&job_after, &[], at(NOW));
    assert_eq!(
        condition_types(&decision.status),
        ["FailureTarget", "Failed"]
    );
    assert_eq!(
        condition(&decision.status, "Failed")
            .unwrap()
            .reason
            .as_deref(),
        Some("DeadlineExceeded")
    );
    assert_eq!(decision.create_pods, 0);
}

#[test]
fn finished_job_is_deleted_after_its_ttl() {
    let status = json!({
        "succeeded": 1, "completionTime": "2026-03-01T11:59:50Z",
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-03-01T11:59:50Z"}]
    });
    let waiting = decide(
        &job(json!({"ttlSecondsAfterFinished": 30}), status.clone()),
        &[],
        at(NOW),
    );
    assert!(!waiting.delete_job);
    assert_eq!(waiting.requeue_after, Some(Duration::from_secs(20)));

    let expired = decide(
        &job(json!({"ttlSecondsAfterFinished": 5}), status.clone()),
        &[],
        at(NOW),
    );
    assert!(expired.delete_job);

    let kept = decide(
        &job(json!({}), status),
        &[pod("backup-abcde", "Succeeded")],
        at(NOW),
    );
    assert!(!kept.delete_job);
    assert_eq!(kept.requeue_after, None);
    assert_eq!(kept.status.succeeded, Some(1));
}

#[test]
fn failed_job_ttl_counts_from_the_failed_condition() {
    let status = json!({
        "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                        "lastTransitionTime": "2026-03-01T11:59:00Z"}]
    });
    let decision = decide(
        &job(json!({"ttlSecondsAfterFinished": 90}), status),
        &[],
        at(NOW),
    );
    assert_eq!(decision.requeue_after, Some(Duration::from_secs(30)));
}

#[test]
fn suspend_stops_pods_and_resume_restarts_the_clock() {
    let suspended = job(
        json!({"suspend": true}),
        json!({"startTime": "2026-03-01T11:00:00Z", "active": 1}),
    );
    let decision = decide(&suspended, &[pod("backup-abcde", "Running")], at(NOW));
    assert_eq!(decision.delete_pods, ["backup-abcde"]);
    assert_eq!(decision.create_pods, 0);
    assert_eq!(decision.status.start_time, None);
    assert_eq!(
        condition(&decision.status, "Suspended").unwrap().status,
        "True"
    );

    let resumed = job(
        json!({"suspend": false}),
        serde_json::to_value(&decision.status).unwrap(),
    );
    let decision = decide(&resumed, &[], at(NOW));
    assert_eq!(decision.create_pods, 1);
    assert_eq!(decision.status.start_time, Some(time(at(NOW))));
    let condition = condition(&decision.status, "Suspended").unwrap();
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("False", Some("JobResumed"))
    );
}

#[test]
fn on_failure_restarts_count_against_the_backoff_limit() {
    let job: Job = {
        let mut job = job(
            json!({"backoffLimit": 1}),
            json!({"startTime": "2026-03-01T11:59:00Z"}),
        );
        job.spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .restart_policy = Some("OnFailure".into());
        job
    };
    let restarted: Pod = serde_json::from_value(json!({
        "metadata": {"name": "backup-abcde"},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "main", "image": "x", "imageID": "", "ready": false, "restartCount": 2}
        ]}
    }))
    .unwrap();
    let decision = decide(&job, &[restarted], at(NOW));
    assert_eq!(
        condition(&decision.status, "FailureTarget")
            .unwrap()
            .reason
            .as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(decision.delete_pods, ["backup-abcde"]);
}

#[test]
fn an_idle_reconcile_keeps_condition_times() {
    let first = decide(
        &job(json!({"backoffLimit": 0}), json!({})),
        &[pod("backup-a", "Failed")],
        at(NOW),
    );
    let again = decide(
        &job(
            json!({"backoffLimit": 0}),
            serde_json::to_value(&first.status).unwrap(),
        ),
        &[pod("backup-a", "Failed")],
        at("2026-03-01T12:05:00Z"),
    );
    assert_eq!(first.status.conditions, again.status.conditions);
}

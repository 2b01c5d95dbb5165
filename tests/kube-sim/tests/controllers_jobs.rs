//! The Job controller and kubelet against the real simulator: Job attempts run `sim-test-program` as a process and
//! their exit codes, termination messages and logs reach Pod and Job status.

mod controllers_support;

use std::time::Instant;

use controllers_support::{TEST_IMAGE, read, start, wait_for};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::runtime::wait::conditions;
use serde_json::json;

fn job(name: &str, spec: serde_json::Value, container: serde_json::Value) -> Job {
    let mut container_spec = json!({"name": "main", "image": TEST_IMAGE});
    container_spec
        .as_object_mut()
        .unwrap()
        .extend(container.as_object().unwrap().clone());
    let mut job_spec =
        json!({"template": {"spec": {"restartPolicy": "Never", "containers": [container_spec]}}});
    job_spec
        .as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": job_spec,
    }))
    .unwrap()
}

fn condition(job: &Job, kind: &str) -> Option<(String, Option<String>)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn has_condition(kind: &'static str) -> impl Fn(Option<&Job>) -> bool {
    move |job| {
        job.and_then(|job| condition(job, kind))
            .is_some_and(|(status, _)| status == "True")
    }
}

async fn job_pods(pods: &kube::Api<Pod>, job: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .unwrap()
        .items
}

fn terminated(pod: &Pod) -> k8s_openapi::api::core::v1::ContainerStateTerminated {
    let status = pod.status.as_ref().expect("pod status");
    let container = &status
        .container_statuses
        .as_ref()
        .expect("container statuses")[0];
    container
        .state
        .as_ref()
        .and_then(|state| state.terminated.clone())
        .expect("a terminated container")
}

#[tokio::test]
async fn successful_job_reports_its_termination_message_and_logs() {
    let cluster = start().await;
    let jobs = cluster.api::<Job>("default");
    let pods = cluster.api::<Pod>("default");
    let spec = job(
        "report",
        json!({}),
        json!({"args": ["print", "hello from the job", "write", "/dev/termination-log", "{\"ok\":true}", "exit", "0"]}),
    );
    jobs.create(&PostParams::default(), &spec).await.unwrap();

    let done = wait_for(&jobs, "report", "Complete", has_condition("Complete"))
        .await
        .unwrap();
    let status = done.status.clone().unwrap();
    assert_eq!(status.succeeded, Some(1));
    assert_eq!(status.active, None);
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    assert_eq!(
        condition(&done, "SuccessCriteriaMet")
            .map(|(s, _)| s)
            .as_deref(),
        Some("True")
    );

    let attempts = job_pods(&pods, "report").await;
    assert_eq!(attempts.len(), 1);
    let pod = &attempts[0];
    let pod_name = pod.metadata.name.clone().unwrap();
    assert!(
        pod_name.starts_with("report-") && pod_name.len() == "report-".len() + 5,
        "{pod_name}"
    );
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
    assert_eq!(owner.uid, done.metadata.uid.clone().unwrap());
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Succeeded")
    );
    let terminated = terminated(pod);
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
    assert_eq!(terminated.message.as_deref(), Some("{\"ok\":true}"));

    assert_eq!(
        read(&cluster.log_file("default", &pod_name, "main")),
        "hello from the job\n"
    );
    let logs = cluster.kubectl(&["logs", &pod_name]).await;
    assert!(
        logs.status.success(),
        "kubectl logs failed: {}",
        String::from_utf8_lossy(&logs.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&logs.stdout),
        "hello from the job\n"
    );
}

#[tokio::test]
async fn failed_attempts_are_retried_until_the_backoff_limit() {
    let cluster = start().await;
    let jobs = cluster.api::<Job>("default");
    let pods = cluster.api::<Pod>("default");
    let spec = job(
        "flaky",
        json!({"backoffLimit": 1}),
        json!({"args": ["write", "/dev/termination-log", "stage=auth", "exit", "3"]}),
    );
    jobs.create(&PostParams::default(), &spec).await.unwrap();

    let failed = wait_for(&jobs, "flaky", "Failed", has_condition("Failed"))
        .await
        .unwrap();
    assert_eq!(
        condition(&failed, "Failed").unwrap().1.as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(
        condition(&failed, "FailureTarget").unwrap().1.as_deref(),
        Some("BackoffLimitExceeded")
    );
    let status = failed.status.unwrap();
    assert_eq!(status.failed, Some(2));
    assert_eq!(status.completion_time, None);

    let attempts = job_pods(&pods, "flaky").await;
    assert_eq!(
        attempts.len(),
        2,
        "one Pod per attempt: the first and one retry"
    );
    for attempt in &attempts {
        assert_eq!(
            attempt.status.as_ref().unwrap().phase.as_deref(),
            Some("Failed")
        );
        let terminated = terminated(attempt);
        assert_eq!(
            (terminated.exit_code, terminated.reason.as_deref()),
            (3, Some("Error"))
        );
        assert_eq!(terminated.message.as_deref(), Some("stage=auth"));
    }
}

#[tokio::test]
async fn deadline_kills_the_running_process_and_fails_the_job() {
    let cluster = start().await;
    let jobs = cluster.api::<Job>("default");
    let pods = cluster.api::<Pod>("default");
    let spec = job(
        "hung",
        json!({"activeDeadlineSeconds": 2}),
        json!({"args": ["sleep-until-killed"]}),
    );
    let started = Instant::now();
    jobs.create(&PostParams::default(), &spec).await.unwrap();

    let failed = wait_for(&jobs, "hung", "Failed", has_condition("Failed"))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        condition(&failed, "Failed").unwrap().1.as_deref(),
        Some("DeadlineExceeded")
    );
    assert!(
        elapsed.as_secs_f64() >= 1.0,
        "failed after {elapsed:?}, before its deadline"
    );
    println!("job with a 2 s deadline failed after {elapsed:?}");

    // The kubelet confirms a Pod's deletion only after its process ended, so no Pod left means no process left.
    let mut remaining = job_pods(&pods, "hung").await;
    remaining.retain(|pod| pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    for pod in remaining {
        wait_for(
            &pods,
            &pod.metadata.name.clone().unwrap(),
            "deleted",
            conditions::is_deleted(&pod.metadata.uid.clone().unwrap()),
        )
        .await;
    }
    let pod_name = failed.metadata.name.clone().unwrap();
    let logs_dir = cluster.log_dir.join("default");
    let log = std::fs::read_dir(&logs_dir)
        .unwrap()
        .filter_map(Result::ok)
        .find(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{pod_name}-"))
        })
        .map(|entry| read(&entry.path().join("main.log")))
        .expect("the attempt's log");
    assert_eq!(log, "waiting for a signal\n");
}

#[tokio::test]
async fn finished_job_is_deleted_after_its_ttl_with_its_pods() {
    let cluster = start().await;
    let jobs = cluster.api::<Job>("default");
    let pods = cluster.api::<Pod>("default");
    let spec = job(
        "short-lived",
        json!({"ttlSecondsAfterFinished": 1}),
        json!({"args": ["exit", "0"]}),
    );
    jobs.create(&PostParams::default(), &spec).await.unwrap();

    let created = wait_for(&jobs, "short-lived", "Complete", has_condition("Complete"))
        .await
        .unwrap();
    wait_for(
        &jobs,
        "short-lived",
        "deleted",
        conditions::is_deleted(&created.metadata.uid.clone().unwrap()),
    )
    .await;
    let deadline = Instant::now() + controllers_support::DEADLINE;
    while !job_pods(&pods, "short-lived").await.is_empty() {
        assert!(Instant::now() < deadline, "the Job's Pods were not deleted");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn fallback_to_logs_uses_the_log_tail_as_message() {
    let cluster = start().await;
    let jobs = cluster.api::<Job>("default");
    let pods = cluster.api::<Pod>("default");
    let spec = job(
        "noisy",
        json!({"backoffLimit": 0}),
        json!({"terminationMessagePolicy": "FallbackToLogsOnError", "args": ["print", "step one", "eprint", "boom: bucket missing", "exit", "4"]}),
    );
    jobs.create(&PostParams::default(), &spec).await.unwrap();
    wait_for(&jobs, "noisy", "Failed", has_condition("Failed")).await;
    let attempt = &job_pods(&pods, "noisy").await[0];
    let terminated = terminated(attempt);
    assert_eq!(terminated.exit_code, 4);
    assert_eq!(
        terminated.message.as_deref(),
        Some("step one\nboom: bucket missing\n")
    );
}

#[tokio::test]
async fn unknown_image_fails_the_pod_with_a_pull_error() {
    let cluster = start().await;
    let jobs = cluster.api::<Job>("default");
    let pods = cluster.api::<Pod>("default");
    let spec = job(
        "typo",
        json!({"backoffLimit": 0}),
        json!({"image": "registry.example/nope:1"}),
    );
    jobs.create(&PostParams::default(), &spec).await.unwrap();
    let failed = wait_for(&jobs, "typo", "Failed", has_condition("Failed"))
        .await
        .unwrap();
    assert_eq!(
        condition(&failed, "Failed").unwrap().1.as_deref(),
        Some("BackoffLimitExceeded")
    );
    let attempt = &job_pods(&pods, "typo").await[0];
    let status = attempt.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let waiting = status.container_statuses.as_ref().unwrap()[0]
        .state
        .as_ref()
        .unwrap()
        .waiting
        .clone()
        .unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ErrImagePull"));
    assert!(waiting.message.unwrap().contains("registry.example/nope:1"));
}

#[tokio::test]
async fn suspended_job_starts_nothing_until_resumed() {
    let cluster = start().await;
    let jobs = cluster.api::<Job>("default");
    let pods = cluster.api::<Pod>("default");
    let spec = job(
        "later",
        json!({"suspend": true}),
        json!({"args": ["print", "resumed"]}),
    );
    jobs.create(&PostParams::default(), &spec).await.unwrap();
    let suspended = wait_for(&jobs, "later", "Suspended", has_condition("Suspended"))
        .await
        .unwrap();
    assert_eq!(suspended.status.as_ref().unwrap().start_time, None);
    assert!(job_pods(&pods, "later").await.is_empty());

    let resume = json!({"spec": {"suspend": false}});
    jobs.patch(
        "later",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&resume),
    )
    .await
    .unwrap();
    let done = wait_for(&jobs, "later", "Complete", has_condition("Complete"))
        .await
        .unwrap();
    assert_eq!(
        condition(&done, "Suspended"),
        Some(("False".to_string(), Some("JobResumed".to_string())))
    );
    assert!(done.status.unwrap().start_time.is_some());
}

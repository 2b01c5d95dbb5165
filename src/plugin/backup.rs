//! `kubectl openbao backup CLUSTER [--wait]`: queue a manual backup with a fresh trigger token and follow it
//! through queued → Job created → running → succeeded | failed.

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use kube::api::{Patch, PatchParams};
use openbao_crds::{BackupStatus, OpenBaoCluster, TRIGGER_BACKUP_ANNOTATION};
use serde_json::json;

use super::cli::BackupArgs;
use super::connect::Context;
use super::display::size;
use super::error::PluginError;
use super::follow::{Step, follow};
use super::lookup;
use crate::jobs::TRIGGER_ANNOTATION;
use crate::operator::time::to_chrono;

pub async fn run(context: &Context, args: BackupArgs) -> Result<(), PluginError> {
    let namespace = context.namespace()?.to_string();
    lookup::cluster(context, &args.cluster).await?;
    let token = fresh_token(Utc::now());
    let api: Api<OpenBaoCluster> = Api::namespaced(context.client.clone(), &namespace);
    let patch = json!({"metadata": {"annotations": {TRIGGER_BACKUP_ANNOTATION: token}}});
    api.patch(
        &args.cluster,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|error| {
        context.error(
            error,
            &format!("annotating OpenBaoCluster {}", args.cluster),
        )
    })?;
    println!(
        "backup of {namespace}/{} queued: trigger {token}",
        args.cluster
    );
    if !args.wait {
        return Ok(());
    }
    let outcome = follow(
        &format!("backup {token}"),
        args.timeout.as_std(),
        &args.timeout.to_string(),
        "  ",
        || look(context, &args.cluster, &token),
    )
    .await?;
    match outcome {
        Finished::Succeeded(done) => {
            println!("succeeded");
            println!("  key:       {}", done.key.as_deref().unwrap_or("-"));
            if let Some(bytes) = done.size {
                println!("  size:      {} ({bytes} bytes)", size(bytes));
            }
            println!("  digest:    {}", done.digest.as_deref().unwrap_or("-"));
            println!("  duration:  {}", done.duration.as_deref().unwrap_or("-"));
            Ok(())
        }
        Finished::Failed(failure) => {
            println!("failed");
            println!("  reason:    {}", failure.reason);
            println!("  message:   {}", failure.message);
            Err(PluginError::Failed(format!(
                "backup {token} failed: {}: {}",
                failure.reason, failure.message
            )))
        }
    }
}

/// A new annotation value: time-ordered for a person, unique enough that two runs in one second differ.
pub fn fresh_token(now: DateTime<Utc>) -> String {
    let salt = now.timestamp_subsec_nanos() ^ std::process::id().rotate_left(16);
    format!(
        "kubectl-{}-{:06x}",
        now.format("%Y%m%dt%H%M%Sz"),
        salt & 0xff_ffff
    )
}

async fn look(
    context: &Context,
    cluster: &str,
    token: &str,
) -> Result<Step<Finished>, PluginError> {
    let status = lookup::cluster(context, cluster)
        .await?
        .status
        .and_then(|status| status.backup);
    // The Job is looked up whether or not `lastHandledTrigger` still names the token: with more triggers queued,
    // the next one's Job may already exist when the plugin looks again.
    let job = lookup::jobs_of(context, cluster, "backup")
        .await?
        .into_iter()
        .find(|job| trigger_of(job) == Some(token));
    Ok(progress(token, status.as_ref(), job.as_ref()))
}

fn trigger_of(job: &Job) -> Option<&str> {
    job.metadata
        .annotations
        .as_ref()?
        .get(TRIGGER_ANNOTATION)
        .map(String::as_str)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Succeeded(Succeeded),
    Failed(Failed),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Succeeded {
    pub key: Option<String>,
    pub size: Option<i64>,
    pub digest: Option<String>,
    pub duration: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub reason: String,
    pub message: String,
}

/// Where the backup of `token` is, from the cluster's backup status and the Job carrying the token.
///
/// While `lastHandledTrigger` names the token, the Job's creation time separates this backup's result from older
/// ones: a success or failure recorded at or after it belongs to this Job (the operator runs and records one
/// backup at a time). Once a later trigger's Job exists, this Job's result was recorded before it: the Job's own
/// end tells the outcome, and the recovery point taken while it ran tells key, size and digest.
pub fn progress(token: &str, status: Option<&BackupStatus>, job: Option<&Job>) -> Step<Finished> {
    let handled_last = status.is_some_and(|s| s.last_handled_trigger.as_deref() == Some(token));
    let Some(job) = job else {
        return Step::Waiting(match status {
            _ if handled_last => "Job created".into(),
            Some(status) => match status.pending_triggers.iter().position(|t| t == token) {
                Some(index) => format!(
                    "queued ({} of {} in status.backup.pendingTriggers: a backup runs or the lock is held)",
                    index + 1,
                    status.pending_triggers.len()
                ),
                None => "queued: the operator has not seen the trigger yet".into(),
            },
            None => "queued: the operator has not seen the trigger yet".into(),
        });
    };
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let job_status = job.status.as_ref();
    let created = job.metadata.creation_timestamp.as_ref().and_then(to_chrono);
    let ended = |type_: &str| {
        job_status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == "True"))
    };
    match status {
        Some(status) if handled_last => {
            let created = created.or(status.last_attempt_time);
            let ours = |time: DateTime<Utc>| created.is_none_or(|created| time >= created);
            if let Some(failure) = status.last_failure.as_ref().filter(|f| ours(f.time)) {
                let newer_success = status.last_success_time.is_some_and(|s| s > failure.time);
                if !newer_success {
                    return Step::Done(Finished::Failed(Failed {
                        reason: failure.reason.clone(),
                        message: failure.message.clone(),
                    }));
                }
            }
            if status.last_success_time.is_some_and(ours) {
                return Step::Done(Finished::Succeeded(Succeeded {
                    key: status.last_backup_key.clone(),
                    size: status.last_backup_size,
                    digest: status.last_backup_digest.clone(),
                    duration: status.last_backup_duration.clone(),
                }));
            }
        }
        Some(status) if ended("Complete") => {
            let done = job_status
                .and_then(|s| s.completion_time.as_ref())
                .and_then(to_chrono);
            let point = status
                .recovery_points
                .iter()
                .filter(|p| created.is_none_or(|c| p.time >= c))
                .filter(|p| done.is_none_or(|d| p.time <= d + chrono::Duration::seconds(1)))
                .min_by_key(|p| p.time);
            let started = job_status
                .and_then(|s| s.start_time.as_ref())
                .and_then(to_chrono);
            // No point yet: the operator has not recorded this Job (its status lags the Job by a moment).
            if let Some(point) = point {
                return Step::Done(Finished::Succeeded(Succeeded {
                    key: Some(point.key.clone()),
                    size: Some(point.size),
                    digest: Some(point.digest.clone()),
                    duration: started
                        .zip(done)
                        .map(|(s, d)| format!("{}s", (d - s).num_seconds().max(0))),
                }));
            }
        }
        Some(_) if ended("Failed") => {
            let condition = job_status
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Failed" && c.status == "True"));
            return Step::Done(Finished::Failed(Failed {
                reason: condition
                    .and_then(|c| c.reason.clone())
                    .unwrap_or_else(|| "JobFailed".into()),
                message: condition
                    .and_then(|c| c.message.clone())
                    .unwrap_or_else(|| format!("Job {job_name} failed")),
            }));
        }
        _ => {}
    }
    let running = job_status.is_some_and(|s| s.active.unwrap_or(0) > 0 || s.start_time.is_some());
    Step::Waiting(match (ended("Complete") || ended("Failed"), running) {
        (true, _) => format!("Job {job_name} ended, waiting for the operator to record it"),
        (false, true) => format!("running (Job {job_name})"),
        (false, false) => format!("Job {job_name} created"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(value: serde_json::Value) -> BackupStatus {
        serde_json::from_value(value).expect("a backup status")
    }

    fn job(created: &str, status: serde_json::Value) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "prod-backup-1", "creationTimestamp": created,
                "annotations": {"openbao.org/trigger": "t"}},
            "status": status,
        }))
        .expect("a Job")
    }

    fn waiting(step: Step<Finished>) -> String {
        match step {
            Step::Waiting(text) => text,
            Step::Done(done) => panic!("not done yet: {done:?}"),
        }
    }

    #[test]
    fn a_trigger_moves_from_queued_to_running() {
        assert!(waiting(progress("t", None, None)).starts_with("queued"));
        let queued = status(json!({"lastHandledTrigger": "old", "pendingTriggers": ["x", "t"]}));
        assert_eq!(
            waiting(progress("t", Some(&queued), None)),
            "queued (2 of 2 in status.backup.pendingTriggers: a backup runs or the lock is held)"
        );
        let handled =
            status(json!({"lastHandledTrigger": "t", "lastSuccessTime": "2026-12-03T01:00:00Z"}));
        assert_eq!(waiting(progress("t", Some(&handled), None)), "Job created");
        let running = job("2026-12-03T02:00:00Z", json!({"active": 1}));
        assert_eq!(
            waiting(progress("t", Some(&handled), Some(&running))),
            "running (Job prod-backup-1)"
        );
    }

    #[test]
    fn only_a_result_recorded_after_the_job_was_created_is_ours() {
        let job = job("2026-12-03T02:00:00Z", json!({}));
        let old_success = status(
            json!({"lastHandledTrigger": "t", "lastSuccessTime": "2026-12-03T01:00:00Z",
            "lastFailure": {"time": "2026-12-02T00:00:00Z", "reason": "Old", "message": "m"}}),
        );
        assert!(matches!(
            progress("t", Some(&old_success), Some(&job)),
            Step::Waiting(_)
        ));
        let success = status(
            json!({"lastHandledTrigger": "t", "lastSuccessTime": "2026-12-03T02:00:05Z",
            "lastBackupKey": "k.snap", "lastBackupSize": 5, "lastBackupDigest": "sha256:aa", "lastBackupDuration": "5s"}),
        );
        let Step::Done(Finished::Succeeded(done)) = progress("t", Some(&success), Some(&job))
        else {
            panic!("succeeded");
        };
        assert_eq!(
            (done.key.as_deref(), done.duration.as_deref()),
            (Some("k.snap"), Some("5s"))
        );
        let failure = status(
            json!({"lastHandledTrigger": "t", "lastSuccessTime": "2026-12-03T01:00:00Z",
            "consecutiveFailures": 1,
            "lastFailure": {"time": "2026-12-03T02:00:09Z", "reason": "StorageError", "message": "denied"}}),
        );
        assert_eq!(
            progress("t", Some(&failure), Some(&job)).done(),
            Some(Finished::Failed(Failed {
                reason: "StorageError".into(),
                message: "denied".into()
            }))
        );
    }

    #[test]
    fn a_later_trigger_already_running_leaves_the_outcome_to_the_job_and_its_recovery_point() {
        let later = status(
            json!({"lastHandledTrigger": "next", "lastSuccessTime": "2026-12-03T02:00:20Z",
            "lastBackupKey": "next.snap",
            "recoveryPoints": [
                {"key": "next.snap", "time": "2026-12-03T02:00:20.100Z", "size": 9, "digest": "sha256:bb", "kind": "manual"},
                {"key": "ours.snap", "time": "2026-12-03T02:00:05.500Z", "size": 5, "digest": "sha256:aa", "kind": "manual"},
                {"key": "old.snap", "time": "2026-12-03T01:00:00Z", "size": 1, "digest": "sha256:00", "kind": "manual"},
            ]}),
        );
        let running = job("2026-12-03T02:00:00Z", json!({"active": 1}));
        assert_eq!(
            waiting(progress("t", Some(&later), Some(&running))),
            "running (Job prod-backup-1)"
        );
        let complete = job(
            "2026-12-03T02:00:00Z",
            json!({
            "startTime": "2026-12-03T02:00:01Z", "completionTime": "2026-12-03T02:00:05Z",
            "conditions": [{"type": "Complete", "status": "True"}]}),
        );
        let Some(Finished::Succeeded(done)) = progress("t", Some(&later), Some(&complete)).done()
        else {
            panic!("succeeded");
        };
        assert_eq!(
            (done.key.as_deref(), done.size, done.duration.as_deref()),
            (Some("ours.snap"), Some(5), Some("4s"))
        );
        let failed = job(
            "2026-12-03T02:00:00Z",
            json!({
            "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "too slow"}]}),
        );
        assert_eq!(
            progress("t", Some(&later), Some(&failed)).done(),
            Some(Finished::Failed(Failed {
                reason: "DeadlineExceeded".into(),
                message: "too slow".into()
            }))
        );
    }

    #[test]
    fn tokens_are_fresh_and_valid_annotation_values() {
        let now: DateTime<Utc> = "2026-12-03T04:00:00.123Z".parse().expect("time");
        let token = fresh_token(now);
        assert!(token.starts_with("kubectl-20261203t040000z-"), "{token}");
        assert_ne!(token, fresh_token(now + chrono::Duration::nanoseconds(1)));
    }

    impl Step<Finished> {
        fn done(self) -> Option<Finished> {
            match self {
                Step::Done(done) => Some(done),
                Step::Waiting(_) => None,
            }
        }
    }
}

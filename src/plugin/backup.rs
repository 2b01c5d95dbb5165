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
    let handled = status
        .as_ref()
        .is_some_and(|b| b.last_handled_trigger.as_deref() == Some(token));
    let job = if handled {
        lookup::jobs_of(context, cluster, "backup")
            .await?
            .into_iter()
            .find(|job| trigger_of(job) == Some(token))
    } else {
        None
    };
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
/// The Job's creation time separates this backup's result from older ones: a success or failure recorded at or
/// after it belongs to this Job (the operator records one backup at a time).
pub fn progress(token: &str, status: Option<&BackupStatus>, job: Option<&Job>) -> Step<Finished> {
    let Some(status) = status else {
        return Step::Waiting("queued: the operator has not seen the trigger yet".into());
    };
    if status.last_handled_trigger.as_deref() != Some(token) {
        return Step::Waiting(
            match status.pending_triggers.iter().position(|t| t == token) {
                Some(index) => format!(
                    "queued ({} of {} in status.backup.pendingTriggers: a backup runs or the lock is held)",
                    index + 1,
                    status.pending_triggers.len()
                ),
                None => "queued: the operator has not seen the trigger yet".into(),
            },
        );
    }
    let Some(job) = job else {
        return Step::Waiting("Job created".into());
    };
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let created = job
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(to_chrono)
        .or(status.last_attempt_time);
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
    let job_status = job.status.as_ref();
    let running = job_status.is_some_and(|s| s.active.unwrap_or(0) > 0 || s.start_time.is_some());
    let ended = job_status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed"))
        });
    Step::Waiting(match (ended, running) {
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

//! The restore actor's pure decisions: queue order, Job names, what may be validated at all, and what a finished
//! preflight or restore Job means for the request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use openbao_crds::executor_report::{ExecutorReport, ReportOutcome};
use openbao_crds::validation::is_plain_http;
use openbao_crds::{
    BackupTarget, OpenBaoCluster, OpenBaoRestore, RestorePhase, SnapshotInfo, cluster_folder,
};

use crate::effects::JobState;

/// Requests still to be worked on, oldest first (creation time, then name): the first is the one the actor
/// serves, the others wait behind it.
pub fn queue(mut requests: Vec<Arc<OpenBaoRestore>>) -> Vec<Arc<OpenBaoRestore>> {
    requests.retain(|request| !phase_of(request).is_some_and(RestorePhase::is_terminal));
    requests.sort_by(|a, b| {
        let created = |r: &OpenBaoRestore| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a)
            .cmp(&created(b))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    requests
}

pub fn phase_of(request: &OpenBaoRestore) -> Option<RestorePhase> {
    request.status.as_ref().and_then(|status| status.phase)
}

/// A short, stable tag of the request's UID: Job names come from it, so a Job is never created twice for one
/// request, and a new request under an old name gets new Jobs.
pub fn uid_tag(uid: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(uid.as_bytes());
    digest[..5].iter().map(|b| format!("{b:02x}")).collect()
}

/// Room left for the cluster's name in a Job name (the Job controller puts the name in a 63-character label).
const CLUSTER_NAME_ROOM: usize = 36;

fn job_name(cluster: &str, what: &str, uid: &str) -> String {
    let cluster: String = cluster.chars().take(CLUSTER_NAME_ROOM).collect();
    // A cut right after a dot would leave `.-`, which no Kubernetes name may contain.
    let cluster = cluster.trim_end_matches('.');
    format!("{cluster}-{what}-{}", uid_tag(uid))
}

/// The dry-run Job that pins the snapshot.
pub fn preflight_job_name(cluster: &str, uid: &str) -> String {
    job_name(cluster, "restore-check", uid)
}

/// The destructive restore Job.
pub fn restore_job_name(cluster: &str, uid: &str) -> String {
    job_name(cluster, "restore", uid)
}

/// Why a request fails before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

/// Checks what needs no Job: the cluster has a place to read from, and a named key lies in the cluster's own
/// folder unless `force` allows another cluster's.
pub fn admit(cluster: &OpenBaoCluster, request: &OpenBaoRestore) -> Result<(), Refusal> {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let namespace = cluster.metadata.namespace.as_deref().unwrap_or_default();
    let Some(target) = source_target(cluster, request) else {
        return Err(Refusal {
            reason: "NoBackupTarget",
            message: format!(
                "OpenBaoCluster {cluster_name} has no spec.backup.target and the request sets no \
                 spec.source.target: there is nowhere to read a snapshot from"
            ),
        });
    };
    if let Some(endpoint) = request
        .spec
        .source
        .target
        .as_ref()
        .and_then(BackupTarget::endpoint)
        .filter(|endpoint| is_plain_http(endpoint) && !cluster.spec.allow_plain_http)
    {
        return Err(Refusal {
            reason: "PlainHttpNotAllowed",
            message: format!(
                "spec.source.target endpoint {endpoint} is plain http://: credentials would travel unencrypted; \
                 use https://, or set spec.allowPlainHttp: true on OpenBaoCluster {cluster_name}"
            ),
        });
    }
    if request.spec.auth.method().is_none() {
        return Err(Refusal {
            reason: "InvalidAuth",
            message: "spec.auth must set exactly one of jwt or tokenSecretRef".into(),
        });
    }
    if let Some(key) = &request.spec.source.key {
        let folder = cluster_folder(target.path_prefix.as_deref(), namespace, cluster_name);
        let inside = key
            .strip_prefix(&folder)
            .is_some_and(|name| !name.is_empty() && !name.contains('/') && name.ends_with(".snap"));
        if !inside && !request.spec.force {
            return Err(Refusal {
                reason: "KeyOutsideClusterFolder",
                message: format!(
                    "{key} is not a snapshot of this cluster (its snapshots are directly under {folder}); \
                     restoring another cluster's snapshot needs force: true"
                ),
            });
        }
    }
    Ok(())
}

/// Where the request reads from: its own `source.target`, or the cluster's backup target.
pub fn source_target<'a>(
    cluster: &'a OpenBaoCluster,
    request: &'a OpenBaoRestore,
) -> Option<&'a BackupTarget> {
    request
        .spec
        .source
        .target
        .as_ref()
        .or_else(|| cluster.spec.backup.as_ref().map(|backup| &backup.target))
}

/// What a finished preflight Job means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightVerdict {
    Pinned(SnapshotInfo),
    Refused { reason: String, message: String },
}

/// What a finished restore Job means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreVerdict {
    pub phase: RestorePhase,
    /// `RestoreComplete` condition reason.
    pub reason: String,
    pub message: String,
    /// The cluster came back sealed: it must be unsealed with the source cluster's keys.
    pub sealed: bool,
}

fn report_of(termination_message: Option<&String>) -> Option<Result<ExecutorReport, String>> {
    termination_message.map(|text| ExecutorReport::parse(text).map_err(|error| error.to_string()))
}

fn failure_of(report: &ExecutorReport, fallback_reason: &str) -> (String, String) {
    let reason = report
        .reason
        .clone()
        .unwrap_or_else(|| fallback_reason.to_string());
    let message = match (&report.stage, &report.message) {
        (Some(stage), Some(message)) => format!("stage {stage}: {message}"),
        (None, Some(message)) => message.clone(),
        (Some(stage), None) => format!("failed at stage {stage}"),
        (None, None) => "the executor reported a failure without a message".to_string(),
    };
    (reason, message)
}

/// The pinned snapshot from a dry-run report, if it names one completely.
pub fn pinned_snapshot(report: &ExecutorReport) -> Option<SnapshotInfo> {
    let key = report.key.clone()?;
    let digest = report.digest.clone()?;
    Some(SnapshotInfo {
        key,
        size: report.size.and_then(|size| i64::try_from(size).ok()),
        digest: Some(digest),
        created_at: report.created_at(),
        source_cluster_id: report.cluster_id.clone(),
        version: report.version.clone(),
    })
}

/// `None` while the Job runs.
pub fn preflight_verdict(state: &JobState) -> Option<PreflightVerdict> {
    let refused = |reason: &str, message: String| {
        Some(PreflightVerdict::Refused {
            reason: reason.to_string(),
            message,
        })
    };
    match state {
        JobState::Active => None,
        JobState::Missing => refused(
            "PreflightJobLost",
            "the validation Job disappeared before it reported; create a new OpenBaoRestore".into(),
        ),
        JobState::Succeeded {
            termination_message,
            ..
        } => match report_of(termination_message.as_ref()) {
            Some(Ok(report)) if report.outcome == Some(ReportOutcome::DryRun) => {
                match pinned_snapshot(&report) {
                    Some(snapshot) => Some(PreflightVerdict::Pinned(snapshot)),
                    None => refused(
                        "ReportUnreadable",
                        "the validation Job's report names no snapshot key and digest".into(),
                    ),
                }
            }
            Some(Ok(report)) => {
                let (reason, message) = failure_of(&report, "ValidationFailed");
                refused(&reason, message)
            }
            Some(Err(error)) => refused("ReportUnreadable", error),
            None => refused(
                "ReportUnreadable",
                "the validation Job succeeded without a report".into(),
            ),
        },
        JobState::Failed {
            job_reason,
            termination_message,
            ..
        } => match report_of(termination_message.as_ref()) {
            Some(Ok(report)) => {
                let (reason, message) = failure_of(&report, "ValidationFailed");
                refused(&reason, message)
            }
            _ => {
                let reason = job_reason
                    .clone()
                    .unwrap_or_else(|| "ValidationFailed".into());
                refused(
                    &reason,
                    format!(
                        "the validation Job failed ({reason}) without a readable report; see its logs"
                    ),
                )
            }
        },
    }
}

/// `None` while the Job runs. A vanished Job is never re-created: the restore may have run.
pub fn restore_verdict(state: &JobState) -> Option<RestoreVerdict> {
    let failed = |reason: String, message: String| {
        Some(RestoreVerdict {
            phase: RestorePhase::Failed,
            reason,
            message,
            sealed: false,
        })
    };
    match state {
        JobState::Active => None,
        JobState::Missing => failed(
            "RestoreJobLost".into(),
            "the restore Job is gone and its outcome is unknown; it is never re-created automatically: check \
             the cluster's data, then create a new OpenBaoRestore if needed"
                .into(),
        ),
        JobState::Succeeded {
            termination_message,
            ..
        } => match report_of(termination_message.as_ref()) {
            Some(Ok(report)) => match report.outcome {
                Some(ReportOutcome::Succeeded) => Some(RestoreVerdict {
                    phase: RestorePhase::Completed,
                    reason: "RestoreSucceeded".into(),
                    message: format!(
                        "restored {}; the cluster is active",
                        report.key.as_deref().unwrap_or("the snapshot")
                    ),
                    sealed: false,
                }),
                Some(ReportOutcome::SucceededSealed) => Some(RestoreVerdict {
                    phase: RestorePhase::Completed,
                    reason: "RestoredSealed".into(),
                    message: format!(
                        "restored {}; the cluster is sealed: unseal it with the unseal (or recovery) keys of the \
                         cluster the snapshot came from",
                        report.key.as_deref().unwrap_or("the snapshot")
                    ),
                    sealed: true,
                }),
                _ => {
                    let (reason, message) = failure_of(&report, "RestoreFailed");
                    failed(reason, message)
                }
            },
            Some(Err(error)) => failed(
                "ReportUnreadable".into(),
                format!("the restore Job succeeded but its report cannot be read ({error}): check the cluster"),
            ),
            None => failed(
                "ReportUnreadable".into(),
                "the restore Job succeeded without a report: check the cluster".into(),
            ),
        },
        JobState::Failed {
            job_reason,
            termination_message,
            ..
        } => match report_of(termination_message.as_ref()) {
            Some(Ok(report)) => {
                let (reason, message) = failure_of(&report, "RestoreFailed");
                failed(reason, message)
            }
            _ => {
                let reason = job_reason.clone().unwrap_or_else(|| "RestoreFailed".into());
                failed(
                    reason.clone(),
                    format!("the restore Job failed ({reason}) without a readable report; see its logs and check the cluster"),
                )
            }
        },
    }
}

/// How long a request took, from its start to `now`.
pub fn elapsed_since(
    start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<std::time::Duration> {
    (now - start?).to_std().ok()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "spec_properties.rs"]
mod spec_properties;

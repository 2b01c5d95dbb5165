//! The actor-side view of the executor's report: the JSON a backup Job writes to its termination message.
//!
//! Field names match the executor's report (camelCase). Every field is optional here and unknown fields are
//! ignored, so an executor of a newer or older release still yields what it does carry; the backup actor decides
//! what a missing field means.

use chrono::{DateTime, Utc};
use openbao_crds::BackupKind;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportOutcome {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecutorReport {
    pub outcome: Option<ReportOutcome>,
    pub kind: Option<BackupKind>,
    /// Object key of the uploaded snapshot.
    pub key: Option<String>,
    pub size: Option<u64>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    /// Failing stage (`config`, `auth`, `leader`, `snapshot`, `storage`, `verify`).
    pub stage: Option<String>,
    /// Low-cardinality failure reason, copied into `status.backup.lastFailure.reason`.
    pub reason: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("the executor report is not valid JSON: {0}")]
pub struct ReportError(#[from] serde_json::Error);

impl ReportError {
    pub fn reason(&self) -> &'static str {
        "ReportUnreadable"
    }
}

impl ExecutorReport {
    pub fn parse(termination_message: &str) -> Result<Self, ReportError> {
        Ok(serde_json::from_str(termination_message.trim())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_success_report_and_ignores_unknown_fields() {
        let report = ExecutorReport::parse(
            r#"{"outcome":"succeeded","kind":"pre-upgrade","key":"p/ns/c/x.snap","size":3100000,
               "digest":"sha256:ab","startedAt":"2026-01-01T03:00:05Z","finishedAt":"2026-01-01T03:00:47Z",
               "durationSeconds":42.0,"clusterId":"cid","retention":{"deleted":[]}}"#,
        )
        .unwrap();
        assert_eq!(report.outcome, Some(ReportOutcome::Succeeded));
        assert_eq!(report.kind, Some(BackupKind::PreUpgrade));
        assert_eq!(report.size, Some(3_100_000));
        assert_eq!(report.duration_seconds, Some(42.0));
    }

    #[test]
    fn a_failure_report_carries_stage_and_reason() {
        let report = ExecutorReport::parse(
            r#"{"outcome":"failed","stage":"auth","reason":"AuthFailed","message":"permission denied"}"#,
        )
        .unwrap();
        assert_eq!(report.reason.as_deref(), Some("AuthFailed"));
        assert_eq!(report.stage.as_deref(), Some("auth"));
        assert!(ExecutorReport::parse("not json").is_err());
    }
}

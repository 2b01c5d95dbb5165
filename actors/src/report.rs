//! The actor-side view of the executor's report: the JSON a backup Job writes to its termination message
//! (`src/executor/report.rs` writes it; this crate must not depend on the binary, so it reads its own view).
//!
//! Field names match the executor's report (camelCase). Every field is optional here and unknown fields and
//! outcomes are tolerated, so an executor of a newer or older release still yields what it does carry; the
//! backup actor decides what a missing field means. Times stay text and are parsed leniently for the same reason.

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReportOutcome {
    Succeeded,
    SucceededSealed,
    DryRun,
    Failed,
    #[serde(other)]
    Unrecognized,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecutorReport {
    pub outcome: Option<ReportOutcome>,
    /// Object key of the uploaded snapshot.
    pub key: Option<String>,
    pub size: Option<u64>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
    pub duration_seconds: Option<f64>,
    /// When the snapshot was taken (RFC 3339), from its manifest.
    pub created: Option<String>,
    /// Failing stage (`config`, `auth`, `leader`, `snapshot`, `storage`, `verify`).
    pub stage: Option<String>,
    /// Low-cardinality failure reason, copied into `status.backup.lastFailure.reason`.
    pub reason: Option<String>,
    pub message: Option<String>,
    /// Retention failed after the backup itself succeeded.
    pub retention_error: Option<String>,
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

    /// `created` as a time, if it is RFC 3339.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        let created = self.created.as_deref()?;
        DateTime::parse_from_rfc3339(created)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_executors_success_report_and_ignores_unknown_fields() {
        let report = ExecutorReport::parse(
            r#"{"operation":"backup","outcome":"succeeded","key":"p/ns/c/x.snap","digest":"sha256:ab",
               "size":3100000,"durationSeconds":42.0,"clusterId":"cid","version":"2.7.2","raftIndex":4,
               "raftTerm":2,"created":"2026-01-01T03:00:05Z","deletedKeys":["p/ns/c/old.snap"]}"#,
        )
        .unwrap();
        assert_eq!(report.outcome, Some(ReportOutcome::Succeeded));
        assert_eq!(report.size, Some(3_100_000));
        assert_eq!(report.duration_seconds, Some(42.0));
        assert_eq!(
            report.created_at(),
            Some(
                DateTime::parse_from_rfc3339("2026-01-01T03:00:05Z")
                    .unwrap()
                    .to_utc()
            )
        );
    }

    #[test]
    fn a_failure_report_carries_stage_and_reason() {
        let report = ExecutorReport::parse(
            r#"{"operation":"backup","outcome":"failed","durationSeconds":1.5,"stage":"auth",
               "reason":"AuthFailed","message":"permission denied"}"#,
        )
        .unwrap();
        assert_eq!(report.outcome, Some(ReportOutcome::Failed));
        assert_eq!(report.reason.as_deref(), Some("AuthFailed"));
        assert_eq!(report.stage.as_deref(), Some("auth"));
        assert!(ExecutorReport::parse("not json").is_err());
    }

    #[test]
    fn unknown_outcomes_and_odd_times_do_not_break_parsing() {
        let report =
            ExecutorReport::parse(r#"{"outcome":"somethingNew","created":"yesterday"}"#).unwrap();
        assert_eq!(report.outcome, Some(ReportOutcome::Unrecognized));
        assert_eq!(report.created_at(), None);
    }
}

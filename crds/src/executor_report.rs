//! The executor's report: the JSON an executor Job writes to its termination message, and the operator reads back.
//! One type for both sides, so a field cannot be renamed on one side only.
//!
//! Reading is lenient: every field is optional, unknown fields are ignored and unknown outcomes read as
//! [`ReportOutcome::Unrecognized`], so an executor of another release still yields what it carries (the actors
//! decide what a missing field means). Writing is bounded: Kubernetes keeps at most 4096 bytes of a termination
//! message, so [`ExecutorReport::render`] drops deleted keys (keeping their count) and shortens the message until
//! the document fits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Kubernetes truncates termination messages at 4096 bytes; stay below it.
pub const MAX_REPORT_BYTES: usize = 4000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportOperation {
    Backup,
    Restore,
    #[serde(other)]
    Unrecognized,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReportOutcome {
    Succeeded,
    /// A restore completed and the cluster is sealed: it must be unsealed with the source cluster's keys.
    SucceededSealed,
    /// A dry-run restore found everything in order and changed nothing.
    DryRun,
    Failed,
    #[serde(other)]
    Unrecognized,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecutorReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<ReportOperation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ReportOutcome>,
    /// Object key of the snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `sha256:<hex>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_term: Option<u64>,
    /// When the snapshot was taken (RFC 3339), from its manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Restore only: seconds from start until OpenBao accepted the snapshot (the rest is OpenBao's own
    /// post-restore work and the health wait).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_accepted_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted_keys: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub deleted_keys_omitted: usize,
    /// Retention ran into a problem after the backup itself succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_error: Option<String>,
    /// Failing stage (`config`, `auth`, `leader`, `snapshot`, `storage`, `verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Low-cardinality failure reason, copied into status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The longest termination message read at all: Kubernetes keeps 4096 bytes; anything longer did not come
/// through the kubelet.
pub const MAX_READ_BYTES: usize = 16 * 1024;
/// The longest run a report may claim (a Job's deadline is far shorter).
pub const MAX_DURATION_SECONDS: f64 = 366.0 * 24.0 * 3600.0;
const MAX_KEY_BYTES: usize = 1024;

/// Why a report cannot be used. The termination message is written by whatever image the cluster names, so it is
/// untrusted input: every field the operator uses is checked before it is used.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the executor report is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the executor report is {0} bytes long, more than a termination message can hold")]
    TooLong(usize),
    #[error("the executor report's {field} is out of range: {detail}")]
    Invalid { field: &'static str, detail: String },
}

impl ReportError {
    pub fn reason(&self) -> &'static str {
        "ReportUnreadable"
    }
}

fn invalid(field: &'static str, detail: impl Into<String>) -> ReportError {
    ReportError::Invalid {
        field,
        detail: detail.into(),
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl ExecutorReport {
    pub fn new(operation: ReportOperation) -> Self {
        Self {
            operation: Some(operation),
            ..Self::default()
        }
    }

    /// Parses and checks a termination message: the fields the operator uses are within their ranges.
    pub fn parse(termination_message: &str) -> Result<Self, ReportError> {
        if termination_message.len() > MAX_READ_BYTES {
            return Err(ReportError::TooLong(termination_message.len()));
        }
        let report: Self = serde_json::from_str(termination_message.trim())?;
        report.check()?;
        Ok(report)
    }

    fn check(&self) -> Result<(), ReportError> {
        for (field, seconds) in [
            ("durationSeconds", self.duration_seconds),
            ("restoreAcceptedSeconds", self.restore_accepted_seconds),
        ] {
            if let Some(seconds) = seconds
                && !(seconds.is_finite() && (0.0..=MAX_DURATION_SECONDS).contains(&seconds))
            {
                return Err(invalid(field, format!("{seconds} seconds")));
            }
        }
        if let Some(key) = &self.key
            && (key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control))
        {
            return Err(invalid("key", format!("{} bytes", key.len())));
        }
        if let Some(digest) = &self.digest
            && !is_sha256_digest(digest)
        {
            return Err(invalid("digest", "not sha256:<64 hex digits>"));
        }
        if let Some(size) = self.size
            && i64::try_from(size).is_err()
        {
            return Err(invalid("size", size.to_string()));
        }
        Ok(())
    }

    /// `durationSeconds` as a duration; in range once parsed.
    pub fn duration(&self) -> Option<chrono::Duration> {
        let seconds = self.duration_seconds?;
        chrono::Duration::try_milliseconds((seconds * 1000.0).round() as i64)
    }

    /// `created` as a time, if it is RFC 3339.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        let created = self.created.as_deref()?;
        DateTime::parse_from_rfc3339(created)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }

    /// JSON no longer than `max` bytes (unless the fields that cannot be shortened alone exceed it).
    pub fn render(&self, max: usize) -> String {
        let mut report = self.clone();
        loop {
            let json = serde_json::to_string(&report).unwrap_or_else(|_| "{}".into());
            if json.len() <= max {
                return json;
            }
            if report.deleted_keys.pop().is_some() {
                report.deleted_keys_omitted += 1;
                continue;
            }
            let over = json.len() - max;
            let shortened = [&mut report.message, &mut report.retention_error]
                .into_iter()
                .flatten()
                .find(|text| !text.is_empty());
            match shortened {
                Some(text) => shorten(text, over),
                None => return json,
            }
        }
    }
}

/// Removes at least `over` bytes (plus room for an ellipsis) from the end of `text`, on a char boundary.
fn shorten(text: &mut String, over: usize) {
    let target = text.len().saturating_sub(over + 3);
    let mut cut = target;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_executor_writes_the_operator_reads_back() {
        let written = ExecutorReport {
            outcome: Some(ReportOutcome::Succeeded),
            key: Some("ns/c/a.snap".into()),
            digest: Some(format!("sha256:{}", "0a".repeat(32))),
            size: Some(10),
            duration_seconds: Some(1.5),
            raft_index: Some(4),
            created: Some("2026-01-01T03:00:05.123Z".into()),
            deleted_keys: vec!["ns/c/old.snap".into()],
            ..ExecutorReport::new(ReportOperation::Backup)
        };
        let json = written.render(MAX_REPORT_BYTES);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["operation"], "backup");
        assert_eq!(value["outcome"], "succeeded");
        assert_eq!(value["raftIndex"], 4);
        assert_eq!(value["deletedKeys"][0], "ns/c/old.snap");
        assert!(value.get("stage").is_none());
        let read = ExecutorReport::parse(&json).unwrap();
        assert_eq!(read, written);
        assert!(read.created_at().is_some());
    }

    #[test]
    fn unknown_fields_outcomes_and_odd_times_do_not_break_reading() {
        let report = ExecutorReport::parse(
            r#"{"outcome":"somethingNew","operation":"compact","created":"yesterday","extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(report.outcome, Some(ReportOutcome::Unrecognized));
        assert_eq!(report.operation, Some(ReportOperation::Unrecognized));
        assert_eq!(report.created_at(), None);
        assert!(ExecutorReport::parse("not json").is_err());
    }

    #[test]
    fn out_of_range_fields_are_unreadable_not_a_panic_later() {
        for (json, field) in [
            (
                r#"{"outcome":"succeeded","durationSeconds":-1e16}"#,
                "durationSeconds",
            ),
            (
                r#"{"outcome":"succeeded","durationSeconds":1e300}"#,
                "durationSeconds",
            ),
            (
                r#"{"outcome":"succeeded","restoreAcceptedSeconds":-1}"#,
                "restoreAcceptedSeconds",
            ),
            (r#"{"outcome":"succeeded","digest":"sha256:zz"}"#, "digest"),
            (r#"{"outcome":"succeeded","key":""}"#, "key"),
            (
                r#"{"outcome":"succeeded","size":18446744073709551615}"#,
                "size",
            ),
        ] {
            match ExecutorReport::parse(json) {
                Err(ReportError::Invalid { field: named, .. }) => {
                    assert_eq!(named, field, "{json}")
                }
                other => panic!("{json}: {other:?}"),
            }
        }
        let huge = format!(r#"{{"message":"{}"}}"#, "x".repeat(MAX_READ_BYTES));
        assert!(matches!(
            ExecutorReport::parse(&huge),
            Err(ReportError::TooLong(_))
        ));
        let ok = ExecutorReport::parse(r#"{"durationSeconds":42.5}"#).unwrap();
        assert_eq!(ok.duration(), Some(chrono::Duration::milliseconds(42_500)));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(10_000))]

            /// Any text, and any JSON object with numbers anywhere, parses to a report or an error, and what
            /// parses yields a duration without panicking.
            #[test]
            fn any_termination_message_parses_or_is_refused(
                text in ".{0,200}",
                duration in proptest::num::f64::ANY,
                accepted in proptest::num::f64::ANY,
                size in any::<u64>(),
                digest in "(sha256:)?[0-9a-fA-Fz]{0,70}",
            ) {
                let _ = ExecutorReport::parse(&text);
                let json = serde_json::json!({
                    "outcome": "succeeded",
                    "durationSeconds": duration,
                    "restoreAcceptedSeconds": accepted,
                    "size": size,
                    "digest": digest,
                    "key": text,
                })
                .to_string();
                if let Ok(report) = ExecutorReport::parse(&json) {
                    let _ = report.duration();
                    let _ = report.created_at();
                    prop_assert!(report.digest.as_deref().is_none_or(is_sha256_digest));
                }
            }
        }
    }

    #[test]
    fn long_reports_are_cut_to_fit_keeping_counts() {
        let mut report = ExecutorReport {
            outcome: Some(ReportOutcome::Succeeded),
            deleted_keys: (0..200)
                .map(|i| format!("prefix/ns/cluster/2026010{i:03}T000000Z-scheduled-0000.snap"))
                .collect(),
            message: Some("é".repeat(3000)),
            ..ExecutorReport::new(ReportOperation::Backup)
        };
        let json = report.render(MAX_REPORT_BYTES);
        assert!(json.len() <= MAX_REPORT_BYTES, "{}", json.len());
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["deletedKeysOmitted"], 200);
        assert!(parsed["message"].as_str().unwrap().ends_with('…'));

        report.message = None;
        let json = report.render(MAX_REPORT_BYTES);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        let listed = parsed["deletedKeys"].as_array().unwrap().len();
        assert!(listed > 0);
        assert_eq!(
            listed + parsed["deletedKeysOmitted"].as_u64().unwrap() as usize,
            200
        );
    }
}

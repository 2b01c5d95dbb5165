//! The JSON report written to the termination-message file (and echoed to stdout). Kubernetes keeps at most
//! 4096 bytes of it, so the rendering drops deleted keys (keeping their count) and shortens the message until
//! the whole document fits.

use std::path::Path;

use serde::Serialize;

use super::stage::{Failure, Stage};

/// Kubernetes truncates termination messages at 4096 bytes; stay below it.
pub const MAX_REPORT_BYTES: usize = 4000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Backup,
    Restore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Succeeded,
    /// A restore completed and the cluster is sealed: it must be unsealed with the source cluster's keys.
    SucceededSealed,
    /// A dry-run restore found everything in order and changed nothing.
    DryRun,
    Failed,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub operation: Option<Operation>,
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub duration_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_term: Option<u64>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Report {
    pub fn new(operation: Operation) -> Self {
        Self {
            operation: Some(operation),
            ..Self::default()
        }
    }

    pub fn fail(&mut self, failure: &Failure) {
        self.outcome = Some(Outcome::Failed);
        self.stage = Some(failure.stage);
        self.reason = Some(failure.reason);
        self.message = Some(failure.message.clone());
    }

    /// JSON no longer than `max` bytes.
    pub fn render(&self, max: usize) -> String {
        let mut report = self.clone();
        loop {
            let json = serde_json::to_string(&report).expect("a report always serializes");
            if json.len() <= max {
                return json;
            }
            if let Some(_dropped) = report.deleted_keys.pop() {
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

    /// Writes the report where the operator reads it. A write failure is logged, not fatal: the exit code still
    /// tells the stage.
    pub fn write(&self, path: &Path) {
        let json = self.render(MAX_REPORT_BYTES);
        if let Err(error) = std::fs::write(path, &json) {
            tracing::warn!(path = %path.display(), %error, "cannot write the report file");
        }
        println!("{json}");
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
    fn success_report_has_the_documented_fields() {
        let report = Report {
            outcome: Some(Outcome::Succeeded),
            key: Some("ns/c/a.snap".into()),
            digest: Some("sha256:00".into()),
            size: Some(10),
            raft_index: Some(4),
            deleted_keys: vec!["ns/c/old.snap".into()],
            ..Report::new(Operation::Backup)
        };
        let json: serde_json::Value =
            serde_json::from_str(&report.render(MAX_REPORT_BYTES)).unwrap();
        assert_eq!(json["operation"], "backup");
        assert_eq!(json["outcome"], "succeeded");
        assert_eq!(json["raftIndex"], 4);
        assert_eq!(json["deletedKeys"][0], "ns/c/old.snap");
        assert!(json.get("stage").is_none());
    }

    #[test]
    fn failure_carries_stage_reason_and_message() {
        let mut report = Report::new(Operation::Restore);
        report.fail(&Failure::new(
            Stage::Verify,
            "SnapshotEmpty",
            "the snapshot is empty",
        ));
        let json: serde_json::Value =
            serde_json::from_str(&report.render(MAX_REPORT_BYTES)).unwrap();
        assert_eq!(json["outcome"], "failed");
        assert_eq!(json["stage"], "verify");
        assert_eq!(json["reason"], "SnapshotEmpty");
    }

    #[test]
    fn long_reports_are_cut_to_fit_keeping_counts() {
        let mut report = Report {
            outcome: Some(Outcome::Succeeded),
            deleted_keys: (0..200)
                .map(|i| format!("prefix/ns/cluster/2026010{i:03}T000000Z-scheduled-0000.snap"))
                .collect(),
            message: Some("é".repeat(3000)),
            ..Report::new(Operation::Backup)
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

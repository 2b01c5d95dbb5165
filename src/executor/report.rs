//! Writing the executor's report ([`ExecutorReport`], shared with the operator that reads it) to the
//! termination-message file, and echoing it to stdout.

use std::path::Path;

pub use openbao_crds::executor_report::{
    ExecutorReport as Report, MAX_REPORT_BYTES, ReportOperation as Operation,
    ReportOutcome as Outcome,
};

use super::stage::Failure;

/// What the executor does with its report beyond the shared type.
pub trait ReportWriter {
    /// Records a failed run: outcome, stage, reason and message.
    fn fail(&mut self, failure: &Failure);
    /// Writes the report where the operator reads it. A write failure is logged, not fatal: the exit code still
    /// tells the stage.
    fn write(&self, path: &Path);
}

impl ReportWriter for Report {
    fn fail(&mut self, failure: &Failure) {
        self.outcome = Some(Outcome::Failed);
        self.stage = Some(failure.stage.as_str().to_string());
        self.reason = Some(failure.reason.to_string());
        self.message = Some(failure.message.clone());
    }

    fn write(&self, path: &Path) {
        let json = self.render(MAX_REPORT_BYTES);
        if let Err(error) = std::fs::write(path, &json) {
            tracing::warn!(path = %path.display(), %error, "cannot write the report file");
        }
        println!("{json}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::stage::Stage;

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
        assert_eq!(json["operation"], "restore");
        assert_eq!(json["outcome"], "failed");
        assert_eq!(json["stage"], "verify");
        assert_eq!(json["reason"], "SnapshotEmpty");
    }
}

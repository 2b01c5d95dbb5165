//! The stages an executor run passes through, each with its own process exit code, and the failure record that
//! carries a stage, a low-cardinality reason and a short message to the report.

use serde::Serialize;

pub use crate::failure_reason::{Reason, error_chain};

/// Where a run failed. The exit code tells the operator the stage even when the report file cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Environment, files or flags are missing or malformed.
    Config,
    /// Logging in to OpenBao failed.
    Auth,
    /// No active leader could be found or confirmed.
    Leader,
    /// Taking or restoring the raft snapshot failed on the OpenBao side.
    Snapshot,
    /// The object store refused or failed a request.
    Storage,
    /// The snapshot bytes are not a complete, self-consistent OpenBao archive, or do not match their manifest.
    Verify,
}

impl Stage {
    /// Process exit code for a failure in this stage. 0 is success, 1 an unexpected internal error.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Config => 2,
            Self::Auth => 3,
            Self::Leader => 4,
            Self::Snapshot => 5,
            Self::Storage => 6,
            Self::Verify => 7,
        }
    }

    /// The stage name used in reports and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Auth => "auth",
            Self::Leader => "leader",
            Self::Snapshot => "snapshot",
            Self::Storage => "storage",
            Self::Verify => "verify",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed run: the stage, a stable reason (copied into conditions and metric labels) and a human message.
///
/// Messages are built from error values that never hold credentials: tokens travel in headers and files only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    pub reason: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(stage: Stage, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            stage,
            reason,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failed ({}): {}",
            self.stage, self.reason, self.message
        )
    }
}

/// Lets stage-specific errors turn into a [`Failure`] with `?` at the orchestration level: `err.at(Stage::Auth)`.
pub trait AtStage {
    fn at(self, stage: Stage) -> Failure;
}

impl<E: Reason> AtStage for E {
    fn at(self, stage: Stage) -> Failure {
        Failure::new(stage, self.reason(), error_chain(&self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_documented_values() {
        let stages = [
            Stage::Config,
            Stage::Auth,
            Stage::Leader,
            Stage::Snapshot,
            Stage::Storage,
            Stage::Verify,
        ];
        let codes: Vec<u8> = stages.iter().map(|s| s.exit_code()).collect();
        assert_eq!(codes, vec![2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn stage_serializes_as_its_name() {
        assert_eq!(serde_json::to_string(&Stage::Verify).unwrap(), "\"verify\"");
        assert_eq!(Stage::Storage.to_string(), "storage");
    }
}

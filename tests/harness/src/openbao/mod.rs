//! Real OpenBao raft clusters on loopback, and the auth pieces tests need to act like the executor.

mod api;
mod auth;
mod cluster;
mod config;
mod disruption;
mod jwt;
mod kv;
pub mod workload;

pub use api::{ApiResponse, Health};
pub use auth::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, JwtAuthSetup, RESTORE_POLICY, RESTORE_POLICY_NAME,
};
pub use cluster::{OpenBaoCluster, OpenBaoOptions, Release};
pub use jwt::TestJwtSigner;

use crate::process::ProcessError;
use crate::tools::ToolError;
use crate::wait::Timeout;

#[derive(Debug, thiserror::Error)]
pub enum OpenBaoError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Timeout(#[from] Timeout),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Http {
        what: String,
        source: reqwest::Error,
    },
    #[error("{request} on {node} answered {status}: {message}")]
    Api {
        request: String,
        node: String,
        status: u16,
        message: String,
    },
    #[error("{what}: unexpected answer: {detail}")]
    Unexpected { what: String, detail: String },
    #[error("node {index} is stopped")]
    NodeStopped { index: usize },
    #[error("node {index} exited unexpectedly ({status}); log tail:\n{log_tail}")]
    NodeExited {
        index: usize,
        status: String,
        log_tail: String,
    },
    #[error("a cluster needs at least one node")]
    NoNodes,
}

impl OpenBaoError {
    /// The HTTP status when OpenBao answered with an error, e.g. 400 for a refused JWT login.
    pub fn status(&self) -> Option<u16> {
        match self {
            OpenBaoError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

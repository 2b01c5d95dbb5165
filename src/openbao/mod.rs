//! A minimal OpenBao HTTP client for the executor: leader discovery, health, login, snapshot download and
//! restore upload.

mod client;
mod error;
pub mod health;
mod token;

pub use client::{OpenBaoClient, TlsSettings, TokenPolicies};
pub use error::OpenBaoError;
pub use health::{Health, HealthBody, LeaderBody, NodeState};
pub use token::SecretString;

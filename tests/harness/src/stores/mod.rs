//! Object-store protocol servers on loopback, each with one pre-created bucket (container), and
//! `object_store` clients configured for them.

mod azure;
pub mod faults;
mod gcs;
mod s3;
mod s3_service;

use std::sync::Arc;

use object_store::ObjectStore;

pub use azure::{AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AzuriteServer};
pub use faults::{Dialect, Fault, FaultProxy, FaultRule, StoreFaults, StoreOp};
pub use gcs::GcsServer;
pub use s3::{S3Options, S3Server};
pub use s3_service::UploadStats;

use crate::process::ProcessError;
use crate::tools::ToolError;
use crate::wait::Timeout;

/// Bucket (or container) every server creates unless told otherwise.
pub const DEFAULT_BUCKET: &str = "openbao-backups";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
    #[error("building the object_store client: {0}")]
    Client(#[from] object_store::Error),
    #[error("{what}: {detail}")]
    Setup { what: String, detail: String },
}

/// Which object-store protocol a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreProvider {
    S3,
    Gcs,
    Azure,
}

impl StoreProvider {
    pub const ALL: [StoreProvider; 3] =
        [StoreProvider::S3, StoreProvider::Gcs, StoreProvider::Azure];
}

/// One running store of any provider, for tests parameterized over providers.
#[derive(Debug)]
pub enum TestStore {
    S3(S3Server),
    Gcs(GcsServer),
    Azure(AzuriteServer),
}

impl TestStore {
    /// Starts the server for `provider` with defaults (bucket [`DEFAULT_BUCKET`]).
    pub async fn start(provider: StoreProvider) -> Result<Self, StoreError> {
        Ok(match provider {
            StoreProvider::S3 => TestStore::S3(S3Server::start(S3Options::default())?),
            StoreProvider::Gcs => TestStore::Gcs(GcsServer::start()?),
            StoreProvider::Azure => TestStore::Azure(AzuriteServer::start().await?),
        })
    }

    pub fn provider(&self) -> StoreProvider {
        match self {
            TestStore::S3(_) => StoreProvider::S3,
            TestStore::Gcs(_) => StoreProvider::Gcs,
            TestStore::Azure(_) => StoreProvider::Azure,
        }
    }

    /// Base URL of the server (for Azure: the account URL, `http://127.0.0.1:<port>/devstoreaccount1`).
    pub fn endpoint(&self) -> String {
        match self {
            TestStore::S3(server) => server.endpoint(),
            TestStore::Gcs(server) => server.endpoint(),
            TestStore::Azure(server) => server.account_url(),
        }
    }

    /// The pre-created bucket (Azure: container).
    pub fn bucket(&self) -> &str {
        match self {
            TestStore::S3(server) => server.bucket(),
            TestStore::Gcs(server) => server.bucket(),
            TestStore::Azure(server) => server.container(),
        }
    }

    /// A client for the bucket, for assertions.
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>, StoreError> {
        match self {
            TestStore::S3(server) => server.object_store(),
            TestStore::Gcs(server) => server.object_store(),
            TestStore::Azure(server) => server.object_store(),
        }
    }
}

/// Assertion clients retry little: a test that stopped a server wants the failure, not minutes of backoff.
fn assertion_retry_config() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 2,
        retry_timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    }
}

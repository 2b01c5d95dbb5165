//! Object-store errors with stable reasons.

use crate::failure_reason::Reason;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot configure the {provider} object store: {source}")]
    Build {
        provider: &'static str,
        #[source]
        source: object_store::Error,
    },
    #[error("invalid CA bundle for the object store: {0}")]
    InvalidCa(String),
    #[error("{what} {key} failed: {source}")]
    Request {
        what: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{what} {key} did not finish within {seconds} s")]
    Timeout {
        what: &'static str,
        key: String,
        seconds: u64,
    },
    #[error("stored object {key} is {stored} bytes, expected {expected}")]
    SizeMismatch {
        key: String,
        stored: u64,
        expected: u64,
    },
}

impl StoreError {
    pub fn request(
        what: &'static str,
        key: impl Into<String>,
    ) -> impl FnOnce(object_store::Error) -> Self {
        let key = key.into();
        move |source| Self::Request { what, key, source }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Request {
                source: object_store::Error::NotFound { .. },
                ..
            }
        )
    }
}

impl Reason for StoreError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Build { .. } | Self::InvalidCa(_) => "StoreConfigInvalid",
            Self::Request { source, .. } => match source {
                object_store::Error::NotFound { .. } => "ObjectNotFound",
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. } => "StoragePermissionDenied",
                _ => "StorageRequestFailed",
            },
            Self::Timeout { .. } => "StorageTimeout",
            Self::SizeMismatch { .. } => "StoredSizeMismatch",
        }
    }
}

//! Errors from talking to OpenBao. Messages name the call and the node, never a credential.

use crate::failure_reason::Reason;

#[derive(Debug, thiserror::Error)]
pub enum OpenBaoError {
    #[error("invalid OpenBao address {address:?}: {why}")]
    InvalidAddress { address: String, why: String },
    #[error("invalid CA bundle for OpenBao: {0}")]
    InvalidCa(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("{what} at {address} failed")]
    Transport {
        what: &'static str,
        address: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what} answered HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        what: &'static str,
        status: u16,
        message: String,
    },
    /// Backup and restore run with dedicated identities; a root token is never the durability mechanism.
    #[error(
        "the token has the root policy; give backup and restore a token or JWT role with only their policy"
    )]
    RootToken,
    /// The token in the token file is not one OpenBao knows: garbage, expired or revoked.
    #[error("OpenBao does not know the token (garbage, expired or revoked); give a valid token")]
    TokenInvalid,
    #[error("{what} answered with an unexpected body")]
    Decode {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
}

impl OpenBaoError {
    /// The HTTP status OpenBao answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl Reason for OpenBaoError {
    fn reason(&self) -> &'static str {
        match self {
            Self::InvalidAddress { .. } => "InvalidOpenBaoAddress",
            Self::InvalidCa(_) => "InvalidOpenBaoCa",
            Self::Client(_) => "HttpClientError",
            Self::Transport { .. } => "OpenBaoUnreachable",
            Self::Status {
                status: 401 | 403, ..
            } => "OpenBaoPermissionDenied",
            Self::Status { status: 503, .. } => "OpenBaoSealed",
            Self::Status { .. } => "OpenBaoRequestFailed",
            Self::Decode { .. } => "OpenBaoBadResponse",
            Self::RootToken => "RootTokenRefused",
            Self::TokenInvalid => "TokenInvalid",
        }
    }
}

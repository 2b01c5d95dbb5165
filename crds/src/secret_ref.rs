//! References to Secrets in the resource's own namespace.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;

/// A Secret in the same namespace, used as a whole (its keys are defined by the consumer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretNameRef {
    /// Name of the Secret, e.g. `backup-s3-credentials`.
    #[schemars(length(min = 1, max = 253), pattern(patterns::DNS_SUBDOMAIN))]
    pub name: String,
}

/// A PEM CA bundle stored in a Secret in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaBundleSecretRef {
    /// Name of the Secret holding the CA bundle.
    #[schemars(length(min = 1, max = 253), pattern(patterns::DNS_SUBDOMAIN))]
    pub name: String,
    /// Key in the Secret holding the PEM bundle. Default `ca.crt`.
    #[serde(default = "default_ca_key")]
    #[schemars(length(min = 1, max = 253), pattern(patterns::SECRET_KEY))]
    pub key: String,
}

impl CaBundleSecretRef {
    /// A reference to `name` using the default key `ca.crt`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            key: default_ca_key(),
        }
    }
}

fn default_ca_key() -> String {
    "ca.crt".to_owned()
}

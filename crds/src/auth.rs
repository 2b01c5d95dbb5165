//! How backup and restore Jobs log in to OpenBao: a dedicated JWT role or an explicit token Secret.
//!
//! Root tokens are never the durability mechanism; the operator refuses Secrets that look like root or unseal
//! material (see the semantic validation), the schema only enforces that exactly one method is chosen.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;

/// Exactly one of `jwt` or `tokenSecretRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "has(self.jwt) != has(self.tokenSecretRef)",
        "message": "set exactly one auth method: jwt or tokenSecretRef"
    }
]))]
pub struct AuthSpec {
    /// Log in with the Job ServiceAccount's projected token against an OpenBao JWT role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtAuth>,
    /// Use a token stored in a Secret (not a root token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<TokenSecretRef>,
}

impl AuthSpec {
    /// JWT login with the default mount and audience.
    pub fn jwt_role(role: impl Into<String>) -> Self {
        Self {
            jwt: Some(JwtAuth::role(role)),
            token_secret_ref: None,
        }
    }

    /// The chosen method, or `None` when the spec sets none or both (the schema rejects both cases).
    pub fn method(&self) -> Option<AuthMethod<'_>> {
        match (&self.jwt, &self.token_secret_ref) {
            (Some(jwt), None) => Some(AuthMethod::Jwt(jwt)),
            (None, Some(token)) => Some(AuthMethod::Token(token)),
            _ => None,
        }
    }
}

/// The single auth method an [`AuthSpec`] selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod<'a> {
    Jwt(&'a JwtAuth),
    Token(&'a TokenSecretRef),
}

/// JWT login with a projected ServiceAccount token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuth {
    /// OpenBao role to log in as, e.g. `backup` or `restore`.
    #[schemars(length(min = 1, max = 128), pattern(patterns::OPENBAO_ROLE))]
    pub role: String,
    /// Mount path of the JWT auth method, without slashes at the ends. Default `jwt`.
    #[serde(default = "default_jwt_mount_path")]
    #[schemars(length(min = 1, max = 128), pattern(patterns::PATH_SEGMENTS))]
    pub mount_path: String,
    /// Audience of the projected token; must match the role's `bound_audiences`. Default `openbao-internal`.
    #[serde(default = "default_jwt_audience")]
    #[schemars(length(min = 1, max = 256))]
    pub audience: String,
}

impl JwtAuth {
    /// A JWT login as `role` with the default mount path and audience.
    pub fn role(role: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            mount_path: default_jwt_mount_path(),
            audience: default_jwt_audience(),
        }
    }
}

/// A token stored in a Secret in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenSecretRef {
    /// Name of the Secret, e.g. `openbao-backup-token`.
    #[schemars(length(min = 1, max = 253), pattern(patterns::DNS_SUBDOMAIN))]
    pub name: String,
    /// Key in the Secret holding the token. Default `token`.
    #[serde(default = "default_token_key")]
    #[schemars(length(min = 1, max = 253), pattern(patterns::SECRET_KEY))]
    pub key: String,
}

impl TokenSecretRef {
    /// A reference to `name` using the default key `token`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            key: default_token_key(),
        }
    }
}

fn default_jwt_mount_path() -> String {
    "jwt".to_owned()
}

fn default_jwt_audience() -> String {
    "openbao-internal".to_owned()
}

fn default_token_key() -> String {
    "token".to_owned()
}

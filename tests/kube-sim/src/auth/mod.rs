//! Bearer-token authentication: one admin token, and ServiceAccount tokens the server signs itself (ES256 JWTs
//! with `kubernetes.io` claims) and publishes keys for (JWKS, OIDC discovery, PEM).

mod jwt;

use base64::Engine;
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use rand_core::OsRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::resources::GroupResource;
use crate::api::state::State;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Admin,
    ServiceAccount { namespace: String, name: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid bearer token")]
    Invalid,
    #[error("token has expired")]
    Expired,
    #[error("service account no longer exists")]
    ServiceAccountGone,
}

impl AuthError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::ServiceAccountGone => "service-account-gone",
        }
    }
}

/// Claims of a token to mint.
pub struct TokenClaims<'a> {
    pub namespace: &'a str,
    pub service_account: &'a str,
    pub service_account_uid: &'a str,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    /// Pod the token is bound to (`boundObjectRef`), name and uid.
    pub pod: Option<(String, String)>,
}

pub struct Authenticator {
    admin_token: String,
    issuer: String,
    signing_key: SigningKey,
    key_id: String,
}

impl Authenticator {
    pub fn new(issuer: impl Into<String>, admin_token: impl Into<String>) -> Self {
        let signing_key = SigningKey::random(&mut OsRng);
        let der = signing_key
            .verifying_key()
            .to_public_key_der()
            .expect("P-256 keys encode");
        let key_id =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der.as_bytes()));
        Self {
            admin_token: admin_token.into(),
            issuer: issuer.into(),
            signing_key,
            key_id,
        }
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn public_key_pem(&self) -> String {
        self.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("P-256 keys encode")
    }

    fn verifying_key(&self) -> &VerifyingKey {
        self.signing_key.verifying_key()
    }

    pub fn jwks(&self) -> Value {
        let mut jwk: Value =
            serde_json::from_str(&p256::PublicKey::from(self.verifying_key()).to_jwk_string())
                .expect("JWK is JSON");
        jwk["kid"] = json!(self.key_id);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!("ES256");
        json!({"keys": [jwk]})
    }

    pub fn openid_configuration(&self, jwks_uri: &str) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// A signed ServiceAccount token and its expiry (unix seconds).
    pub fn mint(&self, claims: &TokenClaims) -> (String, i64) {
        let now = chrono::Utc::now().timestamp();
        let expires = now + claims.expiration_seconds;
        let mut kubernetes = json!({
            "namespace": claims.namespace,
            "serviceaccount": {"name": claims.service_account, "uid": claims.service_account_uid},
        });
        if let Some((name, uid)) = &claims.pod {
            kubernetes["pod"] = json!({"name": name, "uid": uid});
        }
        let payload = json!({
            "iss": self.issuer,
            "sub": format!("system:serviceaccount:{}:{}", claims.namespace, claims.service_account),
            "aud": claims.audiences,
            "exp": expires,
            "iat": now,
            "nbf": now,
            "jti": crate::api::meta::new_uid(),
            "kubernetes.io": kubernetes,
        });
        (
            jwt::sign(&self.signing_key, &self.key_id, &payload),
            expires,
        )
    }

    /// Checks a bearer token; ServiceAccount tokens must be unexpired and name an existing account (same uid).
    pub fn authenticate(&self, header: Option<&str>, state: &State) -> Result<Identity, AuthError> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AuthError::Missing)?;
        if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
            return Ok(Identity::Admin);
        }
        let claims = jwt::verify(self.verifying_key(), token).ok_or(AuthError::Invalid)?;
        if claims["iss"] != self.issuer {
            return Err(AuthError::Invalid);
        }
        if claims["exp"]
            .as_i64()
            .is_none_or(|exp| exp <= chrono::Utc::now().timestamp())
        {
            return Err(AuthError::Expired);
        }
        let info = &claims["kubernetes.io"];
        let namespace = info["namespace"].as_str().ok_or(AuthError::Invalid)?;
        let name = info["serviceaccount"]["name"]
            .as_str()
            .ok_or(AuthError::Invalid)?;
        let account = state
            .store
            .get(&GroupResource::new("", "serviceaccounts"), namespace, name)
            .ok_or(AuthError::ServiceAccountGone)?;
        if account["metadata"]["uid"] != info["serviceaccount"]["uid"] {
            return Err(AuthError::ServiceAccountGone);
        }
        Ok(Identity::ServiceAccount {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::meta::now;
    use crate::api::state::State;

    fn state_with_account(uid: &str) -> State {
        let mut state = State::new(100);
        state.store.put(
            &GroupResource::new("", "serviceaccounts"),
            json!({"metadata": {"namespace": "ns", "name": "backup", "uid": uid, "creationTimestamp": now()}}),
        );
        state
    }

    fn claims(expiration_seconds: i64) -> TokenClaims<'static> {
        TokenClaims {
            namespace: "ns",
            service_account: "backup",
            service_account_uid: "u1",
            audiences: vec!["openbao-internal".into()],
            expiration_seconds,
            pod: None,
        }
    }

    #[test]
    fn minted_tokens_authenticate_until_the_account_changes() {
        let auth = Authenticator::new("https://kube-sim.local", "admin");
        let (token, _) = auth.mint(&claims(600));
        let header = format!("Bearer {token}");
        let identity = auth
            .authenticate(Some(&header), &state_with_account("u1"))
            .unwrap();
        assert_eq!(
            identity,
            Identity::ServiceAccount {
                namespace: "ns".into(),
                name: "backup".into()
            }
        );
        assert_eq!(
            auth.authenticate(Some(&header), &state_with_account("u2")),
            Err(AuthError::ServiceAccountGone)
        );
        assert_eq!(
            auth.authenticate(Some("Bearer admin"), &State::new(1)),
            Ok(Identity::Admin)
        );
        assert_eq!(
            auth.authenticate(None, &State::new(1)),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn expired_and_foreign_tokens_are_rejected() {
        let auth = Authenticator::new("https://kube-sim.local", "admin");
        let (token, _) = auth.mint(&claims(-10));
        let state = state_with_account("u1");
        assert_eq!(
            auth.authenticate(Some(&format!("Bearer {token}")), &state),
            Err(AuthError::Expired)
        );
        let other = Authenticator::new("https://kube-sim.local", "admin");
        let (foreign, _) = other.mint(&claims(600));
        assert_eq!(
            auth.authenticate(Some(&format!("Bearer {foreign}")), &state),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn publishes_pem_and_jwks() {
        let auth = Authenticator::new("https://kube-sim.local", "admin");
        assert!(
            auth.public_key_pem()
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        let jwks = auth.jwks();
        assert_eq!(jwks["keys"][0]["crv"], "P-256");
        assert_eq!(jwks["keys"][0]["alg"], "ES256");
    }
}

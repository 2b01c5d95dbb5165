//! A per-test ES256 signing key that mints JWTs shaped like Kubernetes projected service-account tokens,
//! so tests can use OpenBao's JWT auth without a Kubernetes API server.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};

/// The issuer a Kubernetes API server puts into projected tokens by default.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// A fresh P-256 key; its public half goes into `auth/<mount>/config` as `jwt_validation_pubkeys`.
#[derive(Clone)]
pub struct TestJwtSigner {
    key: SigningKey,
    issuer: String,
}

impl std::fmt::Debug for TestJwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestJwtSigner")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Default for TestJwtSigner {
    fn default() -> Self {
        Self::new(DEFAULT_ISSUER)
    }
}

impl TestJwtSigner {
    /// A new random key whose tokens carry `iss = issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            key: SigningKey::random(&mut rand_core::OsRng),
            issuer: issuer.into(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_key_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key always encodes as PEM")
    }

    /// A token for `subject` and `audience`, valid from now for `ttl`.
    pub fn mint(&self, subject: &str, audience: &str, ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        self.sign(&json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        }))
    }

    /// Signs arbitrary claims, e.g. an already expired token or one without `sub`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": "ES256", "typ": "JWT" });
        let signing_input = format!("{}.{}", encode_json(&header), encode_json(claims));
        // ES256 (RFC 7518 §3.4): ECDSA P-256 over SHA-256, signature as the 64-byte r‖s.
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON values always serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::DecodePublicKey;

    #[test]
    fn minted_token_verifies_with_the_published_pem_and_carries_the_claims() {
        let signer = TestJwtSigner::new("https://issuer.test");
        let token = signer.mint(
            "system:serviceaccount:ns:backup",
            "openbao-internal",
            Duration::from_secs(600),
        );

        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let public = VerifyingKey::from_public_key_pem(&signer.public_key_pem()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();

        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "https://issuer.test");
        assert_eq!(claims["sub"], "system:serviceaccount:ns:backup");
        assert_eq!(claims["aud"], json!(["openbao-internal"]));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
    }

    #[test]
    fn every_signer_has_its_own_key() {
        assert_ne!(
            TestJwtSigner::default().public_key_pem(),
            TestJwtSigner::default().public_key_pem()
        );
    }
}

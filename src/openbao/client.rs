//! A small OpenBao HTTP client: exactly the calls the executor makes, nothing else.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use reqwest::{Certificate, Method, StatusCode, Url};
use serde::Deserialize;

use super::error::OpenBaoError;
use super::health::{self, Health, HealthBody, LeaderBody};
use super::token::SecretString;

const TOKEN_HEADER: &str = "X-Vault-Token";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle limit between two reads of one response. Long enough for a large snapshot's first bytes and for the
/// ~5.5 s OpenBao spends invalidating caches after a restore, short enough that a dead peer is noticed.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Limit for small JSON calls (health, leader, login).
const SMALL_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the cluster over TLS.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// PEM bundle to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Name to verify in the server certificate when it differs from the host in the address (e.g. connecting to
    /// a pod address while the certificate names the service).
    pub server_name: Option<String>,
}

/// A client bound to one node address.
#[derive(Clone, Debug)]
pub struct OpenBaoClient {
    http: reqwest::Client,
    base: Url,
    address: String,
    token: Option<SecretString>,
}

#[derive(Deserialize)]
struct LoginResponse {
    auth: LoginAuth,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
    #[serde(default)]
    policies: Vec<String>,
}

#[derive(Deserialize)]
struct LookupResponse {
    data: LookupData,
}

#[derive(Deserialize)]
struct LookupData {
    #[serde(default)]
    policies: Vec<String>,
}

/// What the executor's token may do, as OpenBao reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPolicies {
    Known(Vec<String>),
    /// The token may not look itself up (no `default` policy): it is not a root token, which may do anything.
    NotVisible,
}

impl TokenPolicies {
    pub fn includes_root(&self) -> bool {
        matches!(self, Self::Known(policies) if policies.iter().any(|policy| policy == "root"))
    }
}

impl OpenBaoClient {
    pub async fn connect(address: &str, tls: &TlsSettings) -> Result<Self, OpenBaoError> {
        let invalid = |why: String| OpenBaoError::InvalidAddress {
            address: address.to_owned(),
            why,
        };
        let mut base =
            Url::parse(address.trim_end_matches('/')).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(invalid("expected http(s)://host[:port]".into()));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(pem) = &tls.ca_pem {
            let certs = Certificate::from_pem_bundle(pem)
                .map_err(|e| OpenBaoError::InvalidCa(e.to_string()))?;
            if certs.is_empty() {
                return Err(OpenBaoError::InvalidCa(
                    "no certificate in the bundle".into(),
                ));
            }
            builder = builder.tls_certs_only(certs);
        }
        if let Some(server_name) = tls
            .server_name
            .as_deref()
            .filter(|_| base.scheme() == "https")
        {
            let port = base.port_or_known_default().unwrap_or(443);
            let host = base.host_str().unwrap_or_default().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| invalid(format!("cannot resolve {host}: {e}")))?
                .collect();
            base.set_host(Some(server_name))
                .map_err(|e| invalid(format!("server name {server_name}: {e}")))?;
            builder = builder.resolve_to_addrs(server_name, &addrs);
        }
        let http = builder
            .build()
            .map_err(|e| OpenBaoError::Client(e.to_string()))?;
        Ok(Self {
            http,
            base,
            address: address.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    pub fn with_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// The address this client talks to, as configured (before any server-name rewrite).
    pub fn address(&self) -> &str {
        &self.address
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut url = self.base.clone();
        url.set_path(&format!("/v1/{path}"));
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request = request.header(TOKEN_HEADER, token.expose());
        }
        request
    }

    async fn send(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, OpenBaoError> {
        request
            .send()
            .await
            .map_err(|source| OpenBaoError::Transport {
                what,
                address: self.address.clone(),
                source,
            })
    }

    /// `GET sys/leader`: unauthenticated, answered by any node.
    pub async fn leader(&self) -> Result<LeaderBody, OpenBaoError> {
        const WHAT: &str = "sys/leader";
        let response = self
            .send(
                WHAT,
                self.request(Method::GET, WHAT).timeout(SMALL_CALL_TIMEOUT),
            )
            .await?;
        let response = expect_success(WHAT, response).await?;
        response
            .json()
            .await
            .map_err(|source| OpenBaoError::Decode { what: WHAT, source })
    }

    /// `GET sys/health` with the state taken from both status code and body.
    pub async fn health(&self) -> Result<Health, OpenBaoError> {
        const WHAT: &str = "sys/health";
        let response = self
            .send(
                WHAT,
                self.request(Method::GET, WHAT).timeout(SMALL_CALL_TIMEOUT),
            )
            .await?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|source| OpenBaoError::Transport {
                what: WHAT,
                address: self.address.clone(),
                source,
            })?;
        let body: Option<HealthBody> = serde_json::from_str(&text).ok();
        Ok(health::classify(status, body))
    }

    /// `POST auth/<mount>/login {role, jwt}` and the client token it grants.
    pub async fn login_jwt(
        &self,
        mount: &str,
        role: &str,
        jwt: &SecretString,
    ) -> Result<SecretString, OpenBaoError> {
        const WHAT: &str = "JWT login";
        let path = format!("auth/{}/login", mount.trim_matches('/'));
        let body = serde_json::json!({ "role": role, "jwt": jwt.expose() });
        let request = self
            .request(Method::POST, &path)
            .timeout(SMALL_CALL_TIMEOUT)
            .json(&body);
        let response = expect_success(WHAT, self.send(WHAT, request).await?).await?;
        let login: LoginResponse = response
            .json()
            .await
            .map_err(|source| OpenBaoError::Decode { what: WHAT, source })?;
        if login.auth.policies.iter().any(|policy| policy == "root") {
            return Err(OpenBaoError::RootToken);
        }
        Ok(SecretString::new(login.auth.client_token))
    }

    /// `GET auth/token/lookup-self`: the policies of this client's token.
    pub async fn token_policies(&self) -> Result<TokenPolicies, OpenBaoError> {
        const WHAT: &str = "token lookup-self";
        let request = self
            .request(Method::GET, "auth/token/lookup-self")
            .timeout(SMALL_CALL_TIMEOUT);
        let response = self.send(WHAT, request).await?;
        if response.status().as_u16() == 403 {
            let body = response.text().await.unwrap_or_default();
            if token_unknown(&body) {
                return Err(OpenBaoError::TokenInvalid);
            }
            return Ok(TokenPolicies::NotVisible);
        }
        let lookup: LookupResponse = expect_success(WHAT, response)
            .await?
            .json()
            .await
            .map_err(|source| OpenBaoError::Decode { what: WHAT, source })?;
        Ok(TokenPolicies::Known(lookup.data.policies))
    }

    /// `GET sys/storage/raft/snapshot` as a byte stream (chunked, no length known up front).
    pub async fn snapshot_stream(
        &self,
    ) -> Result<impl Stream<Item = Result<Bytes, OpenBaoError>> + Send + 'static, OpenBaoError>
    {
        const WHAT: &str = "sys/storage/raft/snapshot";
        let response = expect_success(
            WHAT,
            self.send(WHAT, self.request(Method::GET, WHAT)).await?,
        )
        .await?;
        let address = self.address.clone();
        Ok(response
            .bytes_stream()
            .map_err(move |source| OpenBaoError::Transport {
                what: "reading the snapshot",
                address: address.clone(),
                source,
            }))
    }

    /// `POST sys/storage/raft/snapshot` (seal-checked: refuses a snapshot from another cluster) or, with `force`,
    /// `snapshot-force`.
    pub async fn restore_snapshot(
        &self,
        body: reqwest::Body,
        length: u64,
        force: bool,
    ) -> Result<(), OpenBaoError> {
        let what = if force {
            "sys/storage/raft/snapshot-force"
        } else {
            "sys/storage/raft/snapshot"
        };
        let request = self
            .request(Method::POST, what)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        expect_success(what, self.send(what, request).await?).await?;
        Ok(())
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<String>,
}

/// OpenBao refuses a token it does not know (garbage, expired, revoked) with a bare `permission denied` (newer
/// releases may say `invalid token`), and a known token that its policies do not allow with a wrapped list
/// (`1 error occurred: * permission denied`).
fn token_unknown(body: &str) -> bool {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    serde_json::from_str::<Errors>(body)
        .map(|answer| answer.errors)
        .unwrap_or_default()
        .iter()
        .any(|error| error.trim() == "permission denied" || error.contains("invalid token"))
}

async fn expect_success(
    what: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, OpenBaoError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(status_error(
        what,
        status,
        response.text().await.unwrap_or_default(),
    ))
}

fn status_error(what: &'static str, status: StatusCode, body: String) -> OpenBaoError {
    let errors = serde_json::from_str::<ErrorBody>(&body)
        .map(|b| b.errors.join("; "))
        .unwrap_or_default();
    OpenBaoError::Status {
        what,
        status: status.as_u16(),
        message: truncate(errors, 300),
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::token_unknown;

    #[test]
    fn an_unknown_token_is_told_from_a_policy_refusal() {
        // As OpenBao 2.7.2 answers `auth/token/lookup-self`.
        assert!(token_unknown(r#"{"errors":["permission denied"]}"#));
        assert!(token_unknown(r#"{"errors":["invalid token"]}"#));
        assert!(!token_unknown(
            r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#
        ));
        assert!(!token_unknown("not json"));
    }
}

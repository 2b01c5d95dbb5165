//! Minimal HTTP access to OpenBao's API for test set-up and assertions. Tokens travel only in headers and
//! never appear in errors.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::OpenBaoError;

/// Longer than the ~5.5 s OpenBao blocks requests after a snapshot restore.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A raw answer from OpenBao.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

impl ApiResponse {
    /// The body as JSON (`Value::Null` for an empty body such as a 204).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// OpenBao's `errors` array joined, or the raw body; for error messages.
    pub fn error_message(&self) -> String {
        match self.json().get("errors").and_then(Value::as_array) {
            Some(errors) => errors
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            None => String::from_utf8_lossy(&self.body)
                .chars()
                .take(500)
                .collect(),
        }
    }
}

/// `GET sys/health`, which answers with a body whatever the node's state.
#[derive(Debug, Clone, Deserialize)]
pub struct Health {
    pub initialized: bool,
    pub sealed: bool,
    pub standby: bool,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

impl Health {
    pub fn is_active(&self) -> bool {
        self.initialized && !self.sealed && !self.standby
    }

    pub fn is_unsealed(&self) -> bool {
        self.initialized && !self.sealed
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
}

impl Api {
    pub fn new() -> Result<Self, OpenBaoError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|source| OpenBaoError::Http {
                what: "building the HTTP client".into(),
                source,
            })?;
        Ok(Self { http })
    }

    /// Any API call; `path` is relative to `/v1/`. A non-2xx status is not an error here.
    pub async fn call(
        &self,
        method: Method,
        addr: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<ApiResponse, OpenBaoError> {
        let url = format!("{addr}/v1/{}", path.trim_start_matches('/'));
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let what = format!("{method} {url}");
        let response = request.send().await.map_err(|source| OpenBaoError::Http {
            what: what.clone(),
            source,
        })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|source| OpenBaoError::Http { what, source })?;
        Ok(ApiResponse { status, body })
    }

    /// Like [`Api::call`] but a non-2xx status becomes [`OpenBaoError::Api`].
    pub async fn call_ok(
        &self,
        method: Method,
        addr: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<ApiResponse, OpenBaoError> {
        let response = self.call(method.clone(), addr, path, token, body).await?;
        if response.status.is_success() {
            Ok(response)
        } else {
            Err(OpenBaoError::Api {
                request: format!("{method} {path}"),
                node: addr.to_string(),
                status: response.status.as_u16(),
                message: response.error_message(),
            })
        }
    }

    pub async fn health(&self, addr: &str) -> Result<Health, OpenBaoError> {
        let response = self
            .call(Method::GET, addr, "sys/health", None, None)
            .await?;
        serde_json::from_slice(&response.body).map_err(|err| OpenBaoError::Unexpected {
            what: format!("sys/health on {addr}"),
            detail: format!("{err}: {}", response.error_message()),
        })
    }
}

//! HTTP: authentication, fault injection, routing to discovery documents and resource handlers.

mod access_review;
mod control;
mod logs;
mod recording;
mod resource;
mod response;
mod tls;
mod token;

pub use tls::{ServingCertificate, TlsError, TlsListener};

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::api::Cluster;
use crate::api::error::{ApiError, StatusReason};
use crate::api::request::{Query, Target, parse_target};
use crate::auth::Authenticator;
use crate::faults::Faults;
use crate::requests::{Received, RequestLog};
use crate::{discovery, openapi};
use response::{error_response, json_response};

/// Everything request handlers share.
pub struct App {
    pub cluster: Arc<Cluster>,
    pub auth: Authenticator,
    pub faults: Faults,
    pub requests: RequestLog,
    pub log_dir: PathBuf,
    pub address: String,
}

const MAX_BODY: usize = 64 * 1024 * 1024;

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(move |request: Request| {
        let app = app.clone();
        async move { handle(app, request).await }
    })
}

async fn handle(app: Arc<App>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let target = parse_target(parts.uri.path());
    let query = Query::parse(parts.uri.query());
    // Every write on a resource path (and every read, while the log records reads) is recorded with the status it
    // is answered with, whichever step refuses it.
    let mut entry = recording::received(&target, &parts.method, &parts.headers, &query)
        .filter(|received| app.requests.wants(received.verb));
    let response = serve(&app, target, parts, query, body, entry.as_mut()).await;
    if let Some(entry) = entry {
        app.requests.record(entry, response.status().as_u16());
    }
    response
}

async fn serve(
    app: &Arc<App>,
    target: Target,
    parts: axum::http::request::Parts,
    query: Query,
    body: Body,
    mut entry: Option<&mut Received>,
) -> Response {
    let public = matches!(
        target,
        Target::Version | Target::Health | Target::Jwks | Target::OpenIdConfiguration
    );
    if !public {
        let header = parts
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok());
        let authenticated = app.auth.authenticate(header, &app.cluster.lock());
        match authenticated {
            Ok(identity) => {
                if let Some(entry) = entry.as_deref_mut() {
                    entry.user = Some(recording::username(&identity));
                }
            }
            Err(error) => {
                tracing::debug!(
                    reason = error.reason(),
                    path = parts.uri.path(),
                    "request not authenticated"
                );
                // The log names a refused write's object too: "which create lost its credentials" is the
                // question it answers. The body is read only for that, never acted on.
                if let Some(entry) = entry
                    && let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await
                {
                    let request = Incoming {
                        method: parts.method,
                        headers: parts.headers,
                        query,
                        body,
                    };
                    recording::read_body(entry, &request);
                }
                return error_response(&ApiError::new(StatusReason::Unauthorized, "Unauthorized"));
            }
        }
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return error_response(&ApiError::bad_request(format!("reading request body: {e}")));
        }
    };
    let request = Incoming {
        method: parts.method,
        headers: parts.headers,
        query,
        body,
    };
    if let Some(entry) = entry {
        recording::read_body(entry, &request);
    }
    match target {
        Target::Resource(path)
            if path.group == access_review::GROUP
                && path.resource == access_review::RESOURCE
                && request.method == Method::POST =>
        {
            access_review::create(&request).unwrap_or_else(|e| error_response(&e))
        }
        Target::Resource(path) => resource::handle(app, path, request).await,
        Target::Sim(path) => control::handle(app, &path, &request),
        other => serve_document(app, other, &request.method),
    }
}

/// A request with its body read.
pub struct Incoming {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Query,
    pub body: bytes::Bytes,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn serve_document(app: &App, target: Target, method: &Method) -> Response {
    if method != Method::GET {
        return error_response(&ApiError::new(
            StatusReason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        ));
    }
    let not_found = || {
        error_response(&ApiError::new(
            StatusReason::NotFound,
            "the server could not find the requested resource",
        ))
    };
    let registry = app.cluster.lock().registry.clone();
    let document = match target {
        Target::Version => Some(discovery::version()),
        Target::Health => {
            return Response::builder()
                .header("content-type", "text/plain")
                .body(Body::from("ok"))
                .expect("response");
        }
        Target::CoreVersions => Some(discovery::core_versions(&app.address)),
        Target::Groups => Some(discovery::groups(&registry)),
        Target::Group(group) => discovery::group(&registry, &group),
        Target::GroupVersion { group, version } => {
            discovery::resource_list(&registry, &group, &version)
        }
        Target::OpenApiV3Index => Some(openapi::index(&registry)),
        Target::OpenApiV3 { group, version } => openapi::document(&registry, &group, &version),
        Target::Jwks => Some(app.auth.jwks()),
        Target::OpenIdConfiguration => Some(
            app.auth
                .openid_configuration(&format!("https://{}/openid/v1/jwks", app.address)),
        ),
        Target::OpenApiV2 | Target::Unknown | Target::Resource(_) | Target::Sim(_) => None,
    };
    match document {
        Some(document) => json_response(200, &document, &[]),
        None => not_found(),
    }
}

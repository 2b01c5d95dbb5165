//! Store faults on demand: a layer in front of a store's HTTP service that makes the next N requests of one
//! operation fail the way real stores fail, and counts every request it receives.
//!
//! ```text
//! let faults = server.faults();
//! // The second and later UploadParts: three answers 503 (a burst), then back to normal.
//! faults.inject(FaultRule::on(StoreOp::UploadPart).after(1).times(3).fault(Fault::Status(503)));
//! // ... run the client ...
//! assert_eq!(faults.injected(StoreOp::UploadPart), 3);
//! assert!(faults.received(StoreOp::AbortMultipartUpload) >= 1);
//! ```
//!
//! Faults:
//! - [`Fault::Status`]: an error answer with that status (5xx: retried by clients; a burst of N).
//! - [`Fault::Forbidden`]: 403 `AccessDenied` (credentials revoked or a policy changed mid-upload).
//! - [`Fault::Stall`]: the request body is read, then the answer is held this long (longer than the client's
//!   timeout), then it is a 503 nobody waits for any more. A stalled request never changes what is stored.
//! - [`Fault::Die`]: the store dies: this and every later request has its connection dropped without an answer
//!   until [`StoreFaults::revive`].
//!
//! A faulted request never reaches the store, so nothing it carried is stored. The S3 and GCS servers carry this
//! layer built in ([`super::S3Server::faults`], [`super::GcsServer::faults`]); [`FaultProxy`] puts it in front of
//! any other store (Azurite).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::background::BackgroundServer;

type BoxError = Box<dyn StdError + Send + Sync>;
pub(crate) type FaultBody = BoxBody<Bytes, BoxError>;

/// What a request does, in S3 terms (GCS's XML API uses the same requests; Azure's are mapped onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreOp {
    /// Matches every request (for [`FaultRule::on`] only; requests are counted under their own operation).
    Any,
    /// S3/GCS `PUT` of a whole object; Azure Put Blob.
    PutObject,
    /// S3/GCS `POST ?uploads`. Azure has none (blocks need no upload id).
    CreateMultipartUpload,
    /// S3/GCS `PUT ?partNumber&uploadId`; Azure Put Block.
    UploadPart,
    /// S3/GCS `POST ?uploadId`; Azure Put Block List.
    CompleteMultipartUpload,
    /// S3/GCS `DELETE ?uploadId`. Azure has none.
    AbortMultipartUpload,
    HeadObject,
    GetObject,
    /// `DELETE` of an object, or a bulk delete (S3 `POST ?delete`, Azure `POST ?comp=batch`).
    DeleteObject,
    List,
    Other,
}

/// Which wire protocol the layer classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// S3, and GCS's XML API.
    S3,
    /// Azure Blob.
    Azure,
}

impl Dialect {
    pub fn classify(self, method: &Method, uri: &Uri) -> StoreOp {
        let query = uri.query().unwrap_or("");
        let has = |name: &str| {
            query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name))
        };
        let comp = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("comp="))
            .unwrap_or("");
        match self {
            Dialect::S3 => match *method {
                Method::POST if has("uploads") => StoreOp::CreateMultipartUpload,
                Method::POST if has("uploadId") => StoreOp::CompleteMultipartUpload,
                // DeleteObjects: object_store deletes through it, also for one key.
                Method::POST if has("delete") => StoreOp::DeleteObject,
                Method::PUT if has("uploadId") => StoreOp::UploadPart,
                Method::PUT => StoreOp::PutObject,
                Method::DELETE if has("uploadId") => StoreOp::AbortMultipartUpload,
                Method::DELETE => StoreOp::DeleteObject,
                Method::HEAD => StoreOp::HeadObject,
                Method::GET if has("list-type") || has("prefix") || has("delimiter") => {
                    StoreOp::List
                }
                Method::GET if has("uploadId") || has("uploads") => StoreOp::Other,
                Method::GET => StoreOp::GetObject,
                _ => StoreOp::Other,
            },
            Dialect::Azure => match (method.clone(), comp) {
                (Method::PUT, "block") => StoreOp::UploadPart,
                (Method::PUT, "blocklist") => StoreOp::CompleteMultipartUpload,
                (Method::PUT, "") if !has("restype") => StoreOp::PutObject,
                (Method::DELETE, "") if !has("restype") => StoreOp::DeleteObject,
                // Blob batch: object_store deletes through it.
                (Method::POST, "batch") => StoreOp::DeleteObject,
                (Method::HEAD, "") => StoreOp::HeadObject,
                (Method::GET, "list") => StoreOp::List,
                (Method::GET, "") => StoreOp::GetObject,
                _ => StoreOp::Other,
            },
        }
    }
}

/// How a matching request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (e.g. 500, 503) and a store-shaped error body.
    Status(u16),
    /// Answer 403 `AccessDenied`.
    Forbidden,
    /// Hold the answer this long, then answer 503.
    Stall(Duration),
    /// Drop this and every later connection without an answer, until revived.
    Die,
}

/// Fail `times` requests of `op`, after letting `skip` of them through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultRule {
    pub op: StoreOp,
    pub skip: u64,
    pub times: u64,
    pub fault: Fault,
}

impl FaultRule {
    /// One request of `op` answers 503, from the next one on; change with the builder methods.
    pub fn on(op: StoreOp) -> Self {
        Self {
            op,
            skip: 0,
            times: 1,
            fault: Fault::Status(503),
        }
    }

    /// Let `skip` matching requests through first (e.g. `after(1)` on `UploadPart`: mid-upload).
    pub fn after(mut self, skip: u64) -> Self {
        self.skip = skip;
        self
    }

    /// Fail this many matching requests (`u64::MAX`: all of them).
    pub fn times(mut self, times: u64) -> Self {
        self.times = times;
        self
    }

    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

/// The fault plan and the request counts of one store. Shared between the test and the serving layer.
#[derive(Debug, Default)]
pub struct StoreFaults {
    state: Mutex<FaultState>,
    dead: AtomicBool,
}

#[derive(Debug, Default)]
struct FaultState {
    rules: Vec<FaultRule>,
    received: BTreeMap<StoreOp, u64>,
    injected: BTreeMap<StoreOp, u64>,
}

impl StoreFaults {
    fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a rule. Rules are consulted in order; the first that applies to a request decides.
    pub fn inject(&self, rule: FaultRule) {
        self.state().rules.push(rule);
    }

    /// Removes every rule (the counts stay).
    pub fn clear(&self) {
        self.state().rules.clear();
    }

    /// Requests of `op` received, faulted or not (also while dead). `StoreOp::Any`: all requests.
    pub fn received(&self, op: StoreOp) -> u64 {
        let state = self.state();
        match op {
            StoreOp::Any => state.received.values().sum(),
            op => state.received.get(&op).copied().unwrap_or(0),
        }
    }

    /// Requests of `op` that were answered with a fault instead of reaching the store.
    pub fn injected(&self, op: StoreOp) -> u64 {
        let state = self.state();
        match op {
            StoreOp::Any => state.injected.values().sum(),
            op => state.injected.get(&op).copied().unwrap_or(0),
        }
    }

    /// Every count, for failure messages.
    pub fn counts(&self) -> String {
        let state = self.state();
        format!(
            "received {:?}, injected {:?}",
            state.received, state.injected
        )
    }

    /// Whether a [`Fault::Die`] fired (and no revive since).
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// The store answers again (a restarted store; what was stored before it died is still there).
    pub fn revive(&self) {
        self.dead.store(false, Ordering::SeqCst);
    }

    /// Counts the request and returns the fault it gets, if any.
    fn decide(&self, op: StoreOp) -> Option<Fault> {
        let mut state = self.state();
        *state.received.entry(op).or_default() += 1;
        if self.is_dead() {
            *state.injected.entry(op).or_default() += 1;
            return Some(Fault::Die);
        }
        let mut chosen = None;
        for rule in state.rules.iter_mut() {
            if rule.op != StoreOp::Any && rule.op != op {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if rule.times == 0 {
                continue;
            }
            rule.times -= 1;
            chosen = Some(rule.fault);
            break;
        }
        if let Some(fault) = chosen {
            *state.injected.entry(op).or_default() += 1;
            if fault == Fault::Die {
                self.dead.store(true, Ordering::SeqCst);
            }
        }
        chosen
    }
}

/// The layer: classifies, counts, and either fails the request or hands it to `inner`.
#[derive(Clone)]
pub(crate) struct FaultService<S> {
    pub(crate) inner: S,
    pub(crate) faults: Arc<StoreFaults>,
    pub(crate) dialect: Dialect,
}

/// Why a connection was dropped (hyper closes it when the service fails).
#[derive(Debug, thiserror::Error)]
#[error("the store died (injected fault)")]
pub(crate) struct StoreDied;

impl<S, B> Service<Request<Incoming>> for FaultService<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<FaultBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let op = self.dialect.classify(request.method(), request.uri());
        let fault = self.faults.decide(op);
        let dialect = self.dialect;
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some(fault) = fault else {
                let response = inner.call(request).await.map_err(Into::into)?;
                return Ok(response.map(|body| body.map_err(Into::into).boxed()));
            };
            if fault == Fault::Die {
                return Err(Box::new(StoreDied) as BoxError);
            }
            // Read what the client sends, so it sees the answer rather than a reset while still writing.
            let _ = request.into_body().collect().await;
            Ok(match fault {
                Fault::Status(code) => {
                    let status =
                        StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    error_response(dialect, status, "ServiceUnavailable")
                }
                Fault::Forbidden => error_response(dialect, StatusCode::FORBIDDEN, "AccessDenied"),
                Fault::Stall(duration) => {
                    tokio::time::sleep(duration).await;
                    error_response(dialect, StatusCode::SERVICE_UNAVAILABLE, "SlowDown")
                }
                Fault::Die => unreachable!("handled above"),
            })
        })
    }
}

fn error_response(dialect: Dialect, status: StatusCode, code: &str) -> Response<FaultBody> {
    let body = match dialect {
        Dialect::S3 => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected fault</Message></Error>"
        ),
        Dialect::Azure => format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>injected fault</Message></Error>"
        ),
    };
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    response
}

/// A reverse proxy with the fault layer, in front of a store that has no hooks of its own (Azurite).
#[derive(Debug)]
pub struct FaultProxy {
    server: BackgroundServer,
    faults: Arc<StoreFaults>,
}

impl FaultProxy {
    /// Proxies `127.0.0.1:<free port>` to `upstream` (`http://host:port`, any path is kept), streaming bodies.
    pub fn start(upstream: &str, dialect: Dialect) -> std::io::Result<Self> {
        let authority = upstream
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .filter(|authority| !authority.is_empty())
            .ok_or_else(|| std::io::Error::other(format!("not an http:// URL: {upstream}")))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let faults = Arc::new(StoreFaults::default());
        let service = FaultService {
            inner: Forward {
                authority: Arc::from(authority),
                client: Client::builder(TokioExecutor::new()).build(connector),
            },
            faults: Arc::clone(&faults),
            dialect,
        };
        let server = BackgroundServer::start("store-fault-proxy", service)?;
        Ok(Self { server, faults })
    }

    /// `http://127.0.0.1:<port>`; append the upstream's path (e.g. Azurite's `/devstoreaccount1`).
    pub fn addr(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn faults(&self) -> &StoreFaults {
        &self.faults
    }
}

#[derive(Clone)]
struct Forward {
    authority: Arc<str>,
    client: Client<HttpConnector, Incoming>,
}

impl Service<Request<Incoming>> for Forward {
    type Response = Response<FaultBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let client = self.client.clone();
        let authority = Arc::clone(&self.authority);
        Box::pin(async move {
            let path_and_query = request
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_string();
            let uri = Uri::builder()
                .scheme("http")
                .authority(&*authority)
                .path_and_query(path_and_query)
                .build();
            let Ok(uri) = uri else {
                return Ok(error_response(
                    Dialect::Azure,
                    StatusCode::BAD_REQUEST,
                    "InvalidUri",
                ));
            };
            *request.uri_mut() = uri;
            Ok(match client.request(request).await {
                Ok(response) => response.map(|body| body.map_err(Into::into).boxed()),
                Err(_) => error_response(Dialect::Azure, StatusCode::BAD_GATEWAY, "ProxyError"),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap()
    }

    #[test]
    fn requests_are_classified_per_dialect() {
        let s3 = Dialect::S3;
        assert_eq!(
            s3.classify(&Method::POST, &uri("/b/k?uploads")),
            StoreOp::CreateMultipartUpload
        );
        assert_eq!(
            s3.classify(&Method::PUT, &uri("/b/k?partNumber=1&uploadId=x")),
            StoreOp::UploadPart
        );
        assert_eq!(
            s3.classify(&Method::POST, &uri("/b/k?uploadId=x")),
            StoreOp::CompleteMultipartUpload
        );
        assert_eq!(
            s3.classify(&Method::DELETE, &uri("/b/k?uploadId=x")),
            StoreOp::AbortMultipartUpload
        );
        assert_eq!(s3.classify(&Method::PUT, &uri("/b/k")), StoreOp::PutObject);
        assert_eq!(
            s3.classify(&Method::POST, &uri("/b?delete")),
            StoreOp::DeleteObject
        );
        assert_eq!(
            s3.classify(&Method::GET, &uri("/b?list-type=2&prefix=a")),
            StoreOp::List
        );
        let azure = Dialect::Azure;
        assert_eq!(
            azure.classify(&Method::PUT, &uri("/a/c/k?comp=block&blockid=AA")),
            StoreOp::UploadPart
        );
        assert_eq!(
            azure.classify(&Method::PUT, &uri("/a/c/k?comp=blocklist")),
            StoreOp::CompleteMultipartUpload
        );
        assert_eq!(
            azure.classify(&Method::PUT, &uri("/a/c/k")),
            StoreOp::PutObject
        );
    }

    #[test]
    fn rules_skip_then_fail_then_let_through() {
        let faults = StoreFaults::default();
        faults.inject(
            FaultRule::on(StoreOp::UploadPart)
                .after(1)
                .times(2)
                .fault(Fault::Forbidden),
        );
        let seen: Vec<_> = (0..4).map(|_| faults.decide(StoreOp::UploadPart)).collect();
        assert_eq!(
            seen,
            vec![None, Some(Fault::Forbidden), Some(Fault::Forbidden), None]
        );
        assert_eq!(faults.decide(StoreOp::PutObject), None);
        assert_eq!(faults.received(StoreOp::UploadPart), 4);
        assert_eq!(faults.injected(StoreOp::Any), 2);

        faults.inject(FaultRule::on(StoreOp::Any).fault(Fault::Die));
        assert_eq!(faults.decide(StoreOp::HeadObject), Some(Fault::Die));
        assert_eq!(faults.decide(StoreOp::GetObject), Some(Fault::Die));
        faults.revive();
        assert_eq!(faults.decide(StoreOp::GetObject), None);
    }
}

//! A recording reverse proxy in front of one OpenBao node. From outside it is hard to tell whether a call
//! reached OpenBao; the proxy records method and path of every request, so a test can prove that "OpenBao
//! received no restore call". It can also answer the snapshot download with an empty 200, the way a
//! misbehaving standby does, and present itself as the leader, so a client that follows `sys/leader` (as the
//! executor does) keeps talking through it. For faults at an exact moment it can hold one kind of request before
//! forwarding it, or hold the snapshot download after a number of bytes (OpenBao then blocks writing it), until
//! the test releases it. It also keeps every token OpenBao hands out through it (`auth.client_token` of login and
//! token-create answers), so a leak scan can look for the exact values, not only their shape.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, BodyStream, Empty, Full, StreamBody};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::background::BackgroundServer;

/// API path of raft snapshots (GET = download, POST/PUT = seal-checked restore).
pub const SNAPSHOT_PATH: &str = "/v1/sys/storage/raft/snapshot";
/// API path of the leader lookup.
pub const LEADER_PATH: &str = "/v1/sys/leader";
/// API path of the forced restore.
pub const SNAPSHOT_FORCE_PATH: &str = "/v1/sys/storage/raft/snapshot-force";

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("upstream {upstream} is not an http://host:port address")]
    BadUpstream { upstream: String },
    #[error("starting the proxy: {0}")]
    Start(#[from] std::io::Error),
}

/// One request as it arrived at the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: Method,
    /// Path without the query, e.g. `/v1/sys/storage/raft/snapshot`.
    pub path: String,
    pub query: Option<String>,
}

impl RecordedRequest {
    /// A request that would restore a snapshot if it reached OpenBao.
    pub fn is_restore(&self) -> bool {
        let writes = self.method == Method::POST || self.method == Method::PUT;
        writes && (self.path == SNAPSHOT_PATH || self.path == SNAPSHOT_FORCE_PATH)
    }
}

/// The proxy; stops on drop.
#[derive(Debug)]
pub struct OpenBaoProxy {
    server: BackgroundServer,
    state: Arc<ProxyState>,
}

#[derive(Debug, Default)]
struct ProxyState {
    requests: Mutex<Vec<RecordedRequest>>,
    empty_snapshot: AtomicBool,
    present_as_leader: AtomicBool,
    /// When set, `sys/leader` answers name this address (whatever it is) instead of the upstream node.
    leader_named_as: Mutex<Option<String>>,
    /// `http://127.0.0.1:<port>` of the proxy itself, once it listens.
    own_addr: OnceLock<String>,
    /// Requests with this method and path wait for [`OpenBaoProxy::release`] before they are forwarded.
    hold_request: Mutex<Option<(Method, String)>>,
    /// The snapshot download waits for [`OpenBaoProxy::release`] once this many bytes were forwarded.
    hold_snapshot_after: Mutex<Option<u64>>,
    /// `true` while nothing is held.
    open: OnceLock<tokio::sync::watch::Sender<bool>>,
    /// Requests or downloads waiting at the gate right now.
    held: AtomicUsize,
    snapshot_bytes: AtomicU64,
    snapshot_upstream_errors: AtomicUsize,
    issued_tokens: Mutex<Vec<String>>,
}

impl ProxyState {
    fn requests(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn gate(&self) -> &tokio::sync::watch::Sender<bool> {
        self.open
            .get_or_init(|| tokio::sync::watch::channel(true).0)
    }

    /// Waits until the gate is open, counted in `held` meanwhile.
    async fn pass_gate(&self) {
        let mut open = self.gate().subscribe();
        if *open.borrow_and_update() {
            return;
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let _ = open.wait_for(|open| *open).await;
        self.held.fetch_sub(1, Ordering::SeqCst);
    }

    fn holds_request(&self, request: &RecordedRequest) -> bool {
        let held = self
            .hold_request
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        matches!(&*held, Some((method, path)) if *method == request.method && *path == request.path)
    }

    fn snapshot_hold(&self) -> Option<u64> {
        *self
            .hold_snapshot_after
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl OpenBaoProxy {
    /// Proxies `127.0.0.1:<free port>` to `upstream` (e.g. `cluster.node_addr(0)`), streaming bodies both ways.
    pub fn start(upstream: &str) -> Result<Self, ProxyError> {
        let authority = upstream
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .ok_or_else(|| ProxyError::BadUpstream {
                upstream: upstream.to_string(),
            })?;
        let state = Arc::new(ProxyState::default());
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let service = ProxyService {
            upstream_authority: Arc::from(authority),
            client: Client::builder(TokioExecutor::new()).build(connector),
            state: Arc::clone(&state),
        };
        let server = BackgroundServer::start("openbao-proxy", service)?;
        let _ = state.own_addr.set(format!("http://{}", server.addr()));
        Ok(Self { server, state })
    }

    /// `http://127.0.0.1:<port>`: give this to the code under test instead of the node's address.
    pub fn addr(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests().clone()
    }

    /// How many requests had this method and path.
    pub fn count(&self, method: &Method, path: &str) -> usize {
        self.state
            .requests()
            .iter()
            .filter(|request| request.method == *method && request.path == path)
            .count()
    }

    /// Requests that would restore a snapshot (`POST`/`PUT` to `snapshot` or `snapshot-force`).
    pub fn restore_calls(&self) -> Vec<RecordedRequest> {
        self.state
            .requests()
            .iter()
            .filter(|request| request.is_restore())
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.state.requests().clear();
    }

    /// When on, `GET /v1/sys/storage/raft/snapshot` is answered by the proxy itself with 200 and an empty
    /// body (the request is still recorded and never reaches OpenBao).
    pub fn answer_snapshot_with_empty_body(&self, on: bool) {
        self.state.empty_snapshot.store(on, Ordering::SeqCst);
    }

    /// When on, `sys/leader` answers name the proxy instead of the upstream node, so a client that follows the
    /// leader address sends every later call through the proxy too (and the recording is complete).
    pub fn present_as_leader(&self, on: bool) {
        self.state.present_as_leader.store(on, Ordering::SeqCst);
    }

    /// `sys/leader` answers name `address` as the leader (e.g. the same node under another host name), to see
    /// where a client follows them; `None` stops it.
    pub fn name_leader_as(&self, address: Option<&str>) {
        *self
            .state
            .leader_named_as
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = address.map(str::to_owned);
    }

    /// Holds every `method` request to `path` (e.g. [`SNAPSHOT_PATH`]) before forwarding it, until
    /// [`Self::release`]. [`Self::held`] tells when one arrived and waits.
    pub fn hold_requests(&self, method: Method, path: &str) {
        self.state.gate().send_replace(false);
        *self
            .state
            .hold_request
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((method, path.to_string()));
    }

    /// Forwards at least `bytes` of each later snapshot download, then stops reading from OpenBao (which soon
    /// blocks writing) until [`Self::release`].
    pub fn hold_snapshot_after(&self, bytes: u64) {
        self.state.gate().send_replace(false);
        *self
            .state
            .hold_snapshot_after
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(bytes);
    }

    /// Lets everything held continue and holds nothing more.
    pub fn release(&self) {
        *self
            .state
            .hold_request
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        *self
            .state
            .hold_snapshot_after
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        self.state.gate().send_replace(true);
    }

    /// Requests and downloads waiting to be released right now.
    pub fn held(&self) -> usize {
        self.state.held.load(Ordering::SeqCst)
    }

    /// Snapshot bytes passed on to the client, over all downloads.
    pub fn snapshot_bytes_forwarded(&self) -> u64 {
        self.state.snapshot_bytes.load(Ordering::SeqCst)
    }

    /// Snapshot downloads whose body failed on the OpenBao side (e.g. the node died while sending it).
    /// Every token OpenBao issued through the proxy so far (login and token-create answers).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state
            .issued_tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn snapshot_upstream_errors(&self) -> usize {
        self.state.snapshot_upstream_errors.load(Ordering::SeqCst)
    }

    /// Stops the proxy; the port refuses connections afterwards.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

#[derive(Clone)]
struct ProxyService {
    upstream_authority: Arc<str>,
    client: Client<HttpConnector, Incoming>,
    state: Arc<ProxyState>,
}

impl Service<Request<Incoming>> for ProxyService {
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let recorded = RecordedRequest {
            method: request.method().clone(),
            path: request.uri().path().to_string(),
            query: request.uri().query().map(str::to_string),
        };
        let fake_empty_snapshot = self.state.empty_snapshot.load(Ordering::SeqCst)
            && recorded.method == Method::GET
            && recorded.path == SNAPSHOT_PATH;
        let rewrite_leader = self.state.present_as_leader.load(Ordering::SeqCst)
            && recorded.method == Method::GET
            && recorded.path == LEADER_PATH;
        let hold_request = self.state.holds_request(&recorded);
        let snapshot_download = recorded.method == Method::GET && recorded.path == SNAPSHOT_PATH;
        let issues_tokens = recorded.path.starts_with("/v1/auth/");
        let leader_request = recorded.method == Method::GET && recorded.path == LEADER_PATH;
        self.state.requests().push(recorded);
        if fake_empty_snapshot {
            return Box::pin(async {
                Ok(plain_response(
                    StatusCode::OK,
                    "application/gzip",
                    Bytes::new(),
                ))
            });
        }
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_string();
        let client = self.client.clone();
        let authority = Arc::clone(&self.upstream_authority);
        let named_as = self
            .state
            .leader_named_as
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .filter(|_| leader_request);
        let own_addr = named_as.or_else(|| {
            self.state
                .own_addr
                .get()
                .cloned()
                .filter(|_| rewrite_leader)
        });
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            if hold_request {
                state.pass_gate().await;
            }
            let uri = match Uri::builder()
                .scheme("http")
                .authority(&*authority)
                .path_and_query(path_and_query)
                .build()
            {
                Ok(uri) => uri,
                Err(err) => {
                    return Ok(plain_response(
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        err.to_string(),
                    ));
                }
            };
            *request.uri_mut() = uri;
            match client.request(request).await {
                Ok(response) => match own_addr {
                    Some(own_addr) => Ok(leader_named(response, &authority, &own_addr).await),
                    None if snapshot_download => {
                        let hold = state.snapshot_hold();
                        Ok(response.map(|body| watched_snapshot(body, state, hold)))
                    }
                    None if issues_tokens => Ok(tokens_noted(response, &state).await),
                    None => Ok(response.map(BodyExt::boxed)),
                },
                Err(err) => Ok(plain_response(
                    StatusCode::BAD_GATEWAY,
                    "text/plain",
                    format!("proxy: {err}"),
                )),
            }
        })
    }
}

/// The snapshot body as OpenBao sends it, counted, and held at the gate once `hold` bytes were forwarded.
fn watched_snapshot(body: Incoming, state: Arc<ProxyState>, hold: Option<u64>) -> ProxyBody {
    let frames = futures::stream::unfold(
        (BodyStream::new(body), state, 0u64),
        move |(mut body, state, forwarded)| async move {
            if hold.is_some_and(|bytes| forwarded >= bytes) {
                state.pass_gate().await;
            }
            let frame = body.next().await?;
            let len = match &frame {
                Ok(frame) => frame.data_ref().map_or(0, Bytes::len) as u64,
                Err(_) => {
                    state
                        .snapshot_upstream_errors
                        .fetch_add(1, Ordering::SeqCst);
                    0
                }
            };
            state.snapshot_bytes.fetch_add(len, Ordering::SeqCst);
            Some((frame, (body, state, forwarded + len)))
        },
    );
    BodyExt::boxed(StreamBody::new(frames))
}

/// A whole (small, JSON) upstream answer, or the 502 to send when its body broke off.
async fn collected(
    response: Response<Incoming>,
) -> Result<(StatusCode, Bytes), Response<ProxyBody>> {
    let status = response.status();
    match response.into_body().collect().await {
        Ok(collected) => Ok((status, collected.to_bytes())),
        Err(err) => Err(plain_response(
            StatusCode::BAD_GATEWAY,
            "text/plain",
            format!("proxy: {err}"),
        )),
    }
}

/// An `auth/...` answer passed on unchanged, its `auth.client_token` noted.
async fn tokens_noted(response: Response<Incoming>, state: &ProxyState) -> Response<ProxyBody> {
    let (status, body) = match collected(response).await {
        Ok(answer) => answer,
        Err(bad_gateway) => return bad_gateway,
    };
    if let Some(token) = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|answer| answer["auth"]["client_token"].as_str().map(str::to_owned))
    {
        state
            .issued_tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(token);
    }
    plain_response(status, "application/json", body)
}

/// The `sys/leader` answer with the upstream node's address replaced by the proxy's.
async fn leader_named(
    response: Response<Incoming>,
    upstream_authority: &str,
    own_addr: &str,
) -> Response<ProxyBody> {
    let (status, body) = match collected(response).await {
        Ok(answer) => answer,
        Err(bad_gateway) => return bad_gateway,
    };
    let mut leader: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return plain_response(status, "application/json", body),
    };
    let upstream = format!("http://{upstream_authority}");
    if leader["leader_address"].as_str() == Some(upstream.as_str()) {
        leader["leader_address"] = serde_json::Value::String(own_addr.to_string());
    }
    let mut rewritten = plain_response(status, "application/json", leader.to_string());
    *rewritten.status_mut() = status;
    rewritten
}

fn plain_response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<ProxyBody> {
    let body: Bytes = body.into();
    let body = if body.is_empty() {
        Empty::new().map_err(|never| match never {}).boxed()
    } else {
        Full::new(body).map_err(|never| match never {}).boxed()
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

//! Starting a simulator: the HTTP server on 127.0.0.1, the lifecycle controllers, optionally the workload
//! controllers, and clients/kubeconfigs pointing at it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::task::JoinHandle;

use crate::api::Cluster;
use crate::api::resources::GroupResource;
use crate::api::state::Scope;
use crate::api::write::{self, WriteOptions};
use crate::auth::{Authenticator, TokenClaims, random_token};
use crate::controllers::{self, ControllersConfig, ControllersHandle};
use crate::faults::{FaultAction, FaultRule, Faults, Verb};
use crate::requests::{self, RecordedRequest, RequestFilter, RequestLog};
use crate::server::{App, ServingCertificate, TlsListener, router};

pub const DEFAULT_ISSUER: &str = "https://kube-sim.local";

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("binding 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("creating the log directory: {0}")]
    LogDir(std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::server::TlsError),
    #[error("building a client for the simulator: {0}")]
    Client(String),
}

impl SimError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Bind { .. } => "bind",
            Self::LogDir(_) => "log-dir",
            Self::Client(_) => "client",
            Self::Tls(_) => "tls",
        }
    }
}

pub struct SimBuilder {
    port: u16,
    issuer: String,
    history_limit: usize,
    bookmark_interval: Duration,
    request_log_limit: usize,
    record_reads: bool,
    controllers: Option<ControllersConfig>,
}

impl SimBuilder {
    /// Port on 127.0.0.1; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// `iss` of minted ServiceAccount tokens.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// How many changes watches can resume across; older resourceVersions get 410 Gone.
    pub fn history_limit(mut self, events: usize) -> Self {
        self.history_limit = events;
        self
    }

    /// How often watches that asked for bookmarks get one.
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// How many write requests the request log keeps (the newest; default [`requests::DEFAULT_LIMIT`]).
    pub fn request_log_limit(mut self, entries: usize) -> Self {
        self.request_log_limit = entries;
        self
    }

    /// Records reads (get, list, watch) in the request log as well as writes, from the first request on; the same
    /// bound applies. Also switchable while running: `sim.request_log().record_reads(on)`.
    pub fn record_reads(mut self, on: bool) -> Self {
        self.record_reads = on;
        self
    }

    /// Runs the Job controller, kubelet and StatefulSet controller against the server.
    pub fn controllers(mut self, config: ControllersConfig) -> Self {
        self.controllers = Some(config);
        self
    }

    pub async fn start(self) -> Result<Sim, SimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|source| SimError::Bind {
                port: self.port,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| SimError::Bind {
            port: self.port,
            source,
        })?;
        let (log_dir, log_dir_guard) = match &self.controllers {
            Some(config) => (config.log_dir.clone(), None),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("kube-sim-logs")
                    .tempdir()
                    .map_err(SimError::LogDir)?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let certificate = ServingCertificate::generate()?;
        let listener =
            TlsListener::new(listener, &certificate).map_err(|source| SimError::Bind {
                port: self.port,
                source,
            })?;
        let cluster = Arc::new(Cluster::new(self.history_limit, self.bookmark_interval));
        let app = Arc::new(App {
            cluster: cluster.clone(),
            auth: Authenticator::new(self.issuer, random_token()),
            faults: Faults::default(),
            requests: RequestLog::new(self.request_log_limit),
            log_dir: log_dir.clone(),
            address: address.to_string(),
        });
        app.requests.record_reads(self.record_reads);
        seed(&cluster);
        let lifecycle = tokio::spawn(crate::api::lifecycle::run(cluster.clone()));
        cluster.changed.notify_one();
        let server = tokio::spawn({
            let router = router(app.clone());
            async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(%error, "kube-sim server stopped");
                }
            }
        });
        let mut sim = Sim {
            app,
            address,
            ca_pem: certificate.certificate_pem,
            tasks: vec![server, lifecycle],
            controllers: None,
            log_dir,
            _log_dir_guard: log_dir_guard,
        };
        if let Some(config) = self.controllers {
            let client = sim.client().await?;
            sim.controllers = Some(controllers::spawn(client, config));
        }
        Ok(sim)
    }
}

/// The namespaces every cluster starts with.
fn seed(cluster: &Cluster) {
    let mut state = cluster.lock();
    let Some(resource) = state.registry.get(&GroupResource::new("", "namespaces")) else {
        return;
    };
    let scope = Scope {
        resource,
        version: "v1".into(),
        namespace: None,
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let options = WriteOptions {
            field_manager: "kube-apiserver".into(),
            ..WriteOptions::default()
        };
        write::create(&mut state, &scope, namespace, &options).expect("seed namespaces are valid");
    }
}

/// A running simulator; dropping it stops the server, the controllers and every open watch.
pub struct Sim {
    app: Arc<App>,
    address: SocketAddr,
    ca_pem: String,
    tasks: Vec<JoinHandle<()>>,
    controllers: Option<ControllersHandle>,
    log_dir: PathBuf,
    _log_dir_guard: Option<tempfile::TempDir>,
}

impl Sim {
    pub fn builder() -> SimBuilder {
        SimBuilder {
            port: 0,
            issuer: DEFAULT_ISSUER.to_string(),
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(5),
            request_log_limit: requests::DEFAULT_LIMIT,
            record_reads: false,
            controllers: None,
        }
    }

    pub async fn start() -> Result<Sim, SimError> {
        Self::builder().start().await
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// PEM of the self-signed serving certificate: the CA clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn admin_token(&self) -> &str {
        self.app.auth.admin_token()
    }

    pub fn issuer(&self) -> &str {
        self.app.auth.issuer()
    }

    /// Where `pods/log` reads `<namespace>/<pod>/<container>.log` from.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The key ServiceAccount tokens are signed with (PEM `PUBLIC KEY`), e.g. for OpenBao's `jwt_validation_pubkeys`.
    pub fn service_account_public_key_pem(&self) -> String {
        self.app.auth.public_key_pem()
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.app.auth.jwks()
    }

    /// A kubeconfig (admin token) for kubectl and kube clients.
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_yaml_with("admin", self.admin_token(), "default")
    }

    fn kubeconfig_yaml_with(&self, user: &str, token: &str, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: {user}\n    namespace: {namespace}\ncurrent-context: kube-sim\nusers:\n- name: {user}\n  user:\n    token: {token}\n",
            url = self.url(),
            ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
        )
    }

    /// A kubeconfig that authenticates as ServiceAccount `namespace/name` (a token minted for it, valid for a day,
    /// audience the issuer) with `namespace` as its default namespace, as an in-cluster client would. Requests made
    /// with it are logged with user `system:serviceaccount:<namespace>:<name>`, apart from the admin's (tests,
    /// kubectl, the simulator's controllers). `None` while the ServiceAccount does not exist.
    pub fn service_account_kubeconfig_yaml(&self, namespace: &str, name: &str) -> Option<String> {
        let token = self.mint_token(
            namespace,
            name,
            &[self.issuer()],
            Duration::from_secs(24 * 60 * 60),
        )?;
        Some(self.kubeconfig_yaml_with(name, &token, namespace))
    }

    /// Writes the kubeconfig readable only by the owner (mode 0600: it holds the admin token), atomically: a script
    /// or test waiting for the file never reads half of it.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        write_private_atomically(path, &self.kubeconfig_yaml())
    }

    /// Writes [`Self::service_account_kubeconfig_yaml`] as [`Self::write_kubeconfig`] does; `NotFound` while the
    /// ServiceAccount does not exist.
    pub fn write_service_account_kubeconfig(
        &self,
        path: &Path,
        namespace: &str,
        name: &str,
    ) -> std::io::Result<()> {
        let yaml = self
            .service_account_kubeconfig_yaml(namespace, name)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("ServiceAccount {namespace}/{name} does not exist"),
                )
            })?;
        write_private_atomically(path, &yaml)
    }

    pub async fn kube_config(&self) -> Result<kube::Config, SimError> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml())
            .map_err(|e| SimError::Client(e.to_string()))?;
        kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| SimError::Client(e.to_string()))
    }

    pub async fn client(&self) -> Result<kube::Client, SimError> {
        let config = self.kube_config().await?;
        kube::Client::try_from(config).map_err(|e| SimError::Client(e.to_string()))
    }

    /// A ServiceAccount token as the TokenRequest API would mint it (the account must exist to authenticate).
    pub fn mint_token(
        &self,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        expiration: Duration,
    ) -> Option<String> {
        let account = self.app.cluster.lock().store.get(
            &GroupResource::new("", "serviceaccounts"),
            namespace,
            service_account,
        )?;
        let (token, _) = self.app.auth.mint(&TokenClaims {
            namespace,
            service_account,
            service_account_uid: account["metadata"]["uid"].as_str().unwrap_or_default(),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            expiration_seconds: expiration.as_secs() as i64,
            pod: None,
        });
        Some(token)
    }

    /// The next `count` requests with this verb on this resource (plural, or `plural/subresource`) fail with
    /// `code` (409, 429, 500, ...).
    pub fn fail_next(&self, verb: Verb, resource: &str, code: u16, count: u32) {
        self.app.faults.add(FaultRule {
            verb: Some(verb),
            resource: Some(resource.into()),
            action: FaultAction::Fail(code),
            remaining: count,
        });
    }

    /// The next `count` requests with this verb on this resource wait `delay` first.
    pub fn delay_next(&self, verb: Verb, resource: &str, delay: Duration, count: u32) {
        self.app.faults.add(FaultRule {
            verb: Some(verb),
            resource: Some(resource.into()),
            action: FaultAction::Delay(delay),
            remaining: count,
        });
    }

    pub fn clear_faults(&self) {
        self.app.faults.clear();
    }

    /// Every write request answered so far, and every read while reads are recorded (the newest
    /// [`SimBuilder::request_log_limit`]), oldest first. The simulator's own controllers are clients too, so
    /// their requests are here as well.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.requests.entries()
    }

    /// Requests with this verb on this resource: `plural` for the object itself, `plural/subresource` for a
    /// subresource (e.g. `(Verb::Patch, "jobs/status")`).
    pub fn requests_matching(&self, verb: Verb, resource: &str) -> Vec<RecordedRequest> {
        self.app.requests.matching(&RequestFilter {
            verb: Some(verb),
            resource: Some(resource.into()),
            ..RequestFilter::default()
        })
    }

    /// The request log itself: other filters, the drop count, the newest sequence number, recording reads.
    pub fn request_log(&self) -> &RequestLog {
        &self.app.requests
    }

    /// Ends every open watch connection (clients see the stream end and must re-watch).
    pub fn cut_watches(&self) {
        self.app.cluster.cut_watches();
    }

    /// The current cluster-wide resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.app.cluster.lock().store.resource_version()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.controllers.take();
        self.app.cluster.cut_watches();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Writes `contents` with mode 0600 through a temporary file renamed into place.
fn write_private_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "kubeconfig path has no file name",
        )
    })?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(file_name);
    partial_name.push(format!(".partial-{}", std::process::id()));
    let partial = path.with_file_name(partial_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}

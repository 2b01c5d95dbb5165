//! A GCS XML-API server on loopback. object_store's GCS client speaks the XML API (object PUT/GET/HEAD/
//! DELETE, `list-type=2` listing, XML multipart uploads), which Google designed to be S3-compatible; the
//! upstream fake-gcs-server lacks object PUT and multipart on that API (fsouza/fake-gcs-server#331, #852).
//! So this server is s3s-fs in process, authenticated the GCS way: an OAuth bearer token, never an AWS
//! signature.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header::AUTHORIZATION};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::Service;
use object_store::ObjectStore;
use object_store::gcp::GoogleCloudStorageBuilder;
use s3s::service::{S3Service, S3ServiceBuilder};
use serde_json::json;

use super::faults::{Dialect, FaultService, StoreFaults};
use super::s3_service::pending_uploads;
use super::{DEFAULT_BUCKET, StoreError, assertion_retry_config};
use crate::background::BackgroundServer;
use crate::scratch::ScratchDir;

/// A GCS XML-API endpoint with one bucket. Requests carry an OAuth bearer token (any token is accepted, as
/// by an emulator with OAuth disabled) or none; an AWS-signed request is refused with 401.
#[derive(Debug)]
pub struct GcsServer {
    server: BackgroundServer,
    bucket: String,
    faults: Arc<StoreFaults>,
    // Declared last: removed after the server stopped.
    dir: ScratchDir,
}

impl GcsServer {
    /// Starts the server with bucket [`DEFAULT_BUCKET`]. Synchronous: it runs on its own thread.
    pub fn start() -> Result<Self, StoreError> {
        Self::start_with_bucket(DEFAULT_BUCKET)
    }

    pub fn start_with_bucket(bucket: &str) -> Result<Self, StoreError> {
        crate::install_crypto_provider();
        let io = |what: &str| {
            let what = what.to_string();
            move |source| StoreError::Io { what, source }
        };
        let dir = ScratchDir::new("gcs-server-").map_err(io("creating the GCS temp dir"))?;
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join(bucket)).map_err(io("creating the bucket dir"))?;
        let filesystem = s3s_fs::FileSystem::new(&root).map_err(|err| StoreError::Setup {
            what: "starting s3s-fs".into(),
            detail: format!("{err:?}"),
        })?;
        let faults = Arc::new(StoreFaults::default());
        // The XML API's requests are S3's, so the S3 fault dialect classifies them.
        let service = FaultService {
            inner: BearerAuthService {
                inner: S3ServiceBuilder::new(filesystem).build(),
            },
            faults: faults.clone(),
            dialect: Dialect::S3,
        };
        let server =
            BackgroundServer::start("gcs", service).map_err(io("starting the GCS server"))?;
        Ok(Self {
            server,
            bucket: bucket.to_string(),
            faults,
            dir,
        })
    }

    /// `http://127.0.0.1:<port>`: the base URL for clients (object_store's `with_base_url`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The fault plan and per-operation request counts (see `faults`).
    pub fn faults(&self) -> &StoreFaults {
        &self.faults
    }

    /// Ids of XML multipart uploads neither completed nor aborted (from the server's files).
    pub fn pending_uploads(&self) -> Vec<String> {
        pending_uploads(&self.dir.path().join("data"))
    }

    /// Keys of all stored objects, sorted, read straight from the filesystem.
    pub fn list_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        super::s3::collect_files(&self.bucket_dir(), "", &mut keys);
        keys.sort();
        keys
    }

    /// Stops the server at once, as if the store died; the files stay.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// The directory holding the bucket's objects (key `a/b` is file `a/b` in it).
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join("data").join(&self.bucket)
    }

    /// Service-account JSON that points object_store at this server without OAuth (`disable_oauth`);
    /// clients take it via `with_service_account_key` (or a file via `with_service_account_path`).
    pub fn service_account_key(&self) -> String {
        json!({
            "gcs_base_url": self.endpoint(),
            "disable_oauth": true,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        })
        .to_string()
    }

    /// A client for the bucket.
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let store = GoogleCloudStorageBuilder::new()
            .with_bucket_name(self.bucket())
            .with_service_account_key(self.service_account_key())
            .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
            .with_retry(assertion_retry_config())
            .build()?;
        Ok(Arc::new(store))
    }
}

type GcsBody = BoxBody<Bytes, s3s::StdError>;

/// Hands GCS requests (bearer token or none) to s3s as anonymous requests, so the S3 signature check never
/// sees them; refuses AWS-signed requests, which a GCS client never sends.
#[derive(Clone)]
struct BearerAuthService {
    inner: S3Service,
}

impl Service<Request<Incoming>> for BearerAuthService {
    type Response = Response<GcsBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        // With OAuth disabled object_store sends an empty bearer token or none at all.
        let gcs_auth = match request.headers().get(AUTHORIZATION) {
            None => true,
            Some(value) => value
                .to_str()
                .is_ok_and(|value| value.starts_with("Bearer")),
        };
        if !gcs_auth {
            return Box::pin(async { Ok(unauthorized()) });
        }
        request.headers_mut().remove(AUTHORIZATION);
        let inner = self.inner.clone();
        Box::pin(async move {
            match Service::call(&inner, request).await {
                Ok(response) => Ok(response.map(|body| body.map_err(s3s::StdError::from).boxed())),
                Err(err) => Ok(text_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{err:?}"),
                )),
            }
        })
    }
}

fn unauthorized() -> Response<GcsBody> {
    text_response(
        StatusCode::UNAUTHORIZED,
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AuthenticationRequired</Code></Error>"
            .to_string(),
    )
}

fn text_response(status: StatusCode, body: String) -> Response<GcsBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

//! An in-process S3 server (s3s-fs) that checks SigV4 signatures and stores objects as plain files
//! (multipart completion and upload statistics: see `s3_service`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

use super::faults::{Dialect, FaultService, StoreFaults};
use super::s3_service::{HarnessS3, UploadCounters, UploadStats, pending_uploads};
use super::{DEFAULT_BUCKET, StoreError, assertion_retry_config};
use crate::background::BackgroundServer;
use crate::scratch::ScratchDir;

/// Bucket, region and the one accepted key pair of an [`S3Server`].
#[derive(Debug, Clone)]
pub struct S3Options {
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Holds every `UploadPart` this long before storing it: a slow link, so uploaders' concurrency shows.
    pub part_delay: Option<Duration>,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            bucket: DEFAULT_BUCKET.to_string(),
            region: "us-east-1".to_string(),
            access_key: "harness-access-key".to_string(),
            secret_key: "harness-secret-key".to_string(),
            part_delay: None,
        }
    }
}

/// A real S3 HTTP server on 127.0.0.1 (path-style addressing, SigV4 auth on: a wrong secret is refused
/// with `SignatureDoesNotMatch`). Objects are files under [`S3Server::bucket_dir`].
#[derive(Debug)]
pub struct S3Server {
    server: BackgroundServer,
    options: S3Options,
    counters: Arc<UploadCounters>,
    faults: Arc<StoreFaults>,
    // Declared last: removed after the server stopped.
    dir: ScratchDir,
}

impl S3Server {
    /// Starts the server with `options.bucket` already created. Synchronous: it runs on its own thread.
    pub fn start(options: S3Options) -> Result<Self, StoreError> {
        crate::install_crypto_provider();
        let io = |what: &str| {
            let what = what.to_string();
            move |source| StoreError::Io { what, source }
        };
        let dir = ScratchDir::new("s3-server-").map_err(io("creating the S3 temp dir"))?;
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join(&options.bucket))
            .map_err(io("creating the bucket dir"))?;
        let filesystem = s3s_fs::FileSystem::new(&root).map_err(|err| StoreError::Setup {
            what: "starting s3s-fs".into(),
            detail: format!("{err:?}"),
        })?;
        let counters = Arc::new(UploadCounters::default());
        let mut builder = S3ServiceBuilder::new(HarnessS3::new(
            filesystem,
            &root,
            counters.clone(),
            options.part_delay,
        ));
        builder.set_auth(SimpleAuth::from_single(
            options.access_key.clone(),
            options.secret_key.clone(),
        ));
        let faults = Arc::new(StoreFaults::default());
        let service = FaultService {
            inner: builder.build(),
            faults: faults.clone(),
            dialect: Dialect::S3,
        };
        let server =
            BackgroundServer::start("s3", service).map_err(io("starting the S3 server"))?;
        Ok(Self {
            server,
            options,
            counters,
            faults,
            dir,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn bucket(&self) -> &str {
        &self.options.bucket
    }

    pub fn region(&self) -> &str {
        &self.options.region
    }

    pub fn access_key(&self) -> &str {
        &self.options.access_key
    }

    pub fn secret_key(&self) -> &str {
        &self.options.secret_key
    }

    /// Multipart upload statistics since the server started.
    pub fn upload_stats(&self) -> UploadStats {
        self.counters.snapshot()
    }

    /// The fault plan and per-operation request counts (see `faults`): every request passes through it.
    pub fn faults(&self) -> &StoreFaults {
        &self.faults
    }

    /// Ids of multipart uploads started and neither completed nor aborted (read from the server's files, the
    /// same state `ListMultipartUploads` reports on a real store; works after `stop`).
    pub fn pending_uploads(&self) -> Vec<String> {
        pending_uploads(&self.dir.path().join("data"))
    }

    /// Stops the server at once, as if the store died: open requests fail, the port refuses connections.
    /// The files stay for assertions.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// The directory holding the bucket's objects (key `a/b` is file `a/b` in it).
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.path().join("data").join(&self.options.bucket)
    }

    /// Keys of all stored objects, sorted, read straight from the filesystem (works after `stop`).
    pub fn list_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        collect_files(&self.bucket_dir(), "", &mut keys);
        keys.sort();
        keys
    }

    /// The bytes of object `key` straight from the filesystem, `None` when it does not exist.
    pub fn read_object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.bucket_dir().join(key)).ok()
    }

    /// Writes object `key` straight into the filesystem (for tests that plant a corrupted or foreign object).
    pub fn write_object(&self, key: &str, bytes: &[u8]) {
        let path = self.bucket_dir().join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("object folder");
        }
        std::fs::write(path, bytes).expect("object written");
    }

    /// A client for the bucket (path-style, plain HTTP, the server's credentials).
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let store = AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_bucket_name(self.bucket())
            .with_region(self.region())
            .with_access_key_id(self.access_key())
            .with_secret_access_key(self.secret_key())
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_retry(assertion_retry_config())
            .build()?;
        Ok(Arc::new(store))
    }
}

pub(super) fn collect_files(dir: &Path, prefix: &str, keys: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect_files(&entry.path(), &key, keys),
            Ok(kind) if kind.is_file() => keys.push(key),
            _ => {}
        }
    }
}

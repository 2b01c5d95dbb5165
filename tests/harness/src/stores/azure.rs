//! Azurite (Microsoft's Azure Storage emulator), blob service only, as a process on loopback.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::azure::{
    AzureAccessKey, AzureAuthorizer, AzureCredential, MicrosoftAzureBuilder,
};
use object_store::client::HttpRequestBody;

use super::{DEFAULT_BUCKET, StoreError, assertion_retry_config};
use crate::ports::free_port;
use crate::process::ServerProcess;
use crate::scratch::ScratchDir;
use crate::tools::{Tool, locate};
use crate::wait::poll_until;

/// The emulator's well-known development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The well-known (public) key of [`AZURITE_ACCOUNT`].
pub const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Azurite's blob service on plain HTTP with path-style URLs (`http://127.0.0.1:<port>/devstoreaccount1/
/// <container>/<blob>`), shared-key auth with the well-known dev account, one container created.
#[derive(Debug)]
pub struct AzuriteServer {
    process: ServerProcess,
    port: u16,
    container: String,
    // Declared last: removed after the process is dead.
    dir: ScratchDir,
}

impl AzuriteServer {
    /// Starts `azurite-blob` (data in a temp dir) with container [`DEFAULT_BUCKET`].
    pub async fn start() -> Result<Self, StoreError> {
        Self::start_with_container(DEFAULT_BUCKET).await
    }

    pub async fn start_with_container(container: &str) -> Result<Self, StoreError> {
        crate::install_crypto_provider();
        let binary = locate(Tool::AzuriteBlob)?;
        let io = |what: &str| {
            let what = what.to_string();
            move |source| StoreError::Io { what, source }
        };
        let dir = ScratchDir::new("azurite-").map_err(io("creating the Azurite temp dir"))?;
        let port = free_port().map_err(io("finding a free port"))?;
        let mut command = Command::new(binary);
        command
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
            ])
            .arg(dir.path().join("data"))
            // Any client API version, and no failure on headers Azurite does not know.
            .args(["--skipApiVersionCheck", "--loose"]);
        let process =
            ServerProcess::spawn("azurite-blob", command, &dir.path().join("server.log"))?;
        let server = Self {
            process,
            port,
            container: container.to_string(),
            dir,
        };
        server.wait_ready().await?;
        server.create_container().await?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>/devstoreaccount1`: the account URL (object_store's `with_endpoint`).
    pub fn account_url(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
    }

    pub fn account(&self) -> &str {
        AZURITE_ACCOUNT
    }

    pub fn account_key(&self) -> &str {
        AZURITE_ACCOUNT_KEY
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    /// The server's temp dir (data and `server.log`).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> &std::path::Path {
        self.process.log_path()
    }

    /// Kills the server, as if the store died.
    pub fn stop(&mut self) {
        self.process.kill();
    }

    /// A client for the container. It uses the explicit account URL rather than object_store's emulator
    /// switch, which reads the emulator address from a process-wide environment variable.
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let store = MicrosoftAzureBuilder::new()
            .with_account(AZURITE_ACCOUNT)
            .with_access_key(AZURITE_ACCOUNT_KEY)
            .with_container_name(self.container())
            .with_endpoint(self.account_url())
            .with_allow_http(true)
            .with_retry(assertion_retry_config())
            .build()?;
        Ok(Arc::new(store))
    }

    async fn wait_ready(&self) -> Result<(), StoreError> {
        let http = http_client()?;
        let url = format!("{}?comp=list", self.account_url());
        poll_until("Azurite to answer", STARTUP_TIMEOUT, || async {
            if let Some(status) = self.process.exit_status() {
                return Err(format!("exited ({status}): {}", self.process.log_tail(20)));
            }
            // Any HTTP answer (an unsigned list is refused) means the service listens.
            http.get(&url)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| err.to_string())
        })
        .await?;
        Ok(())
    }

    /// object_store cannot create containers; sign the Create Container call with its shared-key signer.
    async fn create_container(&self) -> Result<(), StoreError> {
        let what = format!("creating container {}", self.container);
        let url = format!(
            "{}/{}?restype=container",
            self.account_url(),
            self.container
        );
        self.signed(http::Method::PUT, &url, &what).await.map(drop)
    }

    /// Names of the blobs that hold only uncommitted blocks (a block upload that was never committed, which
    /// Azure keeps for 7 days): List Blobs with `include=uncommittedblobs`, minus the committed ones.
    pub async fn uncommitted_blobs(&self) -> Result<Vec<String>, StoreError> {
        let base = format!(
            "{}/{}?restype=container&comp=list",
            self.account_url(),
            self.container
        );
        let what = "listing blobs";
        let all = self
            .signed(
                http::Method::GET,
                &format!("{base}&include=uncommittedblobs"),
                what,
            )
            .await?;
        let committed = self.signed(http::Method::GET, &base, what).await?;
        let committed = xml_names(&committed);
        Ok(xml_names(&all)
            .into_iter()
            .filter(|name| !committed.contains(name))
            .collect())
    }

    /// One shared-key-signed request; the body of a success, the status and body as an error otherwise.
    async fn signed(
        &self,
        method: http::Method,
        url: &str,
        what: &str,
    ) -> Result<String, StoreError> {
        let setup_error = |detail: String| StoreError::Setup {
            what: what.to_owned(),
            detail,
        };
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .body(HttpRequestBody::empty())
            .map_err(|err| setup_error(err.to_string()))?;
        if method == http::Method::PUT {
            request.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from_static("0"),
            );
        }
        let key = AzureAccessKey::try_new(AZURITE_ACCOUNT_KEY)
            .map_err(|err| setup_error(err.to_string()))?;
        let credential = AzureCredential::AccessKey(key);
        AzureAuthorizer::new(&credential, AZURITE_ACCOUNT)
            .try_authorize(&mut request)
            .map_err(|err| setup_error(err.to_string()))?;
        let response = http_client()?
            .request(method, url)
            .headers(request.headers().clone())
            .send()
            .await
            .map_err(|source| StoreError::Http {
                what: what.to_owned(),
                source,
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(setup_error(format!("{status}: {body}")))
        }
    }
}

fn http_client() -> Result<reqwest::Client, StoreError> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|source| StoreError::Http {
            what: "building the HTTP client".into(),
            source,
        })
}

/// The `<Name>` values of a List Blobs answer.
fn xml_names(xml: &str) -> Vec<String> {
    xml.split("<Name>")
        .skip(1)
        .filter_map(|rest| rest.split("</Name>").next())
        .map(str::to_owned)
        .collect()
}

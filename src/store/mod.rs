//! Builds the object store a backup or restore talks to, per provider, from the executor's settings.
//!
//! Static credentials come from files (a mounted Secret); without them each provider's default chain applies
//! (workload identity, instance metadata, the provider's standard environment variables).

mod error;

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{BackoffConfig, Certificate, ClientOptions, ObjectStore, RetryConfig};
use openbao_crds::StorageProvider;

pub use error::StoreError;

use crate::openbao::SecretString;

/// Static credentials read from the credentials directory, or the provider's ambient chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreCredentials {
    Ambient,
    S3 {
        access_key_id: SecretString,
        secret_access_key: SecretString,
        session_token: Option<SecretString>,
    },
    /// A service-account JSON key.
    GcsServiceAccount(SecretString),
    AzureAccountKey(SecretString),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    pub max_retries: usize,
    pub retry_timeout: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        let defaults = RetryConfig::default();
        Self {
            max_retries: defaults.max_retries,
            retry_timeout: defaults.retry_timeout,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    pub provider: StorageProvider,
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub force_path_style: bool,
    pub azure_account: Option<String>,
    pub credentials: StoreCredentials,
    pub ca_pem: Option<Vec<u8>>,
    pub retry: RetrySettings,
    /// S3: sign requests with `UNSIGNED-PAYLOAD` instead of hashing every part. The manifest digest covers the
    /// bytes end to end and TLS protects them in transit, so this only saves a SHA-256 pass on both sides.
    pub unsigned_payload: bool,
}

pub fn build(settings: &StoreSettings) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let provider = settings.provider.as_str();
    let built = |result: object_store::Result<Arc<dyn ObjectStore>>| {
        result.map_err(|source| StoreError::Build { provider, source })
    };
    let options = client_options(settings)?;
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: settings.retry.max_retries,
        retry_timeout: settings.retry.retry_timeout,
    };
    match settings.provider {
        StorageProvider::S3 => built(
            s3(settings, options, retry)
                .build()
                .map(|s| Arc::new(s) as _),
        ),
        StorageProvider::Gcs => built(
            gcs(settings, options, retry)
                .build()
                .map(|s| Arc::new(s) as _),
        ),
        StorageProvider::Azure => built(
            azure(settings, options, retry)
                .build()
                .map(|s| Arc::new(s) as _),
        ),
    }
}

fn client_options(settings: &StoreSettings) -> Result<ClientOptions, StoreError> {
    let mut options = ClientOptions::new();
    if settings
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"))
    {
        options = options.with_allow_http(true);
    }
    if let Some(pem) = &settings.ca_pem {
        let certs =
            Certificate::from_pem_bundle(pem).map_err(|e| StoreError::InvalidCa(e.to_string()))?;
        for cert in certs {
            options = options.with_root_certificate(cert);
        }
    }
    Ok(options)
}

fn s3(settings: &StoreSettings, options: ClientOptions, retry: RetryConfig) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&settings.bucket)
        .with_client_options(options)
        .with_retry(retry)
        .with_virtual_hosted_style_request(!settings.force_path_style)
        .with_unsigned_payload(settings.unsigned_payload);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    if let StoreCredentials::S3 {
        access_key_id,
        secret_access_key,
        session_token,
    } = &settings.credentials
    {
        builder = builder
            .with_access_key_id(access_key_id.expose())
            .with_secret_access_key(secret_access_key.expose());
        if let Some(token) = session_token {
            builder = builder.with_token(token.expose());
        }
    }
    builder
}

fn gcs(
    settings: &StoreSettings,
    options: ClientOptions,
    retry: RetryConfig,
) -> GoogleCloudStorageBuilder {
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(&settings.bucket)
        .with_client_options(options)
        .with_retry(retry);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_base_url(endpoint.trim_end_matches('/'));
    }
    if let StoreCredentials::GcsServiceAccount(key) = &settings.credentials {
        builder = builder.with_service_account_key(key.expose());
    }
    builder
}

fn azure(
    settings: &StoreSettings,
    options: ClientOptions,
    retry: RetryConfig,
) -> MicrosoftAzureBuilder {
    let mut builder = MicrosoftAzureBuilder::from_env()
        .with_container_name(&settings.bucket)
        .with_client_options(options)
        .with_retry(retry);
    if let Some(account) = &settings.azure_account {
        builder = builder.with_account(account);
    }
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint.trim_end_matches('/').to_owned());
    }
    if let StoreCredentials::AzureAccountKey(key) = &settings.credentials {
        builder = builder.with_access_key(key.expose());
    }
    builder
}

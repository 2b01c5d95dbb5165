//! Where snapshots are stored: provider, bucket, prefix and provider-specific settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;
use crate::secret_ref::{CaBundleSecretRef, SecretNameRef};

/// An object-store location for snapshots and their manifests.
///
/// Keys are `<pathPrefix>/<namespace>/<cluster>/<UTC yyyymmddThhmmssZ>-<kind>-<8 hex>.snap`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    { "rule": "!has(self.s3) || self.provider == 's3'", "message": "s3 settings require provider: s3" },
    { "rule": "!has(self.gcs) || self.provider == 'gcs'", "message": "gcs settings require provider: gcs" },
    { "rule": "!has(self.azure) || self.provider == 'azure'", "message": "azure settings require provider: azure" },
    {
        "rule": "self.provider != 'azure' || has(self.azure)",
        "message": "provider azure requires azure.storageAccount"
    }
]))]
pub struct BackupTarget {
    /// Object-store protocol: `s3`, `gcs` or `azure`.
    pub provider: StorageProvider,
    /// Bucket (S3, GCS) or container (Azure) name, e.g. `openbao-snapshots`.
    #[schemars(length(min = 3, max = 222), pattern(patterns::BUCKET))]
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/`, e.g. `prod/openbao`. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), pattern(patterns::PATH_SEGMENTS))]
    pub path_prefix: Option<String>,
    /// S3 settings; only with `provider: s3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Options>,
    /// GCS settings; only with `provider: gcs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsOptions>,
    /// Azure Blob settings; required with `provider: azure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureOptions>,
    /// Secret with static object-store credentials (S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`;
    /// GCS: `service-account.json`; Azure: `AZURE_STORAGE_ACCOUNT_KEY`). Omit to use workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretNameRef>,
    /// Cloud workload identity for the executor Job's ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentity>,
    /// CA bundle to trust for the object-store endpoint (private or self-signed endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<CaBundleSecretRef>,
}

/// `<pathPrefix>/<namespace>/<cluster>/`, the folder that holds one cluster's recovery points: where the executor
/// writes them, where retention and `latest` look, and where a restore without `force` may read. Empty prefix
/// segments collapse (`a//b/` is `a/b`), so operator and executor agree on every prefix.
pub fn cluster_folder(path_prefix: Option<&str>, namespace: &str, cluster: &str) -> String {
    let mut folder = String::new();
    for segment in path_prefix
        .into_iter()
        .flat_map(|prefix| prefix.split('/'))
        .filter(|segment| !segment.is_empty())
    {
        folder.push_str(segment);
        folder.push('/');
    }
    format!("{folder}{namespace}/{cluster}/")
}

impl BackupTarget {
    /// The endpoint of whichever provider block is set (`None`: the provider's public API).
    pub fn endpoint(&self) -> Option<&str> {
        self.s3
            .as_ref()
            .and_then(|s3| s3.endpoint.as_deref())
            .or_else(|| self.gcs.as_ref().and_then(|gcs| gcs.endpoint.as_deref()))
            .or_else(|| {
                self.azure
                    .as_ref()
                    .and_then(|azure| azure.endpoint.as_deref())
            })
    }

    /// A target with only provider and bucket set.
    pub fn new(provider: StorageProvider, bucket: impl Into<String>) -> Self {
        Self {
            provider,
            bucket: bucket.into(),
            path_prefix: None,
            s3: None,
            gcs: None,
            azure: None,
            credentials_secret_ref: None,
            workload_identity: None,
            ca_secret_ref: None,
        }
    }
}

/// Object-store protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageProvider {
    S3,
    Gcs,
    Azure,
}

impl StorageProvider {
    /// The API string (`s3`, `gcs`, `azure`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::Gcs => "gcs",
            Self::Azure => "azure",
        }
    }
}

impl std::fmt::Display for StorageProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// S3 and S3-compatible stores.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Options {
    /// Endpoint of an S3-compatible store, e.g. `https://minio.storage.svc:9000`. Default: AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), pattern(patterns::HTTP_URL))]
    pub endpoint: Option<String>,
    /// Region, e.g. `eu-west-1`. Default: from the environment, else `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(patterns::S3_REGION))]
    pub region: Option<String>,
    /// Address buckets as `<endpoint>/<bucket>` instead of `<bucket>.<endpoint>`; most S3-compatible stores need
    /// it. Default `false`.
    #[serde(default)]
    pub force_path_style: bool,
    /// IAM role the executor assumes (IRSA / web identity), e.g. `arn:aws:iam::123456789012:role/openbao-backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), pattern(patterns::ROLE_ARN))]
    pub role_arn: Option<String>,
}

/// Google Cloud Storage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcsOptions {
    /// Endpoint override, e.g. for a GCS emulator. Default: Google's public endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), pattern(patterns::HTTP_URL))]
    pub endpoint: Option<String>,
}

/// Azure Blob Storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureOptions {
    /// Storage account name, e.g. `openbaobackups`.
    #[schemars(length(min = 3, max = 24), pattern(patterns::AZURE_STORAGE_ACCOUNT))]
    pub storage_account: String,
    /// Blob endpoint override, e.g. for Azurite or a sovereign cloud.
    /// Default `https://<storageAccount>.blob.core.windows.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), pattern(patterns::HTTP_URL))]
    pub endpoint: Option<String>,
}

/// Cloud workload identity: the executor Job's ServiceAccount carries these annotations instead of static keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {
    /// Annotations added to the executor ServiceAccount, e.g.
    /// `iam.gke.io/gcp-service-account: backup@project.iam.gserviceaccount.com`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32, "additionalProperties" = { "type": "string", "maxLength": 4096 }))]
    pub service_account_annotations: BTreeMap<String, String>,
}

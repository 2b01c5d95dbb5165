//! `OpenBaoCluster`: an existing OpenBao raft cluster the operator protects.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backup::BackupSpec;
use crate::cluster_status::OpenBaoClusterStatus;
use crate::patterns;
use crate::secret_ref::CaBundleSecretRef;

/// Annotation that requests a manual backup. Every new value is queued, never dropped;
/// `status.backup.lastHandledTrigger` shows the value whose Job was created last.
pub const TRIGGER_BACKUP_ANNOTATION: &str = "openbao.org/trigger-backup";
/// Annotation whose new value retries a `Blocked` or `Failed` upgrade to the same version.
pub const RETRY_UPGRADE_ANNOTATION: &str = "openbao.org/retry-upgrade";
/// Label of a backup Job: the [`BackupKind`](crate::BackupKind) it runs (`scheduled`, `manual`, `pre-upgrade`).
pub const BACKUP_KIND_LABEL: &str = "openbao.org/backup-kind";

/// Which OpenBao raft cluster (e.g. a StatefulSet from the OpenBao Helm chart) the operator protects and how it is
/// backed up.
// clippy reads the repeated `type_ = ...` of the printcolumn lists as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "openbao.org",
    version = "v1alpha1",
    kind = "OpenBaoCluster",
    plural = "openbaoclusters",
    singular = "openbaocluster",
    shortname = "obc",
    category = "openbao",
    namespaced,
    status = "OpenBaoClusterStatus",
    derive = "PartialEq",
    doc = "An OpenBao raft cluster protected by scheduled snapshots, explicit restores and one operation lock.",
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".spec.version",
        description = "Desired OpenBao version"
    ),
    printcolumn(
        name = "Last Backup",
        type_ = "date",
        json_path = ".status.backup.lastSuccessTime",
        description = "Completion time of the newest verified backup"
    ),
    printcolumn(
        name = "Next Backup",
        // `date` columns render a future time as `<invalid>` in kubectl: show the timestamp itself.
        type_ = "string",
        json_path = ".status.backup.nextScheduledBackup",
        description = "Next scheduled fire time"
    ),
    printcolumn(
        name = "Failures",
        type_ = "integer",
        json_path = ".status.backup.consecutiveFailures",
        description = "Backups failed in a row since the last success"
    ),
    printcolumn(
        name = "Lock",
        type_ = "string",
        json_path = ".status.operationLock.operation",
        description = "Operation holding the cluster lock"
    ),
    printcolumn(
        name = "Upgrade",
        type_ = "string",
        json_path = ".status.upgrade.phase",
        description = "Phase of the running or last upgrade"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct OpenBaoClusterSpec {
    /// Desired OpenBao version, e.g. `2.4.1`. A change starts a guarded upgrade.
    #[schemars(length(min = 1, max = 64), pattern(patterns::VERSION))]
    pub version: String,
    /// OpenBao image repository; the tag is `version`. Default `quay.io/openbao/openbao`.
    #[serde(default = "default_image")]
    #[schemars(length(min = 1, max = 512))]
    pub image: String,
    /// Number of OpenBao pods (raft voters). Default `3`.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1))]
    pub replicas: i32,
    /// Which StatefulSet and container run OpenBao.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// URL executors use to reach the cluster. Default `https://<name>.<namespace>.svc:8200`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), pattern(patterns::HTTP_URL))]
    pub endpoint: Option<String>,
    /// TLS settings for `endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// Accept `http://` endpoints (OpenBao and object store). Traffic, the OpenBao token included, is then
    /// unencrypted: for tests and trusted networks only. Accepted plain-HTTP endpoints raise a Warning event.
    /// Default `false`: an `http://` endpoint is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_plain_http: bool,
    /// Where executors may follow `sys/leader` besides the endpoint's own host and the Service names of this
    /// namespace (`*.<namespace>.svc`): they send their OpenBao token there next. Host names, `*.domain`
    /// wildcards, IP addresses or CIDR networks, e.g. `10.244.0.0/16` when OpenBao advertises Pod IPs as its
    /// `api_addr`. A leader anywhere else fails the Job with reason `LeaderAddressForbidden`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 253)))]
    pub leader_hosts: Vec<String>,
    /// Snapshots to object storage. Unset: no backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// Upgrade behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeSpec>,
}

impl OpenBaoClusterSpec {
    /// A spec for `version` with every documented default and no backup.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            image: default_image(),
            replicas: default_replicas(),
            workload: WorkloadSpec::default(),
            endpoint: None,
            tls: None,
            allow_plain_http: false,
            leader_hosts: Vec::new(),
            backup: None,
            upgrade: None,
        }
    }

    /// Whether an upgrade first takes a pre-upgrade snapshot: on by default whenever `backup` is set.
    pub fn pre_upgrade_snapshot_enabled(&self) -> bool {
        self.backup.is_some()
            && self
                .upgrade
                .as_ref()
                .and_then(|upgrade| upgrade.pre_upgrade_snapshot)
                .unwrap_or(true)
    }
}

impl OpenBaoCluster {
    /// The StatefulSet running OpenBao: `spec.workload.statefulSetName`, else the cluster's own name.
    pub fn stateful_set_name(&self) -> Option<&str> {
        self.spec
            .workload
            .stateful_set_name
            .as_deref()
            .or(self.metadata.name.as_deref())
    }

    /// The URL executors use: `spec.endpoint`, else `https://<name>.<namespace>.svc:8200`.
    pub fn endpoint(&self) -> Option<String> {
        if let Some(endpoint) = &self.spec.endpoint {
            return Some(endpoint.clone());
        }
        let name = self.metadata.name.as_deref()?;
        let namespace = self.metadata.namespace.as_deref()?;
        Some(format!("https://{name}.{namespace}.svc:8200"))
    }
}

/// The workload that runs OpenBao.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Name of the StatefulSet. Default: the OpenBaoCluster's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(patterns::DNS_LABEL))]
    pub stateful_set_name: Option<String>,
    /// Name of the OpenBao container in its pods. Default `openbao`.
    #[serde(default = "default_container_name")]
    #[schemars(length(min = 1, max = 63), pattern(patterns::DNS_LABEL))]
    pub container_name: String,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        Self {
            stateful_set_name: None,
            container_name: default_container_name(),
        }
    }
}

/// How executors verify the OpenBao server certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// CA bundle that signed the OpenBao server certificate. Default: the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<CaBundleSecretRef>,
    /// Server name to verify instead of the endpoint's host, e.g. `openbao.internal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
}

/// Upgrade behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeSpec {
    /// Take a snapshot before rolling out a new version. Default: `true` when `backup` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_upgrade_snapshot: Option<bool>,
}

fn default_image() -> String {
    "quay.io/openbao/openbao".to_owned()
}

fn default_replicas() -> i32 {
    3
}

fn default_container_name() -> String {
    "openbao".to_owned()
}

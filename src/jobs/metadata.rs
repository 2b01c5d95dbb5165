//! Names, labels, annotations and the owner reference shared by every object the operator creates for a cluster.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use openbao_crds::{BackupKind, OpenBaoCluster, Operation};

use super::JobBuildError;

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "openbao-operator";
pub const CLUSTER_LABEL: &str = "openbao.org/cluster";
pub const OPERATION_LABEL: &str = "openbao.org/operation";
pub use openbao_crds::BACKUP_KIND_LABEL;
/// The lock epoch the Job was created under: lets a human (and a deposed leader's successor) see which grant
/// a Job belongs to.
pub const EPOCH_ANNOTATION: &str = "openbao.org/lock-epoch";
pub const SCHEDULED_TIME_ANNOTATION: &str = "openbao.org/scheduled-time";
pub const TRIGGER_ANNOTATION: &str = "openbao.org/trigger";
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
const NAME_LABEL: &str = "app.kubernetes.io/name";

/// The `openbao.org/operation` value of a Job made for `operation`.
pub fn operation_label(operation: Operation) -> &'static str {
    match operation {
        Operation::Backup => "backup",
        Operation::Restore => "restore",
        Operation::Upgrade => "upgrade",
    }
}

/// The operation an `openbao.org/operation` value names.
pub fn operation_of_label(value: &str) -> Option<Operation> {
    [Operation::Backup, Operation::Restore, Operation::Upgrade]
        .into_iter()
        .find(|operation| operation_label(*operation) == value)
}

/// Label selector of everything this operator creates; the Job watcher uses it.
pub fn managed_by_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY}")
}

/// `<cluster>-backup`: the ServiceAccount backup Jobs run as (its projected token is the JWT identity).
pub fn backup_service_account_name(cluster: &str) -> String {
    format!("{cluster}-backup")
}

/// The cluster's name and namespace, which every built object needs.
pub struct ClusterIdentity<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub uid: &'a str,
}

impl<'a> ClusterIdentity<'a> {
    pub fn of(cluster: &'a OpenBaoCluster) -> Result<Self, JobBuildError> {
        let meta = &cluster.metadata;
        Ok(Self {
            name: meta
                .name
                .as_deref()
                .ok_or(JobBuildError::MissingMetadata("name"))?,
            namespace: meta
                .namespace
                .as_deref()
                .ok_or(JobBuildError::MissingMetadata("namespace"))?,
            uid: meta
                .uid
                .as_deref()
                .ok_or(JobBuildError::MissingMetadata("uid"))?,
        })
    }

    /// Controller owner reference: deleting the cluster garbage-collects its Jobs and ServiceAccount.
    pub fn owner_reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: OpenBaoCluster::api_version(&()).into_owned(),
            kind: OpenBaoCluster::kind(&()).into_owned(),
            name: self.name.to_string(),
            uid: self.uid.to_string(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    /// Labels of every object made for this cluster.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
            (NAME_LABEL.to_string(), "openbao-executor".to_string()),
            (CLUSTER_LABEL.to_string(), self.name.to_string()),
        ])
    }

    /// Labels of a backup Job and its Pod.
    pub fn backup_labels(&self, kind: BackupKind) -> BTreeMap<String, String> {
        let mut labels = self.labels();
        labels.insert(COMPONENT_LABEL.to_string(), "backup".to_string());
        labels.insert(
            OPERATION_LABEL.to_string(),
            operation_label(Operation::Backup).to_string(),
        );
        labels.insert(BACKUP_KIND_LABEL.to_string(), kind.as_str().to_string());
        labels
    }
}

//! The per-cluster ServiceAccount backup Jobs run as. Its projected token is the Job's JWT identity; with
//! workload identity its annotations bind it to a cloud identity instead of static store keys.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use openbao_crds::{BackupTarget, OpenBaoCluster};

use super::JobBuildError;
use super::metadata::{ClusterIdentity, backup_service_account_name};

/// The annotation EKS's pod identity webhook reads to give Pods of this ServiceAccount the role.
const EKS_ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

pub fn backup_service_account(cluster: &OpenBaoCluster) -> Result<ServiceAccount, JobBuildError> {
    let identity = ClusterIdentity::of(cluster)?;
    let target = cluster.spec.backup.as_ref().map(|backup| &backup.target);
    executor_service_account(cluster, backup_service_account_name(identity.name), target)
}

/// `<cluster>-restore`, with the workload-identity annotations of the store the restore reads from.
pub fn restore_service_account(
    cluster: &OpenBaoCluster,
    target: Option<&BackupTarget>,
) -> Result<ServiceAccount, JobBuildError> {
    let identity = ClusterIdentity::of(cluster)?;
    executor_service_account(
        cluster,
        super::restore_job::restore_service_account_name(identity.name),
        target,
    )
}

fn executor_service_account(
    cluster: &OpenBaoCluster,
    name: String,
    target: Option<&BackupTarget>,
) -> Result<ServiceAccount, JobBuildError> {
    let identity = ClusterIdentity::of(cluster)?;
    let mut annotations: BTreeMap<String, String> = target
        .and_then(|target| target.workload_identity.as_ref())
        .map(|identity| identity.service_account_annotations.clone())
        .unwrap_or_default();
    if let Some(role_arn) = target
        .and_then(|target| target.s3.as_ref())
        .and_then(|s3| s3.role_arn.as_ref())
    {
        annotations.insert(EKS_ROLE_ARN_ANNOTATION.to_string(), role_arn.clone());
    }
    Ok(ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(identity.namespace.to_string()),
            labels: Some(identity.labels()),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![identity.owner_reference()]),
            ..ObjectMeta::default()
        },
        // Backup Pods mount their own audience-bound token; the API token is never needed.
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    })
}

//! The non-secret `EXECUTOR_*` variables of a backup Job, from `spec` and the actor's request. Names and meanings
//! follow the executor's documented contract (`docs/executor.md`).

use crate::executor_vars as vars;
use k8s_openapi::api::core::v1::EnvVar;
use openbao_actors::backup::effects::BackupJobRequest;
use openbao_crds::{BackupSpec, BackupTarget, OpenBaoCluster, StorageProvider};

use super::file_inputs::env;
use super::metadata::ClusterIdentity;
use super::{JobBuildError, REPORT_PATH};

/// Which cluster, where its OpenBao answers and where the report goes: the same for every executor Job.
pub fn cluster_env(
    cluster: &OpenBaoCluster,
    identity: &ClusterIdentity<'_>,
) -> Result<Vec<EnvVar>, JobBuildError> {
    let endpoint = cluster
        .endpoint()
        .ok_or(JobBuildError::MissingMetadata("name"))?;
    let mut vars = vec![
        env(vars::EXECUTOR_NAMESPACE, identity.namespace),
        env(vars::EXECUTOR_CLUSTER, identity.name),
        env(vars::EXECUTOR_OPENBAO_ADDR, endpoint),
        env(vars::EXECUTOR_REPORT_PATH, REPORT_PATH),
    ];
    if let Some(server_name) = cluster
        .spec
        .tls
        .as_ref()
        .and_then(|tls| tls.server_name.as_deref())
    {
        vars.push(env(vars::EXECUTOR_OPENBAO_TLS_SERVER_NAME, server_name));
    }
    if !cluster.spec.leader_hosts.is_empty() {
        vars.push(env(
            vars::EXECUTOR_OPENBAO_LEADER_HOSTS,
            cluster.spec.leader_hosts.join(","),
        ));
    }
    Ok(vars)
}

pub fn backup_env(
    cluster: &OpenBaoCluster,
    identity: &ClusterIdentity<'_>,
    backup: &BackupSpec,
    request: &BackupJobRequest,
) -> Result<Vec<EnvVar>, JobBuildError> {
    let mut vars = cluster_env(cluster, identity)?;
    vars.push(env(vars::EXECUTOR_KIND, request.kind.as_str()));
    if let Some(jwt) = &backup.auth.jwt {
        vars.push(env(vars::EXECUTOR_AUTH_JWT_MOUNT, &jwt.mount_path));
        vars.push(env(vars::EXECUTOR_AUTH_JWT_ROLE, &jwt.role));
    }
    vars.extend(store_env(&backup.target)?);
    if let Some(retention) = &backup.retention {
        let json = serde_json::to_string(retention)
            .map_err(|error| JobBuildError::Retention(error.to_string()))?;
        vars.push(env(vars::EXECUTOR_RETENTION, json));
        // Daily/weekly/monthly buckets are days of the schedule's zone, not of UTC.
        vars.push(env(vars::EXECUTOR_RETENTION_TIME_ZONE, &backup.time_zone));
    }
    Ok(vars)
}

pub fn store_env(target: &BackupTarget) -> Result<Vec<EnvVar>, JobBuildError> {
    let mut vars = vec![
        env(vars::EXECUTOR_STORE_PROVIDER, target.provider.as_str()),
        env(vars::EXECUTOR_STORE_BUCKET, &target.bucket),
    ];
    if let Some(prefix) = &target.path_prefix {
        vars.push(env(vars::EXECUTOR_STORE_PATH_PREFIX, prefix));
    }
    match target.provider {
        StorageProvider::S3 => {
            if let Some(s3) = &target.s3 {
                if let Some(endpoint) = &s3.endpoint {
                    vars.push(env(vars::EXECUTOR_STORE_ENDPOINT, endpoint));
                }
                if let Some(region) = &s3.region {
                    vars.push(env(vars::EXECUTOR_STORE_REGION, region));
                }
                if s3.force_path_style {
                    vars.push(env(vars::EXECUTOR_STORE_FORCE_PATH_STYLE, "true"));
                }
            }
        }
        StorageProvider::Gcs => {
            if let Some(endpoint) = target.gcs.as_ref().and_then(|gcs| gcs.endpoint.as_ref()) {
                vars.push(env(vars::EXECUTOR_STORE_ENDPOINT, endpoint));
            }
        }
        StorageProvider::Azure => {
            let azure = target
                .azure
                .as_ref()
                .ok_or(JobBuildError::AzureAccountMissing)?;
            vars.push(env(
                vars::EXECUTOR_STORE_AZURE_ACCOUNT,
                &azure.storage_account,
            ));
            if let Some(endpoint) = &azure.endpoint {
                vars.push(env(vars::EXECUTOR_STORE_ENDPOINT, endpoint));
            }
        }
    }
    Ok(vars)
}

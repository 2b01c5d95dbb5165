//! The Jobs of a restore request: an [`executor_job`] running `executor restore` as the cluster's restore
//! ServiceAccount, either as the dry-run preflight that pins the snapshot or as the destructive restore of exactly
//! the pinned key and digest. Both are owned by the `OpenBaoRestore`: deleting the request removes them.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use openbao_actors::restore::effects::{RestoreJobKind, RestoreJobRequest};
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, Operation};

use super::executor_env::{cluster_env, store_env};
use super::executor_job::{ExecutorAction, ExecutorJobSpec, executor_job};
use super::file_inputs::{FileInputs, env};
use super::metadata::{ClusterIdentity, EPOCH_ANNOTATION, OPERATION_LABEL, operation_label};
use super::{JobBuildError, JobSettings};
use crate::executor_vars as vars;

/// The label naming the request a restore Job belongs to.
pub const RESTORE_LABEL: &str = "openbao.org/restore";
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// A restore Job without `spec.backup` on its cluster gets this deadline.
const DEFAULT_DEADLINE_SECONDS: i64 = 3600;
/// Room in `/tmp` beyond the snapshot itself.
const SCRATCH_HEADROOM_BYTES: i64 = 64 * 1024 * 1024;

/// `<cluster>-restore`: the ServiceAccount restore Jobs run as; never the backup one, so OpenBao can give
/// restoring and backing up different roles.
pub fn restore_service_account_name(cluster: &str) -> String {
    format!("{cluster}-restore")
}

fn owner_of(request: &OpenBaoRestore) -> Result<OwnerReference, JobBuildError> {
    let name = request
        .metadata
        .name
        .clone()
        .ok_or(JobBuildError::MissingMetadata("name"))?;
    let uid = request
        .metadata
        .uid
        .clone()
        .ok_or(JobBuildError::MissingMetadata("uid"))?;
    Ok(OwnerReference {
        api_version: OpenBaoRestore::api_version(&()).into_owned(),
        kind: OpenBaoRestore::kind(&()).into_owned(),
        name,
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

pub fn restore_job(
    cluster: &OpenBaoCluster,
    request: &OpenBaoRestore,
    job: &RestoreJobRequest,
    settings: &JobSettings,
) -> Result<Job, JobBuildError> {
    let identity = ClusterIdentity::of(cluster)?;
    let spec = &request.spec;
    let target = spec
        .source
        .target
        .as_ref()
        .or_else(|| cluster.spec.backup.as_ref().map(|backup| &backup.target))
        .ok_or(JobBuildError::BackupNotConfigured)?;
    let backup = cluster.spec.backup.as_ref();
    let executor = backup.and_then(|backup| backup.executor.as_ref());
    let image = executor
        .and_then(|executor| executor.image.clone())
        .unwrap_or_else(|| settings.executor_image.clone());

    let mut environment = cluster_env(cluster, &identity)?;
    if let Some(jwt) = &spec.auth.jwt {
        environment.push(env(vars::EXECUTOR_AUTH_JWT_MOUNT, &jwt.mount_path));
        environment.push(env(vars::EXECUTOR_AUTH_JWT_ROLE, &jwt.role));
    }
    environment.extend(store_env(target)?);
    if spec.force {
        environment.push(env(vars::EXECUTOR_FORCE, "true"));
    }
    let mut annotations = BTreeMap::new();
    let scratch_limit = match &job.kind {
        RestoreJobKind::Preflight => {
            let key = spec.source.key.as_deref().unwrap_or("latest");
            environment.push(env(vars::EXECUTOR_KEY, key));
            environment.push(env(vars::EXECUTOR_DRY_RUN, "true"));
            None
        }
        RestoreJobKind::Restore { epoch, snapshot } => {
            environment.push(env(vars::EXECUTOR_KEY, &snapshot.key));
            if let Some(digest) = &snapshot.digest {
                environment.push(env(vars::EXECUTOR_EXPECTED_DIGEST, digest));
            }
            annotations.insert(EPOCH_ANNOTATION.to_string(), epoch.to_string());
            snapshot
                .size
                .map(|size| format!("{}", size.saturating_add(SCRATCH_HEADROOM_BYTES)))
        }
    };
    let files = FileInputs::for_executor(
        cluster,
        &spec.auth,
        target,
        settings.jwt_expiration_seconds,
        scratch_limit,
    )?;

    let mut labels = identity.labels();
    labels.insert(COMPONENT_LABEL.to_string(), "restore".to_string());
    labels.insert(
        OPERATION_LABEL.to_string(),
        operation_label(Operation::Restore).to_string(),
    );
    // A label value holds 63 characters; a longer request name is found through the owner reference instead.
    if let Some(name) = request
        .metadata
        .name
        .as_ref()
        .filter(|name| name.len() <= 63)
    {
        labels.insert(RESTORE_LABEL.to_string(), name.clone());
    }

    Ok(executor_job(ExecutorJobSpec {
        name: job.job_name.clone(),
        namespace: identity.namespace.to_string(),
        action: ExecutorAction::Restore,
        image,
        resources: executor.and_then(|executor| executor.resources.clone()),
        service_account: restore_service_account_name(identity.name),
        env: environment,
        files,
        labels,
        annotations,
        owner: owner_of(request)?,
        deadline_seconds: backup
            .map(|backup| backup.timeout_seconds)
            .unwrap_or(DEFAULT_DEADLINE_SECONDS),
        ttl_seconds_after_finished: settings.ttl_seconds_after_finished,
    }))
}

//! `status.operationLock` persisted with a merge patch that carries `metadata.resourceVersion`: the API server
//! applies it only to the version the supervisor decided on, and answers 409 otherwise.

use std::sync::Arc;

use futures::future::BoxFuture;
use kube::Api;
use kube::api::Patch;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::{LockStore, PersistError, PersistedLock};
use openbao_crds::{OpenBaoCluster, OperationLock};

use super::api_error::ApiFailure;
use super::patch_params;
use crate::metrics::OperatorMetrics;
use crate::operator::status_patch::lock_patch;

pub struct KubeLockStore {
    client: kube::Client,
    metrics: Arc<OperatorMetrics>,
}

impl KubeLockStore {
    pub fn new(client: kube::Client, metrics: Arc<OperatorMetrics>) -> Self {
        Self { client, metrics }
    }

    fn api(&self, cluster: &ClusterKey) -> Api<OpenBaoCluster> {
        Api::namespaced(self.client.clone(), &cluster.namespace)
    }
}

fn persist_error(failure: ApiFailure, expected: &str) -> PersistError {
    failure.into_persist_error(expected)
}

impl LockStore for KubeLockStore {
    fn read_lock<'a>(
        &'a self,
        cluster: &'a ClusterKey,
    ) -> BoxFuture<'a, Result<PersistedLock, PersistError>> {
        Box::pin(async move {
            let object = self
                .api(cluster)
                .get(&cluster.name)
                .await
                .map_err(|error| persist_error(error.into(), ""))?;
            let status = object.status.as_ref();
            let lock = status.and_then(|status| status.operation_lock.clone());
            let last_epoch = status
                .and_then(|status| status.last_lock_epoch)
                .and_then(|epoch| u64::try_from(epoch).ok())
                .unwrap_or(0);
            self.metrics
                .lock
                .read_by_store(cluster, lock.as_ref(), last_epoch);
            Ok(PersistedLock {
                resource_version: object.metadata.resource_version.unwrap_or_default(),
                lock,
                last_epoch,
            })
        })
    }

    fn persist_lock<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        expected_resource_version: &'a str,
        lock: Option<OperationLock>,
        last_epoch: u64,
    ) -> BoxFuture<'a, Result<String, PersistError>> {
        Box::pin(async move {
            let patch = lock_patch(expected_resource_version, lock.as_ref(), last_epoch);
            let written = self
                .api(cluster)
                .patch_status(&cluster.name, &patch_params(), &Patch::Merge(&patch))
                .await
                .map_err(|error| persist_error(error.into(), expected_resource_version))?;
            self.metrics.lock.persisted(cluster, lock.as_ref());
            Ok(written.metadata.resource_version.unwrap_or_default())
        })
    }
}

//! Reads an `OpenBaoRestore` for the restore lock's probe.

use futures::future::BoxFuture;
use kube::Api;
use openbao_actors::effects::EffectError;
use openbao_actors::restore::{RestoreReader, RestoreRecord};
use openbao_crds::OpenBaoRestore;

use super::api_error::ApiFailure;

pub struct KubeRestoreReader {
    client: kube::Client,
}

impl KubeRestoreReader {
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

impl RestoreReader for KubeRestoreReader {
    fn read_restore<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RestoreRecord, EffectError>> {
        Box::pin(async move {
            let api: Api<OpenBaoRestore> = Api::namespaced(self.client.clone(), namespace);
            match api.get(name).await {
                Ok(restore) => Ok(RestoreRecord::Present(
                    restore.status.as_ref().and_then(|status| status.phase),
                )),
                Err(error) => match ApiFailure::from(error) {
                    ApiFailure::NotFound => Ok(RestoreRecord::Missing),
                    other => {
                        Err(other.into_effect_error(format!("OpenBaoRestore {namespace}/{name}")))
                    }
                },
            }
        })
    }
}

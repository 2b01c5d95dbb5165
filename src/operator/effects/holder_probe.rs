//! Whether the holder named in a persisted lock still exists, for a (re)starting supervisor.

use futures::future::BoxFuture;
use kube::Api;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::{EffectError, HolderLiveness, HolderProbe, JobObservation, JobState};
use openbao_actors::holder::HolderRef;
use openbao_crds::{OpenBaoRestore, RestorePhase};

use super::api_error::ApiFailure;
use super::job_reader::JobReader;

pub struct KubeHolderProbe {
    client: kube::Client,
    jobs: JobReader,
}

impl KubeHolderProbe {
    pub fn new(client: kube::Client) -> Self {
        Self {
            jobs: JobReader::new(client.clone()),
            client,
        }
    }
}

impl HolderProbe for KubeHolderProbe {
    fn probe_holder<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        holder: &'a HolderRef,
    ) -> BoxFuture<'a, Result<HolderLiveness, EffectError>> {
        Box::pin(async move {
            match holder {
                HolderRef::BackupJob(job_name) => {
                    let state = self
                        .jobs
                        .read(&cluster.namespace, job_name)
                        .await
                        .map_err(|failure| EffectError::Api(failure.message()))?;
                    Ok(match state {
                        JobState::Active => HolderLiveness::Active,
                        JobState::Missing => HolderLiveness::Missing,
                        finished => HolderLiveness::Finished(Some(JobObservation {
                            job_name: job_name.clone(),
                            state: finished,
                        })),
                    })
                }
                HolderRef::Restore(name) => {
                    let api: Api<OpenBaoRestore> =
                        Api::namespaced(self.client.clone(), &cluster.namespace);
                    match api.get(name).await {
                        Ok(restore) => {
                            let phase = restore.status.as_ref().and_then(|status| status.phase);
                            Ok(match phase {
                                Some(RestorePhase::Completed | RestorePhase::Failed) => {
                                    HolderLiveness::Finished(None)
                                }
                                _ => HolderLiveness::Active,
                            })
                        }
                        Err(error) => match ApiFailure::from(error) {
                            ApiFailure::NotFound => Ok(HolderLiveness::Missing),
                            other => Err(EffectError::Api(other.message())),
                        },
                    }
                }
                // The upgrade side reconciles its own lock; an unknown holder (a newer operator's) is never freed
                // by guessing: keeping the lock is the safe side.
                HolderRef::Upgrade(_) | HolderRef::Unrecognized(_) => Ok(HolderLiveness::Active),
            }
        })
    }
}

//! The backup actor as a child of the cluster supervisor: how it starts and how it judges a backup Job that holds
//! the lock.

use futures::future::BoxFuture;
use openbao_crds::Operation;
use ractor::{Actor, ActorCell, SpawnErr};

use super::{BackupActor, BackupArgs, BackupEffects};
use crate::child::{ChildContext, ChildHandle, ChildSpec};
use crate::cluster_key::ClusterKey;
use crate::effects::{EffectError, HolderLiveness, JobObservation, JobState};
use crate::holder::HolderId;

pub struct BackupChild {
    effects: BackupEffects,
}

impl BackupChild {
    pub fn new(effects: BackupEffects) -> Self {
        Self { effects }
    }
}

impl ChildSpec for BackupChild {
    fn operation(&self) -> Operation {
        Operation::Backup
    }

    fn probe<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        holder: &'a HolderId,
    ) -> BoxFuture<'a, Result<HolderLiveness, EffectError>> {
        Box::pin(async move {
            let state = self
                .effects
                .job_reader
                .job_state(&cluster.namespace, &holder.name)
                .await?;
            Ok(match state {
                JobState::Active => HolderLiveness::Active,
                JobState::Missing => HolderLiveness::Missing,
                finished => HolderLiveness::Finished(Some(JobObservation {
                    job_name: holder.name.clone(),
                    state: finished,
                })),
            })
        })
    }

    fn spawn<'a>(
        &'a self,
        context: ChildContext,
        supervisor: ActorCell,
    ) -> BoxFuture<'a, Result<Option<ChildHandle>, SpawnErr>> {
        Box::pin(async move {
            let mailbox = context.mailbox.clone();
            let args = BackupArgs {
                key: context.key,
                cluster: context.cluster,
                effects: context.effects,
                backup_effects: self.effects.clone(),
                lock: context.lock,
                resume: context.resumed,
                mailbox: context.mailbox,
            };
            let (actor, _) = Actor::spawn_linked(None, BackupActor, args, supervisor).await?;
            Ok(Some(ChildHandle::new(actor, mailbox)))
        })
    }
}

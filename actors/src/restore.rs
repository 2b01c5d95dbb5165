//! Restore as a child of the cluster supervisor: the [`RestoreActor`] that consumes the cluster's `OpenBaoRestore`
//! requests, and the probe that judges a `Restore` lock's holder (a request that finished or vanished while the
//! operator was away holds nothing).

mod actor;
pub mod effects;
mod messages;
pub mod plan;
pub mod status;

use futures::future::BoxFuture;
use openbao_crds::{Operation, RestorePhase};
use ractor::{Actor, ActorCell, SpawnErr};
use std::sync::Arc;

use crate::child::{ChildContext, ChildHandle, ChildSpec};
use crate::cluster_key::ClusterKey;
use crate::effects::{EffectError, HolderLiveness};
use crate::holder::HolderId;

pub use actor::{RestoreActor, RestoreState};
pub use effects::RestoreEffects;
pub use messages::{RestoreArgs, RestoreMsg};

/// Keeps a running request, and so its lock, until its Job is terminal.
pub const FINALIZER: &str = "openbao.org/restore";

/// An `OpenBaoRestore` as a lock probe sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreRecord {
    Missing,
    Present(Option<RestorePhase>),
}

/// Reads one `OpenBaoRestore` of a cluster's namespace.
pub trait RestoreReader: Send + Sync {
    fn read_restore<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RestoreRecord, EffectError>>;
}

/// A request in a terminal phase holds nothing any more.
pub fn restore_liveness(record: RestoreRecord) -> HolderLiveness {
    match record {
        RestoreRecord::Missing => HolderLiveness::Missing,
        RestoreRecord::Present(Some(RestorePhase::Completed | RestorePhase::Failed)) => {
            HolderLiveness::Finished(None)
        }
        RestoreRecord::Present(_) => HolderLiveness::Active,
    }
}

pub struct RestoreChild {
    restores: Arc<dyn RestoreReader>,
    effects: RestoreEffects,
}

impl RestoreChild {
    pub fn new(restores: Arc<dyn RestoreReader>, effects: RestoreEffects) -> Self {
        Self { restores, effects }
    }
}

impl ChildSpec for RestoreChild {
    fn operation(&self) -> Operation {
        Operation::Restore
    }

    fn probe<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        holder: &'a HolderId,
    ) -> BoxFuture<'a, Result<HolderLiveness, EffectError>> {
        Box::pin(async move {
            let record = self
                .restores
                .read_restore(&cluster.namespace, &holder.name)
                .await?;
            Ok(restore_liveness(record))
        })
    }

    fn spawn<'a>(
        &'a self,
        context: ChildContext,
        supervisor: ActorCell,
    ) -> BoxFuture<'a, Result<Option<ChildHandle>, SpawnErr>> {
        Box::pin(async move {
            let mailbox = context.mailbox.clone();
            let args = RestoreArgs {
                key: context.key,
                cluster: context.cluster,
                effects: context.effects,
                restore_effects: self.effects.clone(),
                lock: context.lock,
                resume: context.resumed,
                mailbox: context.mailbox,
            };
            let (actor, _) = Actor::spawn_linked(None, RestoreActor, args, supervisor).await?;
            Ok(Some(ChildHandle::new(actor, mailbox)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_or_missing_requests_hold_nothing() {
        assert_eq!(
            restore_liveness(RestoreRecord::Missing),
            HolderLiveness::Missing
        );
        for phase in [RestorePhase::Completed, RestorePhase::Failed] {
            assert_eq!(
                restore_liveness(RestoreRecord::Present(Some(phase))),
                HolderLiveness::Finished(None)
            );
        }
        for phase in [
            None,
            Some(RestorePhase::Pending),
            Some(RestorePhase::Running),
        ] {
            assert_eq!(
                restore_liveness(RestoreRecord::Present(phase)),
                HolderLiveness::Active
            );
        }
    }
}

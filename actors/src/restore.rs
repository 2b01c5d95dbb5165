//! Restore as a child of the cluster supervisor. The restore actor that consumes `OpenBaoRestore` requests is not
//! built yet; until it is, this spec owns the `Restore` lock's holders, so a lock whose `OpenBaoRestore` finished
//! or vanished while the operator was away is released instead of kept forever.

use futures::future::BoxFuture;
use openbao_crds::{Operation, RestorePhase};
use ractor::{ActorCell, SpawnErr};
use std::sync::Arc;

use crate::child::{ChildContext, ChildHandle, ChildSpec};
use crate::cluster_key::ClusterKey;
use crate::effects::{EffectError, HolderLiveness};
use crate::holder::HolderId;

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
}

impl RestoreChild {
    pub fn new(restores: Arc<dyn RestoreReader>) -> Self {
        Self { restores }
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
        _context: ChildContext,
        _supervisor: ActorCell,
    ) -> BoxFuture<'a, Result<Option<ChildHandle>, SpawnErr>> {
        Box::pin(async { Ok(None) })
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

//! Upgrade as a child of the cluster supervisor: the [`UpgradeActor`] that carries out a change of `spec.version`
//! under the operation lock (pre-upgrade snapshot, then one Pod at a time), its pure decisions ([`plan`]), and the
//! probe that judges an `upgrade/<version>` lock holder from the cluster's `status.upgrade`.

mod actor;
pub mod effects;
mod messages;
pub mod plan;

use std::time::Duration;

use futures::future::BoxFuture;
use openbao_crds::Operation;
use ractor::{Actor, ActorCell, SpawnErr};

use crate::child::{ChildContext, ChildHandle, ChildSpec};
use crate::cluster_key::ClusterKey;
use crate::effects::{EffectError, HolderLiveness};
use crate::holder::HolderId;

pub use actor::{UpgradeActor, UpgradeState};
pub use effects::UpgradeEffects;
pub use messages::{UpgradeArgs, UpgradeMsg};

/// How long a rollout waits for a replaced Pod (or the cluster) to become healthy, by default.
pub const DEFAULT_POD_TIMEOUT: Duration = Duration::from_secs(600);

pub struct UpgradeChild {
    effects: UpgradeEffects,
    pod_timeout: Duration,
}

impl UpgradeChild {
    pub fn new(effects: UpgradeEffects, pod_timeout: Duration) -> Self {
        Self {
            effects,
            pod_timeout,
        }
    }
}

impl ChildSpec for UpgradeChild {
    fn operation(&self) -> Operation {
        Operation::Upgrade
    }

    fn probe<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        holder: &'a HolderId,
    ) -> BoxFuture<'a, Result<HolderLiveness, EffectError>> {
        Box::pin(async move {
            let observed = self.effects.clusters.cluster(cluster);
            Ok(plan::upgrade_liveness(observed.as_deref(), &holder.name))
        })
    }

    fn spawn<'a>(
        &'a self,
        context: ChildContext,
        supervisor: ActorCell,
    ) -> BoxFuture<'a, Result<Option<ChildHandle>, SpawnErr>> {
        Box::pin(async move {
            let mailbox = context.mailbox.clone();
            let args = UpgradeArgs {
                key: context.key,
                cluster: context.cluster,
                effects: context.effects,
                upgrade_effects: self.effects.clone(),
                lock: context.lock,
                resume: context.resumed,
                mailbox: context.mailbox,
                pod_timeout: self.pod_timeout,
            };
            let (actor, _) = Actor::spawn_linked(None, UpgradeActor, args, supervisor).await?;
            Ok(Some(ChildHandle::new(actor, mailbox)))
        })
    }
}

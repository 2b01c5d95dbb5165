//! What a cluster supervisor knows of its children, whatever operation they serve.
//!
//! A child is described by a [`ChildSpec`]: the operation it owns, how to tell whether a holder of that operation's
//! lock still lives, and how to start its actor. The supervisor keeps one slot per spec (restart counter, backoff),
//! routes [`ChildEvent`]s to it and reconciles a persisted lock of its operation through its probe. Adding an operation is a new spec
//! plus one entry in the list the operator wires (`src/operator/effects`), not an edit of the supervisor.

use std::sync::Arc;

use futures::future::BoxFuture;
use openbao_crds::{OpenBaoCluster, Operation};
use ractor::{ActorCell, ActorRef, Message, RpcReplyPort, SpawnErr};

use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, EffectError, HolderLiveness, JobObservation};
use crate::holder::HolderId;
use crate::lock_client::LockClient;
pub use crate::lock_client::PreUpgradeResult;
use crate::metrics::MailboxGauge;

/// What the supervisor forwards to its children.
pub enum ChildEvent {
    /// A new version of the cluster (every child).
    ClusterObserved(Arc<OpenBaoCluster>),
    /// A Job labelled with the child's operation.
    JobObserved(JobObservation),
    /// An `OpenBaoRestore` naming this cluster changed (routed to the `Restore` child).
    RestoresChanged,
    /// The lock became free: work that was denied may retry (every child).
    LockReleased,
    /// An `overrideOperationLock` restore (`by`) took the lock from `holder`, a holder of this child's operation:
    /// stop its work and record it as preempted.
    Preempted { holder: String, by: String },
    /// From the upgrade side, which holds the lock under `epoch`: take a pre-upgrade snapshot and reply when done
    /// (routed to the `Backup` child).
    PreUpgradeSnapshot {
        upgrade_id: String,
        epoch: u64,
        reply: RpcReplyPort<PreUpgradeResult>,
    },
}

/// Work a (re)started child takes over from the persisted lock: the lock is its operation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumedWork {
    pub holder: HolderId,
    pub epoch: u64,
    /// The holder's Job ended while nobody watched: record it and release the lock at once.
    pub finished: Option<JobObservation>,
}

/// Everything a child starts with.
pub struct ChildContext {
    pub key: ClusterKey,
    pub cluster: Arc<OpenBaoCluster>,
    pub effects: ClusterEffects,
    pub lock: LockClient,
    pub resumed: Option<ResumedWork>,
    /// Shared with the supervisor, which counts what it routes to the child.
    pub mailbox: MailboxGauge,
}

/// One kind of child of every cluster supervisor.
pub trait ChildSpec: Send + Sync {
    fn operation(&self) -> Operation;

    /// Whether the object behind `holder` (a holder of this spec's operation) still lives.
    fn probe<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        holder: &'a HolderId,
    ) -> BoxFuture<'a, Result<HolderLiveness, EffectError>>;

    /// Starts the child's actor linked to `supervisor`. `None`: this operation has no actor (yet); the spec only
    /// judges its holders, so a lock it owns is never kept forever.
    fn spawn<'a>(
        &'a self,
        context: ChildContext,
        supervisor: ActorCell,
    ) -> BoxFuture<'a, Result<Option<ChildHandle>, SpawnErr>>;
}

/// The children every supervisor runs, one per operation.
pub type ChildSpecs = Arc<[Arc<dyn ChildSpec>]>;

/// A running child, whatever its message type.
pub struct ChildHandle {
    cell: ActorCell,
    deliver: Box<dyn Fn(ChildEvent) -> bool + Send + Sync>,
    mailbox: MailboxGauge,
}

impl ChildHandle {
    pub fn new<M>(actor: ActorRef<M>, mailbox: MailboxGauge) -> Self
    where
        M: Message + From<ChildEvent>,
    {
        let cell = actor.get_cell();
        Self {
            cell,
            deliver: Box::new(move |event| actor.cast(M::from(event)).is_ok()),
            mailbox,
        }
    }

    /// Sends `event`; whether the child took it (a stopped child does not).
    pub fn deliver(&self, event: ChildEvent) -> bool {
        self.mailbox.sent();
        let delivered = (self.deliver)(event);
        if !delivered {
            self.mailbox.handled();
        }
        delivered
    }

    pub fn is(&self, cell: &ActorCell) -> bool {
        self.cell.get_id() == cell.get_id()
    }

    pub fn stop(&self, reason: &str) {
        self.cell.stop(Some(reason.to_string()));
    }
}

//! `ClusterSupervisor`: one per OpenBaoCluster, the only place the operation lock changes.
//!
//! Lock protocol: children ask through their [`LockClient`](crate::lock_client::LockClient) (a `call` of
//! `AcquireLock`); the supervisor decides with the pure [`OperationLock`], writes `status.operationLock` with a
//! resourceVersion precondition and answers `Granted` only after that write succeeded. On a conflict it re-reads
//! the persisted lock, takes it as current and decides again. Releases are casts; after a release every child hears
//! `LockReleased`, so work that was denied retries without polling.
//!
//! Children: one per [`ChildSpec`] it was given (backup, and each operation added later), kept in
//! [`children::ChildSlots`] by operation. Jobs are routed to the child of their `openbao.org/operation`.
//! Supervision: children are linked; ractor's default handler would stop the supervisor when a child ends, so
//! `handle_supervisor_evt` restarts that child instead (its own backoff, counted in metrics). Before a child starts,
//! a persisted lock of its operation is reconciled against reality through the child's probe (see [`reconcile`]), both
//! on the supervisor's own start and on every restart of that child.

pub mod children;
mod link;
pub mod observed_lock;
pub mod reconcile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openbao_crds::{OpenBaoCluster, Operation};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::backoff::restart_delay;
use crate::child::{ChildContext, ChildEvent, ChildSpecs, PreUpgradeResult};
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, EventReason, JobObservation, PersistError};
use crate::holder::HolderId;
use crate::lock::{AcquireOutcome, AcquireRequest, LockHolding, OperationLock, ReleaseError};
use crate::lock_client::{LockClient, LockReply, OperationReport, Preempted};
use crate::metrics::{ActorKind, MailboxGauge};
use children::{ChildSlots, ChildView};
use link::SupervisorLink;
use reconcile::{ProbeResult, ReconcileDecision, decide_reconciliation};

/// How often one lock change is retried after resourceVersion conflicts before giving up on this request.
const MAX_PERSIST_ATTEMPTS: usize = 5;
const CHILD_RESTART_BASE: Duration = Duration::from_millis(500);
const CHILD_RESTART_MAX: Duration = Duration::from_secs(60);

/// What `Inspect` returns: the supervisor's view, for health reporting and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorView {
    pub holding: Option<LockHolding>,
    pub last_epoch: u64,
    pub children: Vec<ChildView>,
}

impl SupervisorView {
    pub fn child(&self, operation: Operation) -> Option<&ChildView> {
        self.children
            .iter()
            .find(|child| child.operation == operation)
    }
}

pub enum SupervisorMsg {
    AcquireLock {
        request: AcquireRequest,
        reply: RpcReplyPort<LockReply>,
    },
    ReleaseLock {
        holder: String,
        epoch: u64,
    },
    ClusterObserved(Arc<OpenBaoCluster>),
    /// A Job labelled with `operation`: routed to that operation's child.
    JobObserved {
        operation: Operation,
        job: JobObservation,
    },
    /// An `OpenBaoRestore` naming this cluster changed: routed to the `Restore` child.
    RestoresChanged,
    /// From the upgrade side, which holds the lock under `epoch`: take a pre-upgrade snapshot, reply when done.
    PreUpgradeSnapshot {
        upgrade_id: String,
        epoch: u64,
        reply: RpcReplyPort<PreUpgradeResult>,
    },
    /// A child's outcome report.
    OperationFinished(OperationReport),
    RestartChild(Operation),
    Inspect(RpcReplyPort<SupervisorView>),
    /// The cluster was deleted: stop after the messages already queued, then remove the cluster's metric series
    /// (in `post_stop`, so no late handler of this supervisor brings a series back).
    Retire,
}

pub struct SupervisorArgs {
    pub key: ClusterKey,
    pub cluster: Arc<OpenBaoCluster>,
    pub effects: ClusterEffects,
    pub children: ChildSpecs,
    /// Shared with whoever routes messages here.
    pub mailbox: MailboxGauge,
}

pub struct SupervisorState {
    key: ClusterKey,
    cluster: Arc<OpenBaoCluster>,
    effects: ClusterEffects,
    mailbox: MailboxGauge,
    lock: OperationLock,
    resource_version: String,
    children: ChildSlots,
    retiring: bool,
}

pub struct ClusterSupervisor;

/// One step of a lock change: either write `next` and then answer `result`, or answer without writing.
enum Transition<T> {
    Persist { next: OperationLock, result: T },
    Done(T),
}

impl SupervisorState {
    /// Applies `step` to the current lock and persists it, re-reading and re-deciding after each conflict.
    async fn transition<T>(
        &mut self,
        mut step: impl FnMut(&OperationLock, DateTime<Utc>) -> Transition<T>,
    ) -> Result<T, PersistError> {
        let mut last_conflict = None;
        for _ in 0..MAX_PERSIST_ATTEMPTS {
            let (next, result) = match step(&self.lock, self.effects.clock.now()) {
                Transition::Done(result) => return Ok(result),
                Transition::Persist { next, result } => (next, result),
            };
            match self
                .effects
                .locks
                .persist_lock(
                    &self.key,
                    &self.resource_version,
                    next.to_status(),
                    next.last_epoch(),
                )
                .await
            {
                Ok(resource_version) => {
                    self.lock = next;
                    self.resource_version = resource_version;
                    return Ok(result);
                }
                Err(conflict @ PersistError::Conflict { .. }) => {
                    tracing::debug!(cluster = %self.key, "operation lock write conflicted; re-reading");
                    last_conflict = Some(conflict);
                    self.reread().await?;
                }
                Err(other) => return Err(other),
            }
        }
        Err(last_conflict.unwrap_or_else(|| PersistError::Api {
            source: crate::effects::source_from("no attempt made"),
        }))
    }

    async fn reread(&mut self) -> Result<(), PersistError> {
        let persisted = self.effects.locks.read_lock(&self.key).await?;
        self.lock = OperationLock::from_status(
            persisted.lock.as_ref(),
            persisted.last_epoch.max(self.lock.last_epoch()),
        );
        self.resource_version = persisted.resource_version;
        Ok(())
    }

    async fn acquire(&mut self, request: &AcquireRequest) -> LockReply {
        let result = self
            .transition(|lock, now| match lock.acquire(request, now) {
                (AcquireOutcome::Denied { held_by }, _) => Transition::Done(Err(held_by)),
                (AcquireOutcome::Granted { epoch, preempted }, next) => Transition::Persist {
                    next,
                    result: Ok((epoch, preempted)),
                },
            })
            .await;
        match result {
            Ok(Ok((epoch, preempted))) => {
                tracing::info!(cluster = %self.key, holder = %request.holder, epoch, "operation lock granted");
                let preempted = match preempted {
                    Some(previous) if previous.holder != request.holder => {
                        Some(self.preempt(&previous, request).await)
                    }
                    _ => None,
                };
                LockReply::Granted { epoch, preempted }
            }
            Ok(Err(held_by)) => LockReply::Denied {
                operation: held_by.operation,
                held_by: held_by.holder,
                since: held_by.acquired_at,
            },
            Err(error) => {
                tracing::warn!(cluster = %self.key, holder = %request.holder, %error, "operation lock not granted");
                LockReply::Unavailable {
                    reason: error.reason().to_string(),
                }
            }
        }
    }

    /// An override displaced `previous`: its child stops its work, and the cluster's events say who took the lock.
    async fn preempt(&mut self, previous: &LockHolding, request: &AcquireRequest) -> Preempted {
        tracing::warn!(cluster = %self.key, holder = %request.holder, preempted = %previous.holder,
            "operation lock overridden");
        let event = ChildEvent::Preempted {
            holder: previous.holder.clone(),
            by: request.holder.clone(),
        };
        if self.children.deliver(previous.operation, event).is_err() {
            tracing::warn!(cluster = %self.key, preempted = %previous.holder,
                "no running child to stop the preempted operation");
        }
        self.effects
            .emit(
                &self.key,
                EventReason::OperationLockOverridden,
                format!(
                    "{} took the operation lock from {} {} (held since {}) with overrideOperationLock",
                    request.holder,
                    previous.operation,
                    previous.holder,
                    previous.acquired_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )
            .await;
        Preempted {
            operation: previous.operation,
            holder: previous.holder.clone(),
        }
    }

    /// Returns whether the lock is free afterwards because of this release.
    async fn release(&mut self, holder: &str, epoch: u64) -> bool {
        let result = self
            .transition(|lock, _| match lock.release(holder, epoch) {
                Ok(next) => Transition::Persist {
                    next,
                    result: Ok(()),
                },
                Err(refused) => Transition::Done(Err(refused)),
            })
            .await;
        match result {
            Ok(Ok(())) => {
                tracing::info!(cluster = %self.key, holder, epoch, "operation lock released");
                true
            }
            Ok(Err(ReleaseError::NotHeld)) => false,
            Ok(Err(refused)) => {
                tracing::warn!(cluster = %self.key, %refused, "stale lock release ignored");
                false
            }
            Err(error) => {
                // The persisted lock still names the holder; the next supervisor start reconciles it.
                tracing::warn!(cluster = %self.key, holder, %error, "could not persist lock release");
                false
            }
        }
    }

    /// Releases a lock whose holder is gone, unless someone else took the lock meanwhile.
    async fn release_orphan(&mut self, orphan: &LockHolding, reason: &str) -> bool {
        let released = self
            .transition(|lock, _| match lock.holding() {
                Some(current)
                    if current.holder == orphan.holder && current.epoch == orphan.epoch =>
                {
                    Transition::Persist {
                        next: lock.release_orphaned(),
                        result: true,
                    }
                }
                _ => Transition::Done(false),
            })
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(cluster = %self.key, %error, "could not release orphaned lock");
                false
            });
        if released {
            self.effects
                .emit(
                    &self.key,
                    EventReason::OperationLockReleased,
                    format!(
                        "released the {} lock of {}: {reason}",
                        orphan.operation, orphan.holder
                    ),
                )
                .await;
        }
        released
    }

    /// Reconciles a persisted lock of `operation` against reality through its child's probe, and says what the
    /// (re)starting child resumes. A lock of another operation is not this child's to judge.
    async fn reconcile_persisted_lock(
        &mut self,
        operation: Operation,
    ) -> Option<crate::child::ResumedWork> {
        let holding = self.lock.holding().cloned()?;
        if holding.operation != operation {
            return None;
        }
        let holder = HolderId::parse(&holding.holder).filter(|h| h.operation == operation);
        let probe = match (&holder, self.children.get(operation)) {
            (Some(holder), Some(slot)) => match slot.spec.probe(&self.key, holder).await {
                Ok(liveness) => ProbeResult::Answered(liveness),
                Err(error) => {
                    tracing::warn!(cluster = %self.key, %holder, %error, "could not check the lock holder");
                    ProbeResult::Failed
                }
            },
            _ => ProbeResult::NoOwner,
        };
        if probe == ProbeResult::NoOwner {
            tracing::info!(cluster = %self.key, holder = %holding.holder, %operation,
                "keeping a lock this operator cannot judge");
        }
        match decide_reconciliation(holder.map(|h| (h, holding.epoch)), probe) {
            ReconcileDecision::Free | ReconcileDecision::Keep => None,
            ReconcileDecision::Resume(work) => Some(work),
            ReconcileDecision::Release { reason } => {
                self.release_orphan(&holding, &reason).await;
                None
            }
        }
    }

    /// A lock whose operation no child owns is kept, but said once at start, so an administrator's lock left
    /// behind is visible in the log.
    async fn note_unowned_lock(&mut self) {
        if let Some(holding) = self.lock.holding()
            && self.children.get(holding.operation).is_none()
        {
            tracing::info!(cluster = %self.key, holder = %holding.holder, operation = %holding.operation,
                "keeping a lock of an operation no child owns");
        }
    }

    /// Someone else (an administrator, another release) changed `status.operationLock`: take what is persisted,
    /// and when that freed the lock tell the children, so queued work does not wait for an operator restart.
    async fn follow_persisted_lock(&mut self, cluster: &OpenBaoCluster) {
        let observed = cluster
            .status
            .as_ref()
            .and_then(|status| status.operation_lock.as_ref());
        if !observed_lock::names_another_holding(observed, self.lock.holding()) {
            // Same lock: take the event's resourceVersion, so the next lock write is not refused merely because
            // a child wrote its status since (a stale event only costs one 409 and a re-read).
            if let Some(version) = &cluster.metadata.resource_version {
                self.resource_version.clone_from(version);
            }
            return;
        }
        let was_held = self.lock.holding().is_some();
        if let Err(error) = self.reread().await {
            tracing::warn!(cluster = %self.key, %error, "could not re-read the operation lock");
            return;
        }
        if was_held && self.lock.holding().is_none() {
            tracing::info!(cluster = %self.key, "operation lock released outside the operator");
            self.children.broadcast(|| ChildEvent::LockReleased);
        }
    }

    fn pre_upgrade_snapshot(
        &self,
        upgrade_id: String,
        epoch: u64,
        reply: RpcReplyPort<PreUpgradeResult>,
    ) {
        if !self.lock.is_current(epoch) {
            let _ = reply.send(PreUpgradeResult::Refused {
                reason: format!("epoch {epoch} does not hold the operation lock"),
            });
            return;
        }
        let event = ChildEvent::PreUpgradeSnapshot {
            upgrade_id,
            epoch,
            reply,
        };
        if let Err(ChildEvent::PreUpgradeSnapshot { reply, .. }) =
            self.children.deliver(Operation::Backup, event)
        {
            let _ = reply.send(PreUpgradeResult::Unavailable {
                reason: "the backup actor is not running (restarting); ask again".into(),
            });
        }
    }
}

impl ClusterSupervisor {
    async fn start_child(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        state: &mut SupervisorState,
        operation: Operation,
    ) -> Result<(), ActorProcessingErr> {
        let resumed = state.reconcile_persisted_lock(operation).await;
        let Some(spec) = state.children.get(operation).map(|slot| slot.spec.clone()) else {
            return Ok(());
        };
        let mailbox = MailboxGauge::default();
        let context = ChildContext {
            key: state.key.clone(),
            cluster: state.cluster.clone(),
            effects: state.effects.clone(),
            lock: LockClient::new(Arc::new(SupervisorLink(
                myself.clone(),
                state.mailbox.clone(),
            ))),
            resumed,
            mailbox: mailbox.clone(),
        };
        let running = spec.spawn(context, myself.get_cell()).await?;
        if running.is_some() {
            state
                .effects
                .metrics
                .actor_started(&state.key, ActorKind::Child(operation), mailbox);
        }
        if let Some(slot) = state.children.get_mut(operation) {
            slot.running = running;
        }
        Ok(())
    }

    async fn restart_child(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        state: &mut SupervisorState,
        operation: Operation,
    ) {
        let already_running = state
            .children
            .get(operation)
            .is_none_or(|slot| slot.running.is_some());
        if already_running {
            return;
        }
        if let Err(error) = self.start_child(myself, state, operation).await {
            tracing::error!(cluster = %state.key, %operation, %error, "child actor failed to start; retrying");
            schedule_restart(myself, state, operation);
        }
    }
}

impl Actor for ClusterSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let persisted = args.effects.locks.read_lock(&args.key).await?;
        let mut state = SupervisorState {
            lock: OperationLock::from_status(persisted.lock.as_ref(), persisted.last_epoch),
            resource_version: persisted.resource_version,
            key: args.key,
            cluster: args.cluster,
            effects: args.effects,
            mailbox: args.mailbox,
            children: ChildSlots::new(&args.children),
            retiring: false,
        };
        state.note_unowned_lock().await;
        for operation in state.children.operations() {
            self.start_child(&myself, &mut state, operation).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let started = Instant::now();
        match message {
            SupervisorMsg::AcquireLock { request, reply } => {
                let answer = state.acquire(&request).await;
                // The caller may have timed out; the grant stands and is released by its holder or reconciled.
                let _ = reply.send(answer);
            }
            SupervisorMsg::ReleaseLock { holder, epoch } => {
                if state.release(&holder, epoch).await {
                    state.children.broadcast(|| ChildEvent::LockReleased);
                }
            }
            SupervisorMsg::ClusterObserved(cluster) => {
                state.cluster = cluster.clone();
                state.follow_persisted_lock(&cluster).await;
                state
                    .children
                    .broadcast(|| ChildEvent::ClusterObserved(cluster.clone()));
            }
            SupervisorMsg::JobObserved { operation, job } => {
                // Without a running child nobody needs the event: a restarting child reconciles its lock's Job from
                // the API.
                if let Err(ChildEvent::JobObserved(job)) = state
                    .children
                    .deliver(operation, ChildEvent::JobObserved(job))
                {
                    tracing::debug!(cluster = %state.key, %operation, job = %job.job_name,
                        "no running child for this Job");
                }
            }
            SupervisorMsg::RestoresChanged => {
                // A restarting restore child reads every request from the cache when it starts.
                let _ = state
                    .children
                    .deliver(Operation::Restore, ChildEvent::RestoresChanged);
            }
            SupervisorMsg::PreUpgradeSnapshot {
                upgrade_id,
                epoch,
                reply,
            } => state.pre_upgrade_snapshot(upgrade_id, epoch, reply),
            SupervisorMsg::OperationFinished(report) => {
                if let Some(slot) = state.children.get_mut(report.holder.operation) {
                    slot.failures_in_a_row = 0;
                }
                tracing::info!(cluster = %state.key, holder = %report.holder, detail = %report.detail,
                    succeeded = report.succeeded, "operation finished");
            }
            SupervisorMsg::RestartChild(operation) => {
                self.restart_child(&myself, state, operation).await;
            }
            SupervisorMsg::Retire => {
                state.retiring = true;
                myself.stop(Some("OpenBaoCluster deleted".into()));
                return Ok(());
            }
            SupervisorMsg::Inspect(reply) => {
                let _ = reply.send(SupervisorView {
                    holding: state.lock.holding().cloned(),
                    last_epoch: state.lock.last_epoch(),
                    children: state.children.views(),
                });
            }
        }
        let metrics = &state.effects.metrics;
        metrics.message_handled(&state.key, ActorKind::Supervisor, started.elapsed());
        metrics.mailbox_depth(&state.key, ActorKind::Supervisor, state.mailbox.handled());
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        if state.retiring {
            state.effects.metrics.remove_cluster(&state.key);
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match &event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, Some(error.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, reason) => (cell, reason.clone()),
            _ => return Ok(()),
        };
        let Some(operation) = state.children.operation_of(cell) else {
            return Ok(());
        };
        tracing::warn!(cluster = %state.key, %operation, reason = failure.as_deref().unwrap_or("stopped"),
            "child actor ended; restarting it");
        if let Some(slot) = state.children.get_mut(operation) {
            slot.running = None;
            slot.restarts += 1;
        }
        let metrics = &state.effects.metrics;
        metrics.actor_stopped(&state.key, ActorKind::Child(operation));
        metrics.actor_restarted(&state.key, ActorKind::Child(operation));
        schedule_restart(&myself, state, operation);
        Ok(())
    }
}

fn schedule_restart(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    operation: Operation,
) {
    let Some(slot) = state.children.get_mut(operation) else {
        return;
    };
    slot.failures_in_a_row += 1;
    let delay = restart_delay(
        slot.failures_in_a_row,
        CHILD_RESTART_BASE,
        CHILD_RESTART_MAX,
    );
    let mailbox = state.mailbox.clone();
    if delay.is_zero() {
        mailbox.sent();
        if myself.cast(SupervisorMsg::RestartChild(operation)).is_err() {
            mailbox.handled();
        }
    } else {
        myself.send_after(delay, move || {
            mailbox.sent();
            SupervisorMsg::RestartChild(operation)
        });
    }
}

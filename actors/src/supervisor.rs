//! `ClusterSupervisor`: one per OpenBaoCluster, the only place the operation lock changes.
//!
//! Lock protocol: children ask with `call(AcquireLock)`; the supervisor decides with the pure [`OperationLock`],
//! writes `status.operationLock` with a resourceVersion precondition and answers `Granted` only after that write
//! succeeded. On a conflict it re-reads the persisted lock, adopts it and decides again. Releases are casts; after a
//! release every child hears `LockReleased`, so work that was denied retries without polling.
//!
//! Supervision: children are linked; ractor's default handler would stop the supervisor when a child ends, so
//! `handle_supervisor_evt` is overridden to restart the child (with backoff, counted in metrics) instead. Before
//! a child starts, the persisted lock is reconciled against reality (see [`adopt`]), both on the supervisor's
//! own start and on every child restart.

pub mod adopt;
pub mod observed_lock;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openbao_crds::{OpenBaoCluster, Operation};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::backoff::restart_delay;
use crate::backup::{
    BackupActor, BackupArgs, BackupMsg, BackupSummary, PreUpgradeResult, ResumedBackup,
};
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, EventReason, JobObservation, PersistError};
use crate::holder::HolderRef;
use crate::lock::{AcquireOutcome, AcquireRequest, LockHolding, OperationLock, ReleaseError};
use crate::metrics::{ActorKind, MailboxGauge};
use adopt::{AdoptDecision, decide_adoption};

/// How often one lock change is retried after resourceVersion conflicts before giving up on this request.
const MAX_PERSIST_ATTEMPTS: usize = 5;
const CHILD_RESTART_BASE: Duration = Duration::from_millis(500);
const CHILD_RESTART_MAX: Duration = Duration::from_secs(60);

/// The answer to `AcquireLock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockReply {
    /// The lock is held by the caller under `epoch`, and `status.operationLock` says so.
    Granted { epoch: u64 },
    Denied {
        operation: Operation,
        held_by: String,
        since: DateTime<Utc>,
    },
    /// The lock could not be written (API error, repeated conflicts). Nothing was granted; retry later.
    Unavailable { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    Backup,
}

/// What `Inspect` returns: the supervisor's view, for health reporting and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorSnapshot {
    pub holding: Option<LockHolding>,
    pub last_epoch: u64,
    pub backup_alive: bool,
    pub backup_restarts: u32,
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
    JobObserved(JobObservation),
    /// From the upgrade side, which holds the lock under `epoch`: take a pre-upgrade snapshot, reply when done.
    PreUpgradeSnapshot {
        upgrade_id: String,
        epoch: u64,
        reply: RpcReplyPort<PreUpgradeResult>,
    },
    /// A child's outcome report.
    BackupFinished(BackupSummary),
    RestartChild(ChildKind),
    Inspect(RpcReplyPort<SupervisorSnapshot>),
    /// The cluster was deleted: stop after the messages already queued, then remove the cluster's metric series
    /// (in `post_stop`, so no late handler of this supervisor brings a series back).
    Retire,
}

pub struct SupervisorArgs {
    pub key: ClusterKey,
    pub cluster: Arc<OpenBaoCluster>,
    pub effects: ClusterEffects,
    /// Shared with whoever routes messages here.
    pub mailbox: MailboxGauge,
}

struct Child {
    actor: ActorRef<BackupMsg>,
    mailbox: MailboxGauge,
}

pub struct SupervisorState {
    key: ClusterKey,
    cluster: Arc<OpenBaoCluster>,
    effects: ClusterEffects,
    mailbox: MailboxGauge,
    lock: OperationLock,
    resource_version: String,
    backup: Option<Child>,
    backup_restarts: u32,
    child_failures_in_a_row: u32,
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
        Err(last_conflict.unwrap_or(PersistError::Api("no attempt made".into())))
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
                if let Some(previous) = preempted {
                    tracing::warn!(cluster = %self.key, holder = %request.holder, preempted = %previous.holder,
                        "operation lock overridden");
                }
                tracing::info!(cluster = %self.key, holder = %request.holder, epoch, "operation lock granted");
                LockReply::Granted { epoch }
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

    /// Reconciles the persisted holder against reality and says what a (re)started backup actor resumes.
    async fn adopt_lock(&mut self) -> Option<ResumedBackup> {
        let holding = self.lock.holding().cloned();
        let holder = holding.as_ref().map(|h| HolderRef::parse(&h.holder));
        let liveness = match &holder {
            None => None,
            Some(holder) => match self.effects.holders.probe_holder(&self.key, holder).await {
                Ok(liveness) => Some(liveness),
                Err(error) => {
                    tracing::warn!(cluster = %self.key, %holder, %error, "could not check the lock holder");
                    None
                }
            },
        };
        let epoch = holding.as_ref().map_or(0, |h| h.epoch);
        match decide_adoption(holder.as_ref(), liveness) {
            AdoptDecision::Free
            | AdoptDecision::Keep {
                resume_backup_job: None,
            } => None,
            AdoptDecision::Keep {
                resume_backup_job: Some(job_name),
            } => Some(ResumedBackup {
                job_name,
                epoch,
                finished: None,
            }),
            AdoptDecision::FinishBackup { job } => Some(ResumedBackup {
                job_name: job.job_name.clone(),
                epoch,
                finished: Some(job),
            }),
            AdoptDecision::Release { reason } => {
                if let Some(orphan) = &holding {
                    self.release_orphan(orphan, &reason).await;
                }
                None
            }
        }
    }

    /// Someone else (an upgrade or restore owner, an administrator) changed `status.operationLock`: adopt what is
    /// persisted, and when that freed the lock tell the children, so a queued manual backup does not wait for an
    /// operator restart.
    async fn follow_persisted_lock(&mut self, cluster: &OpenBaoCluster) {
        let observed = cluster
            .status
            .as_ref()
            .and_then(|status| status.operation_lock.as_ref());
        if !observed_lock::differs(observed, self.lock.holding()) {
            // Same lock: take the event's resourceVersion, so the next lock write is not refused merely because
            // the backup actor wrote status.backup since (a stale event only costs one 409 and a re-read).
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
            self.forward_to_backup(BackupMsg::LockReleased);
        }
    }

    fn forward_to_backup(&self, message: BackupMsg) {
        if let Some(child) = &self.backup {
            child.mailbox.sent();
            if child.actor.cast(message).is_err() {
                child.mailbox.handled();
            }
        }
    }

    fn is_backup_child(&self, cell: &ractor::ActorCell) -> bool {
        self.backup
            .as_ref()
            .is_some_and(|child| child.actor.get_id() == cell.get_id())
    }
}

impl ClusterSupervisor {
    async fn start_backup_child(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let resume = state.adopt_lock().await;
        let mailbox = MailboxGauge::default();
        let args = BackupArgs {
            key: state.key.clone(),
            cluster: state.cluster.clone(),
            effects: state.effects.clone(),
            supervisor: myself.clone(),
            resume,
            mailbox: mailbox.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, BackupActor, args, myself.get_cell()).await?;
        state.backup = Some(Child { actor, mailbox });
        Ok(())
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
            backup: None,
            backup_restarts: 0,
            child_failures_in_a_row: 0,
            retiring: false,
        };
        self.start_backup_child(&myself, &mut state).await?;
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
                    state.forward_to_backup(BackupMsg::LockReleased);
                }
            }
            SupervisorMsg::ClusterObserved(cluster) => {
                state.cluster = cluster.clone();
                state.follow_persisted_lock(&cluster).await;
                state.forward_to_backup(BackupMsg::ClusterObserved(cluster));
            }
            SupervisorMsg::JobObserved(job) => state.forward_to_backup(BackupMsg::JobObserved(job)),
            SupervisorMsg::PreUpgradeSnapshot {
                upgrade_id,
                epoch,
                reply,
            } => {
                if !state.lock.is_current(epoch) {
                    let _ = reply.send(PreUpgradeResult::Refused {
                        reason: format!("epoch {epoch} does not hold the operation lock"),
                    });
                } else if state.backup.is_none() {
                    let _ = reply.send(PreUpgradeResult::Refused {
                        reason: "the backup actor is restarting; ask again".into(),
                    });
                } else {
                    state.forward_to_backup(BackupMsg::PreUpgradeSnapshot {
                        upgrade_id,
                        epoch,
                        reply,
                    });
                }
            }
            SupervisorMsg::BackupFinished(summary) => {
                state.child_failures_in_a_row = 0;
                tracing::info!(cluster = %state.key, job = %summary.job_name, kind = %summary.kind,
                    succeeded = summary.succeeded, "backup finished");
            }
            SupervisorMsg::RestartChild(ChildKind::Backup) => {
                if state.backup.is_none()
                    && let Err(error) = self.start_backup_child(&myself, state).await
                {
                    tracing::error!(cluster = %state.key, %error, "backup actor failed to start; retrying");
                    schedule_restart(&myself, state);
                }
            }
            SupervisorMsg::Retire => {
                state.retiring = true;
                myself.stop(Some("OpenBaoCluster deleted".into()));
                return Ok(());
            }
            SupervisorMsg::Inspect(reply) => {
                let _ = reply.send(SupervisorSnapshot {
                    holding: state.lock.holding().cloned(),
                    last_epoch: state.lock.last_epoch(),
                    backup_alive: state.backup.is_some(),
                    backup_restarts: state.backup_restarts,
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
        if !state.is_backup_child(cell) {
            return Ok(());
        }
        tracing::warn!(cluster = %state.key, reason = failure.as_deref().unwrap_or("stopped"),
            "backup actor ended; restarting it");
        state.backup = None;
        state.backup_restarts += 1;
        state
            .effects
            .metrics
            .actor_restarted(&state.key, ActorKind::Backup);
        schedule_restart(&myself, state);
        Ok(())
    }
}

fn schedule_restart(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) {
    state.child_failures_in_a_row += 1;
    let delay = restart_delay(
        state.child_failures_in_a_row,
        CHILD_RESTART_BASE,
        CHILD_RESTART_MAX,
    );
    if delay.is_zero() {
        let _ = myself.cast(SupervisorMsg::RestartChild(ChildKind::Backup));
    } else {
        myself.send_after(delay, || SupervisorMsg::RestartChild(ChildKind::Backup));
    }
}

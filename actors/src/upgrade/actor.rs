//! `UpgradeActor`: carries out a change of `spec.version` under the operation lock.
//!
//! Idle, it observes the Pods' versions (`status.currentVersion`) and refuses what it cannot do safely, touching
//! nothing. When `spec.version` is newer than what the Pods run, it takes the `Upgrade` lock (waiting visibly
//! behind a backup or a restore), asks the backup child for a pre-upgrade snapshot (fail-closed: `Blocked`), then
//! rolls the StatefulSet one Pod at a time ([`rollout`]). Its progress lives in `status.upgrade`, written before
//! each move, so a restarted operator resumes where it was and never replaces a Pod twice.

mod rollout;

use std::sync::Arc;
use std::time::{Duration, Instant};

use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};
use openbao_crds::{
    OpenBaoCluster, Operation, RETRY_UPGRADE_ANNOTATION, UpgradePhase, UpgradeStatus,
};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr};

use super::effects::{Observation, UpgradeEffects, UpgradeOutcome};
use super::messages::{UpgradeArgs, UpgradeMsg};
use super::plan::{
    Refusal, VersionChange, drivable, is_terminal, observed_version, stays_stopped, version_change,
};
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, ConditionUpdate, EventReason};
use crate::holder::HolderId;
use crate::lock_client::{LockClient, LockReply, lock_wait_message};
use crate::metrics::{ActorKind, MailboxGauge};

/// How often a running (or lock-waiting) upgrade looks at the workload.
const ACTIVE_TICK: Duration = Duration::from_secs(2);
/// How often an idle guard refreshes `status.currentVersion`.
const IDLE_TICK: Duration = Duration::from_secs(30);
const UPGRADE_KIND: ActorKind = ActorKind::Child(Operation::Upgrade);

type Timer = JoinHandle<Result<(), MessagingErr<UpgradeMsg>>>;

/// What was last written, so an unchanged status costs no request.
#[derive(Clone, PartialEq)]
struct Written {
    current_version: Option<String>,
    upgrade: Option<UpgradeStatus>,
    condition: Option<ConditionUpdate>,
}

pub struct UpgradeState {
    key: ClusterKey,
    cluster: Arc<OpenBaoCluster>,
    effects: ClusterEffects,
    upgrade: UpgradeEffects,
    lock: LockClient,
    mailbox: MailboxGauge,
    pod_timeout: Duration,
    /// Our copy of `status.upgrade`; the actor is its only writer.
    status: Option<UpgradeStatus>,
    current_version: Option<String>,
    condition: Option<ConditionUpdate>,
    written: Option<Written>,
    /// The epoch of the lock this actor holds for the upgrade in `status`.
    epoch: Option<u64>,
    /// The attempt whose snapshot was asked for and not answered yet.
    snapshot_asked: Option<String>,
    /// Ask again after this instant (the backup child was restarting).
    snapshot_retry_at: Option<Instant>,
    /// Since when the rollout waits for the cluster to become healthy (reset at every Pod replaced).
    waiting_since: Instant,
    /// The refusal last announced by an event, with the `spec.version` it was about.
    refused: Option<(ClusterConditionReason, String)>,
    lock_wait_announced: bool,
    tick: Option<Timer>,
}

pub struct UpgradeActor;

fn condition(
    status: ConditionStatus,
    reason: ClusterConditionReason,
    message: String,
) -> ConditionUpdate {
    ConditionUpdate {
        type_: ClusterConditionType::Upgrading,
        status,
        reason: reason.into(),
        message,
    }
}

impl UpgradeState {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.effects.clock.now()
    }

    fn retry_token(&self) -> Option<String> {
        self.cluster
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(RETRY_UPGRADE_ANNOTATION))
            .cloned()
    }

    fn name(&self) -> &str {
        &self.key.name
    }

    /// Writes what changed since the last write; `false` when the write failed (the next tick tries again).
    async fn flush(&mut self) -> bool {
        let next = Written {
            current_version: self.current_version.clone(),
            upgrade: self.status.clone(),
            condition: self.condition.clone(),
        };
        if self.written.as_ref() == Some(&next) {
            return true;
        }
        let conditions: Vec<ConditionUpdate> = next.condition.iter().cloned().collect();
        match self
            .upgrade
            .status
            .write_upgrade_status(
                &self.key,
                next.current_version.as_deref(),
                next.upgrade.as_ref(),
                &conditions,
            )
            .await
        {
            Ok(()) => {
                self.written = Some(next);
                true
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, %error, "could not write the upgrade status");
                false
            }
        }
    }

    async fn emit(&self, reason: EventReason, message: String) {
        self.effects.emit(&self.key, reason, message).await;
    }

    async fn evaluate(&mut self, myself: &ActorRef<UpgradeMsg>) {
        let observation = match self.upgrade.workload.observe(&self.cluster).await {
            Ok(observation) => observation,
            Err(error) => {
                tracing::warn!(cluster = %self.key, %error, "could not observe the OpenBao workload");
                return;
            }
        };
        if let Some(version) = observed_version(&observation.pod_facts()) {
            self.current_version = Some(version.to_string());
        }
        if self.epoch.is_some() {
            self.drive(myself, &observation).await;
        } else {
            self.consider(myself, &observation).await;
        }
        self.flush().await;
    }

    /// No upgrade holds the lock: is one wanted, and may it start?
    async fn consider(&mut self, myself: &ActorRef<UpgradeMsg>, observation: &Observation) {
        let spec_version = self.cluster.spec.version.clone();
        let retry_token = self.retry_token();
        if stays_stopped(self.status.as_ref(), &spec_version, retry_token.as_deref()) {
            return;
        }
        let change = match version_change(&spec_version, self.current_version.as_deref()) {
            Err(refusal) => return self.refuse(refusal, &spec_version).await,
            Ok(None) => {
                self.refused = None;
                if let Some(current) = &self.current_version {
                    self.condition = Some(condition(
                        ConditionStatus::False,
                        ClusterConditionReason::UpgradeComplete,
                        format!("every OpenBao Pod runs {current}"),
                    ));
                }
                return;
            }
            Ok(Some(change)) => change,
        };
        let expected = self
            .cluster
            .stateful_set_name()
            .unwrap_or_default()
            .to_string();
        if let Err(refusal) = drivable(
            observation
                .workload
                .as_ref()
                .map(|workload| &workload.facts),
            &expected,
        ) {
            return self.refuse(refusal, &spec_version).await;
        }
        self.refused = None;
        self.start(myself, change, retry_token, observation).await;
    }

    async fn refuse(&mut self, refusal: Refusal, spec_version: &str) {
        self.condition = Some(condition(
            ConditionStatus::False,
            refusal.reason,
            refusal.message.clone(),
        ));
        let announced = (refusal.reason, spec_version.to_string());
        if self.refused.as_ref() != Some(&announced) {
            tracing::warn!(cluster = %self.key, reason = refusal.reason.as_str(), "upgrade refused");
            self.emit(
                EventReason::UpgradeRefused,
                format!("{}: {}", refusal.reason.as_str(), refusal.message),
            )
            .await;
            self.upgrade
                .metrics
                .upgrade_finished(&self.key, UpgradeOutcome::Refused);
            self.refused = Some(announced);
        }
    }

    async fn start(
        &mut self,
        myself: &ActorRef<UpgradeMsg>,
        change: VersionChange,
        retry_token: Option<String>,
        observation: &Observation,
    ) {
        let (from, to) = (change.from.to_string(), change.to.to_string());
        let holder = HolderId::new(Operation::Upgrade, to.clone());
        let reply = self
            .lock
            .acquire(&holder, format!("upgrade {from} → {to}"), false)
            .await;
        let pending = UpgradeStatus {
            from_version: from.clone(),
            to_version: to.clone(),
            phase: UpgradePhase::Pending,
            pre_upgrade_snapshot_key: None,
            started_at: None,
            completed_at: None,
            pods_updated: Vec::new(),
            replacing: None,
            retry_token,
            message: None,
        };
        match reply {
            Ok(LockReply::Granted { epoch, .. }) => {
                self.epoch = Some(epoch);
                self.lock_wait_announced = false;
                self.status = Some(pending);
                self.begin();
                self.upgrade.metrics.upgrade_running(&self.key, true);
                let plan = if self.cluster.spec.pre_upgrade_snapshot_enabled() {
                    "a pre-upgrade snapshot first, then"
                } else {
                    "no pre-upgrade snapshot (spec.upgrade.preUpgradeSnapshot is false or no backup is set);"
                };
                self.emit(
                    EventReason::UpgradeStarted,
                    format!("upgrading {from} → {to}: {plan} one Pod at a time, standbys first"),
                )
                .await;
                if self.flush().await {
                    self.drive(myself, observation).await;
                }
            }
            Ok(LockReply::Denied {
                operation,
                held_by,
                since,
            }) => {
                let message = lock_wait_message(operation, &held_by, since);
                self.status = Some(UpgradeStatus {
                    message: Some(message.clone()),
                    ..pending
                });
                self.condition = Some(condition(
                    ConditionStatus::True,
                    ClusterConditionReason::UpgradeWaitingForLock,
                    message.clone(),
                ));
                if !self.lock_wait_announced {
                    self.emit(EventReason::UpgradeWaitingForLock, message).await;
                    self.lock_wait_announced = true;
                }
            }
            Ok(LockReply::Unavailable { reason }) => {
                tracing::warn!(cluster = %self.key, %reason, "upgrade lock unavailable; retrying");
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, %error, "upgrade lock unavailable; retrying");
            }
        }
    }

    /// The lock is held: from `Pending`, the first phase of the attempt.
    fn begin(&mut self) {
        let snapshot = self.cluster.spec.pre_upgrade_snapshot_enabled();
        let now = self.now();
        if let Some(status) = self.status.as_mut() {
            status.phase = if snapshot {
                UpgradePhase::PreUpgradeSnapshot
            } else {
                UpgradePhase::RollingOut
            };
            status.started_at = Some(now);
            status.message = None;
        }
        self.waiting_since = Instant::now();
    }

    /// Takes over the upgrade that held the lock when the actor (re)started.
    async fn resume(&mut self, holder: &HolderId, epoch: u64) {
        let recorded = self
            .status
            .as_ref()
            .filter(|status| status.to_version == holder.name)
            .map(|status| status.phase);
        match recorded {
            Some(phase) if !is_terminal(phase) => {
                tracing::info!(cluster = %self.key, %holder, %phase, "resuming the upgrade");
                self.epoch = Some(epoch);
                self.upgrade.metrics.upgrade_running(&self.key, true);
                if phase == UpgradePhase::Pending {
                    self.begin();
                }
            }
            _ => {
                // Granted but never recorded, or already ended: free the lock; the next look starts it afresh.
                tracing::info!(cluster = %self.key, %holder, "releasing an upgrade lock with no upgrade in progress");
                let _ = self.lock.release(holder, epoch);
            }
        }
    }

    fn arm_tick(&mut self, myself: &ActorRef<UpgradeMsg>) {
        if self.tick.as_ref().is_some_and(|timer| !timer.is_finished()) {
            return;
        }
        // Waiting for the lock is active too, unless the spec stopped asking for that version.
        let active = self.epoch.is_some()
            || self.status.as_ref().is_some_and(|status| {
                status.phase == UpgradePhase::Pending
                    && status.to_version == self.cluster.spec.version
            });
        let delay = if active { ACTIVE_TICK } else { IDLE_TICK };
        let mailbox = self.mailbox.clone();
        self.tick = Some(myself.send_after(delay, move || {
            mailbox.sent();
            UpgradeMsg::Tick
        }));
    }
}

impl Actor for UpgradeActor {
    type Msg = UpgradeMsg;
    type State = UpgradeState;
    type Arguments = UpgradeArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: UpgradeArgs,
    ) -> Result<UpgradeState, ActorProcessingErr> {
        let recorded = args.cluster.status.as_ref();
        let mut state = UpgradeState {
            status: recorded.and_then(|status| status.upgrade.clone()),
            current_version: recorded.and_then(|status| status.current_version.clone()),
            key: args.key,
            cluster: args.cluster,
            effects: args.effects,
            upgrade: args.upgrade_effects,
            lock: args.lock,
            mailbox: args.mailbox,
            pod_timeout: args.pod_timeout,
            condition: None,
            written: None,
            epoch: None,
            snapshot_asked: None,
            snapshot_retry_at: None,
            waiting_since: Instant::now(),
            refused: None,
            lock_wait_announced: false,
            tick: None,
        };
        if let Some(work) = args.resume {
            state.resume(&work.holder, work.epoch).await;
        }
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut UpgradeState,
    ) -> Result<(), ActorProcessingErr> {
        state.evaluate(&myself).await;
        state.arm_tick(&myself);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: UpgradeMsg,
        state: &mut UpgradeState,
    ) -> Result<(), ActorProcessingErr> {
        let started = Instant::now();
        let look = match message {
            UpgradeMsg::ClusterObserved(cluster) => {
                state.cluster = cluster;
                true
            }
            UpgradeMsg::LockReleased => state.epoch.is_none(),
            UpgradeMsg::Tick => {
                state.tick = None;
                true
            }
            UpgradeMsg::Preempted { by } => {
                state.preempted(&by).await;
                false
            }
            UpgradeMsg::SnapshotFinished { attempt, result } => {
                state.snapshot_finished(&attempt, result).await;
                true
            }
            UpgradeMsg::Ignored => false,
        };
        if look {
            state.evaluate(&myself).await;
        }
        state.arm_tick(&myself);
        let metrics = &state.effects.metrics;
        metrics.message_handled(&state.key, UPGRADE_KIND, started.elapsed());
        metrics.mailbox_depth(&state.key, UPGRADE_KIND, state.mailbox.handled());
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut UpgradeState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(timer) = state.tick.take() {
            timer.abort();
        }
        Ok(())
    }
}

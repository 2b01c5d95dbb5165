//! `BackupActor`: scheduled, manual and pre-upgrade backups of one cluster.
//!
//! Every handler observes (message + state), decides with the pure [`decide`] core, then acts through the
//! effects traits with short API calls. Long waits are messages: the next window is a `send_after` timer, a
//! Job's end is a `JobObserved` forwarded by the supervisor, a lock release is `LockReleased`.

mod attempt;
mod child;
pub mod configuration;
pub mod decide;
pub mod effects;
mod messages;
pub mod naming;
pub mod outcome;
pub mod triggers;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openbao_crds::{
    BACKUP_KIND_LABEL, BackupKind, BackupStatus, OpenBaoCluster, TRIGGER_BACKUP_ANNOTATION,
};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr, RpcReplyPort};

use crate::child::PreUpgradeResult;
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, ConditionUpdate, EventReason, JobObservation};
use crate::holder::HolderId;
use crate::lock_client::LockClient;
use crate::metrics::{ActorKind, MailboxGauge};
use configuration::{Configuration, PublishedCondition};
use decide::{
    BackupDecision, BackupObservation, ScheduleSettings, SkipReason, decide, next_scheduled_backup,
};
use triggers::{TriggerObservation, TriggerQueue};

pub use child::BackupChild;
pub use effects::BackupEffects;
pub use messages::{BackupArgs, BackupMsg};

/// The lock holder of a backup Job.
pub fn backup_holder(job_name: &str) -> HolderId {
    HolderId::new(openbao_crds::Operation::Backup, job_name)
}
/// Retry delay after an API error (lock write, Job creation).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(15);
/// Timers are re-armed at least this often, so a wall-clock jump is noticed within the hour.
const MAX_TIMER: Duration = Duration::from_secs(3600);
/// Bound on decisions per message; each start or skip consumes one, so this only guards against a bug looping.
const MAX_DECISIONS_PER_MESSAGE: usize = 16;

struct RunningBackup {
    job_name: String,
    kind: BackupKind,
    epoch: u64,
    /// Scheduled and manual backups hold the lock themselves; a pre-upgrade one runs under the upgrade's grant.
    holds_lock: bool,
    trigger: Option<String>,
    pre_upgrade_reply: Option<RpcReplyPort<PreUpgradeResult>>,
}

struct PendingPreUpgrade {
    upgrade_id: String,
    epoch: u64,
    reply: RpcReplyPort<PreUpgradeResult>,
}

type Timer = JoinHandle<Result<(), MessagingErr<BackupMsg>>>;

pub struct BackupState {
    key: ClusterKey,
    cluster: Arc<OpenBaoCluster>,
    effects: ClusterEffects,
    backup_effects: BackupEffects,
    lock: LockClient,
    mailbox: MailboxGauge,
    configuration: Configuration,
    /// The `BackupConfigurationReady` condition last written (or found in status), so it is written on change only.
    published_configuration: Option<PublishedCondition>,
    /// The plain-HTTP endpoints last warned about (a Warning event when the set changes).
    warned_plain_http: Vec<String>,
    /// What `pre_start` saw of the trigger annotation, published by `post_start` (which may write).
    initial_observation: Option<TriggerObservation>,
    settings: Option<ScheduleSettings>,
    effective_since: DateTime<Utc>,
    /// The actor's copy of `status.backup`; it is the only writer.
    status: BackupStatus,
    last_handled_window: Option<DateTime<Utc>>,
    triggers: TriggerQueue,
    trigger_waits_for_lock: bool,
    pre_upgrades: VecDeque<PendingPreUpgrade>,
    running: Option<RunningBackup>,
    resumed_finished: Option<JobObservation>,
    schedule_timer: Option<Timer>,
    retry_timer: Option<Timer>,
}

pub struct BackupActor;

/// How an attempt to start ended, i.e. whether deciding again now makes sense.
enum StartResult {
    Started,
    DecideAgain,
    RetryLater,
}

impl BackupState {
    fn observation(&self, now: DateTime<Utc>) -> BackupObservation<'_> {
        BackupObservation {
            cluster_name: &self.key.name,
            now,
            backup_configured: self.configuration.is_usable(),
            schedule: self.settings.as_ref(),
            effective_since: self.effective_since,
            last_handled_window: self.last_handled_window,
            running: self.running.is_some(),
            pending_pre_upgrade: self.pre_upgrades.front().map(|p| p.upgrade_id.as_str()),
            next_trigger: self.triggers.next(),
            trigger_waits_for_lock: self.trigger_waits_for_lock,
        }
    }

    /// Takes in a new version of the cluster; returns what became of its trigger annotation.
    fn observe_cluster(&mut self, cluster: Arc<OpenBaoCluster>) -> TriggerObservation {
        self.configuration = Configuration::assess(&cluster.spec);
        self.settings = self.configuration.usable().map(|config| {
            ScheduleSettings::from_validated(&self.key.namespace, &self.key.name, config)
        });
        let token = cluster
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(TRIGGER_BACKUP_ANNOTATION))
            .map(String::as_str);
        let running_token = self.running.as_ref().and_then(|r| r.trigger.as_deref());
        let observed = self.triggers.observe(
            token,
            self.status.last_handled_trigger.as_deref(),
            running_token,
        );
        if let TriggerObservation::Queued { position } = observed {
            tracing::info!(cluster = %self.key, position, "manual backup queued");
        }
        self.cluster = cluster;
        observed
    }

    /// Mirrors the trigger queue into `status.backup.pendingTriggers`; whether that changed the status.
    fn sync_pending_triggers(&mut self) -> bool {
        let pending = self.triggers.pending();
        let changed = pending != self.status.pending_triggers;
        self.status.pending_triggers = pending;
        changed
    }

    /// Publishes what an observation of the cluster changed, in one status write: `BackupConfigurationReady` (a
    /// spec turning invalid also warns), `pendingTriggers`, and `nextScheduledBackup` (the schedule may have
    /// changed with the spec). A trigger refused because the queue is full is a Warning event.
    async fn publish_observation(&mut self, observed: TriggerObservation) {
        let configuration = self.configuration_update().await;
        let pending_changed = self.sync_pending_triggers();
        let next = next_scheduled_backup(&self.observation(self.effects.clock.now()));
        let next_changed = next != self.status.next_scheduled_backup;
        self.status.next_scheduled_backup = next;
        if configuration.is_some() || pending_changed || next_changed {
            let conditions: Vec<ConditionUpdate> = configuration.into_iter().collect();
            self.write_status(&conditions).await;
        }
        self.warn_plain_http().await;
        if observed == TriggerObservation::QueueFull {
            let token = self
                .cluster
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(TRIGGER_BACKUP_ANNOTATION));
            let message = format!(
                "manual backup {token:?} refused: {} manual backups wait already; it runs if set again once they started",
                triggers::MAX_PENDING_TRIGGERS
            );
            tracing::warn!(cluster = %self.key, %message);
            self.emit(
                EventReason::BackupSkipped,
                format!("TriggerQueueFull: {message}"),
            )
            .await;
        }
    }

    /// The `BackupConfigurationReady` update when the verdict changed since it was last written (or since what
    /// status shows); a spec turning invalid is also a Warning event.
    async fn configuration_update(&mut self) -> Option<ConditionUpdate> {
        let condition = self.configuration.condition();
        let wanted = PublishedCondition::of(&condition);
        let published = self
            .published_configuration
            .get_or_insert_with(|| PublishedCondition::persisted(&self.cluster, condition.type_));
        if *published == wanted {
            return None;
        }
        let newly_invalid = matches!(self.configuration, Configuration::Invalid(_))
            && published.reason != wanted.reason;
        *published = wanted;
        if newly_invalid {
            tracing::warn!(cluster = %self.key, reason = condition.reason.as_str(), message = %condition.message,
                "spec.backup refused");
            self.emit(
                EventReason::BackupConfigurationInvalid,
                condition.message.clone(),
            )
            .await;
        }
        Some(condition)
    }

    /// An accepted configuration that sends credentials over `http://` is a Warning event, once per change of the
    /// endpoints concerned.
    async fn warn_plain_http(&mut self) {
        let endpoints = if self.configuration.is_usable() {
            openbao_crds::validation::plain_http_endpoints(&self.cluster.spec)
        } else {
            Vec::new()
        };
        if endpoints == self.warned_plain_http {
            return;
        }
        self.warned_plain_http = endpoints.clone();
        if endpoints.is_empty() {
            return;
        }
        let message = format!(
            "spec.allowPlainHttp accepts plain http:// endpoints ({}): the OpenBao token and the store credentials \
             travel unencrypted; use https:// outside tests and trusted networks",
            endpoints.join(", ")
        );
        tracing::warn!(cluster = %self.key, %message, "plain HTTP endpoints");
        self.emit(EventReason::PlainHttpEndpoint, message).await;
    }

    async fn write_status(&self, conditions: &[ConditionUpdate]) {
        if let Err(error) = self
            .backup_effects
            .status
            .write_backup_status(&self.key, &self.status, conditions)
            .await
        {
            // The copy in memory stays right; the next write carries it.
            tracing::warn!(cluster = %self.key, %error, "could not write status.backup");
        }
    }

    async fn emit(&self, reason: EventReason, message: String) {
        self.effects.emit(&self.key, reason, message).await;
    }

    async fn emit_about_job(&self, reason: EventReason, job: &str, message: String) {
        self.effects
            .emit_about_job(&self.key, reason, job, message)
            .await;
    }

    fn arm_schedule_timer(
        &mut self,
        myself: &ActorRef<BackupMsg>,
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        if let Some(timer) = self.schedule_timer.take() {
            timer.abort();
        }
        if let Some(until) = until {
            let delay = (until - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_TIMER);
            let mailbox = self.mailbox.clone();
            self.schedule_timer = Some(myself.send_after(delay, move || {
                mailbox.sent();
                BackupMsg::ScheduleTick
            }));
        }
    }

    fn arm_retry(&mut self, myself: &ActorRef<BackupMsg>) {
        if self
            .retry_timer
            .as_ref()
            .is_none_or(|timer| timer.is_finished())
        {
            let mailbox = self.mailbox.clone();
            self.retry_timer = Some(myself.send_after(RETRY_AFTER_ERROR, move || {
                mailbox.sent();
                BackupMsg::Retry
            }));
        }
    }

    async fn refresh_next_scheduled(&mut self, now: DateTime<Utc>) {
        let next = next_scheduled_backup(&self.observation(now));
        if next != self.status.next_scheduled_backup {
            self.status.next_scheduled_backup = next;
            self.write_status(&[]).await;
        }
    }

    async fn skip_window(&mut self, scheduled: DateTime<Utc>, reason: SkipReason) {
        self.last_handled_window = Some(scheduled);
        let message = reason.describe(scheduled);
        tracing::warn!(cluster = %self.key, reason = reason.reason(), %scheduled, "scheduled backup skipped");
        let condition = match reason {
            SkipReason::MissedStartingDeadline { .. } => {
                outcome::missed_window_condition(message.clone())
            }
            SkipReason::OperationLockHeld { .. } => {
                outcome::waiting_for_lock_condition(message.clone())
            }
        };
        self.write_status(&[condition]).await;
        self.emit(
            EventReason::BackupSkipped,
            format!("{}: {message}", reason.reason()),
        )
        .await;
    }

    /// A resumed Job's kind is its `openbao.org/backup-kind` label; a Job without one (or unreadable) keeps the kind
    /// its name shows, and the log says so.
    async fn learn_resumed_kind(&mut self) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let label = self
            .backup_effects
            .job_reader
            .job_label(&self.key.namespace, &running.job_name, BACKUP_KIND_LABEL)
            .await;
        match label
            .as_ref()
            .map(|value| value.as_deref().and_then(BackupKind::parse))
        {
            Ok(Some(kind)) => running.kind = kind,
            Ok(None) => {
                tracing::warn!(cluster = %self.key, job = %running.job_name, kind = %running.kind,
                    "resumed backup Job has no usable kind label; using the kind its name shows");
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, job = %running.job_name, kind = %running.kind, %error,
                    "cannot read the resumed backup Job's kind label; using the kind its name shows");
            }
        }
    }

    /// Decide and act until the actor has to wait for something.
    async fn evaluate(&mut self, myself: &ActorRef<BackupMsg>) {
        for _ in 0..MAX_DECISIONS_PER_MESSAGE {
            let now = self.effects.clock.now();
            match decide(&self.observation(now)) {
                BackupDecision::Busy => return,
                BackupDecision::Wait { until } => {
                    self.arm_schedule_timer(myself, until, now);
                    self.refresh_next_scheduled(now).await;
                    return;
                }
                BackupDecision::SkipWindow { scheduled, reason } => {
                    self.skip_window(scheduled, reason).await;
                }
                BackupDecision::StartBackup {
                    kind,
                    origin,
                    job_name,
                } => match self.start(myself, kind, origin, job_name).await {
                    StartResult::Started | StartResult::RetryLater => return,
                    StartResult::DecideAgain => {}
                },
            }
        }
        tracing::error!(cluster = %self.key, "backup decisions did not settle; waiting for the next message");
    }
}

fn creation_time(cluster: &OpenBaoCluster) -> Option<DateTime<Utc>> {
    let timestamp = &cluster.metadata.creation_timestamp.as_ref()?.0;
    DateTime::from_timestamp(
        timestamp.as_second(),
        timestamp.subsec_nanosecond().try_into().ok()?,
    )
}

impl Actor for BackupActor {
    type Msg = BackupMsg;
    type State = BackupState;
    type Arguments = BackupArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: BackupArgs,
    ) -> Result<BackupState, ActorProcessingErr> {
        let status = args
            .cluster
            .status
            .as_ref()
            .and_then(|status| status.backup.clone())
            .unwrap_or_default();
        let running = args.resume.as_ref().map(|resumed| RunningBackup {
            job_name: resumed.holder.name.clone(),
            // Read from the Job's kind label in `post_start`; until then the name says it.
            kind: naming::kind_of_job(&resumed.holder.name).unwrap_or(BackupKind::Scheduled),
            epoch: resumed.epoch,
            holds_lock: true,
            trigger: None,
            pre_upgrade_reply: None,
        });
        let triggers = TriggerQueue::restore(&status.pending_triggers);
        let mut state = BackupState {
            key: args.key,
            effective_since: creation_time(&args.cluster)
                .unwrap_or_else(|| args.effects.clock.now()),
            cluster: args.cluster.clone(),
            effects: args.effects,
            backup_effects: args.backup_effects,
            lock: args.lock,
            mailbox: args.mailbox,
            settings: None,
            last_handled_window: status.last_attempt_scheduled_time,
            configuration: Configuration::NotConfigured,
            published_configuration: None,
            warned_plain_http: Vec::new(),
            initial_observation: None,
            status,
            triggers,
            trigger_waits_for_lock: false,
            pre_upgrades: VecDeque::new(),
            running,
            resumed_finished: args.resume.and_then(|resumed| resumed.finished),
            schedule_timer: None,
            retry_timer: None,
        };
        state.initial_observation = Some(state.observe_cluster(args.cluster));
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut BackupState,
    ) -> Result<(), ActorProcessingErr> {
        let observed = state
            .initial_observation
            .take()
            .unwrap_or(TriggerObservation::NoTrigger);
        state.publish_observation(observed).await;
        state.learn_resumed_kind().await;
        if let Some(finished) = state.resumed_finished.take() {
            state.job_observed(finished).await;
        }
        state.evaluate(&myself).await;
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut BackupState,
    ) -> Result<(), ActorProcessingErr> {
        for timer in [state.schedule_timer.take(), state.retry_timer.take()]
            .into_iter()
            .flatten()
        {
            timer.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: BackupMsg,
        state: &mut BackupState,
    ) -> Result<(), ActorProcessingErr> {
        let started = Instant::now();
        match message {
            BackupMsg::ClusterObserved(cluster) => {
                let observed = state.observe_cluster(cluster);
                state.publish_observation(observed).await;
            }
            BackupMsg::JobObserved(job) => state.job_observed(job).await,
            BackupMsg::ScheduleTick | BackupMsg::Retry => {}
            BackupMsg::LockReleased => state.trigger_waits_for_lock = false,
            BackupMsg::Preempted { holder, by } => state.preempted(&holder, &by).await,
            BackupMsg::PreUpgradeSnapshot {
                upgrade_id,
                epoch,
                reply,
            } => {
                if !state.configuration.is_usable() {
                    let _ = reply.send(PreUpgradeResult::Refused {
                        reason: state.configuration.condition().message,
                    });
                } else {
                    state.pre_upgrades.push_back(PendingPreUpgrade {
                        upgrade_id,
                        epoch,
                        reply,
                    });
                }
            }
        }
        state.evaluate(&myself).await;
        let metrics = &state.effects.metrics;
        metrics.message_handled(&state.key, ActorKind::BACKUP, started.elapsed());
        metrics.mailbox_depth(&state.key, ActorKind::BACKUP, state.mailbox.handled());
        Ok(())
    }
}

//! `BackupActor`: scheduled, manual and pre-upgrade backups of one cluster.
//!
//! Every handler observes (message + state), decides with the pure [`decide`] core, then acts through the
//! effects traits with short API calls. Long waits are messages: the next window is a `send_after` timer, a
//! Job's end is a `JobObserved` forwarded by the supervisor, a lock release is `LockReleased`.

pub mod configuration;
pub mod decide;
mod messages;
pub mod naming;
pub mod outcome;
pub mod triggers;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openbao_crds::conditions::ClusterConditionType;
use openbao_crds::{
    BackupKind, BackupStatus, OpenBaoCluster, Operation, TRIGGER_BACKUP_ANNOTATION,
};
use ractor::concurrency::JoinHandle;
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr, RpcReplyPort};

use crate::cluster_key::ClusterKey;
use crate::effects::{
    BackupJobRequest, ClusterEffects, ConditionUpdate, EventReason, HolderLiveness, JobCreation,
    JobObservation,
};
use crate::holder::HolderRef;
use crate::lock::AcquireRequest;
use crate::metrics::{ActorKind, MailboxGauge};
use crate::supervisor::{LockReply, SupervisorMsg};
use configuration::Configuration;
use decide::{
    BackupDecision, BackupObservation, BackupOrigin, DeniedAction, ScheduleSettings, SkipReason,
    decide, next_scheduled_backup, on_lock_denied,
};
use outcome::{BackupOutcome, apply_outcome, outcome_of};
use triggers::TriggerQueue;

pub use messages::{BackupArgs, BackupMsg, BackupSummary, PreUpgradeResult, ResumedBackup};

/// How long a lock request may wait for the supervisor (which may be retrying a conflicting write).
const LOCK_CALL_TIMEOUT: Duration = Duration::from_secs(30);
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
    supervisor: ActorRef<SupervisorMsg>,
    mailbox: MailboxGauge,
    configuration: Configuration,
    /// The `BackupConfigurationReady` condition last written (or found in status), so it is written on change only.
    published_configuration: Option<PublishedCondition>,
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

    fn observe_cluster(&mut self, cluster: Arc<OpenBaoCluster>) {
        self.configuration = Configuration::assess(&cluster.spec);
        let usable = self.configuration.is_usable();
        self.settings = cluster
            .spec
            .backup
            .as_ref()
            .filter(|_| usable)
            .and_then(|spec| {
                ScheduleSettings::from_spec(&self.key.namespace, &self.key.name, spec)
                    .inspect_err(|error| {
                        tracing::debug!(cluster = %self.key, reason = error.reason(), %error,
                        "schedule not usable; scheduled backups paused");
                    })
                    .ok()
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
        if let triggers::TriggerObservation::Queued { position } = observed {
            tracing::info!(cluster = %self.key, position, "manual backup queued");
        }
        self.cluster = cluster;
    }

    /// Writes `BackupConfigurationReady` when the verdict changed; a spec turning invalid is also a Warning event.
    async fn publish_configuration(&mut self) {
        let condition = self.configuration.condition();
        let wanted = PublishedCondition::of(&condition);
        let published = self
            .published_configuration
            .get_or_insert_with(|| PublishedCondition::persisted(&self.cluster, condition.type_));
        if *published == wanted {
            return;
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
        self.write_status(&[condition]).await;
    }

    async fn write_status(&self, conditions: &[ConditionUpdate]) {
        if let Err(error) = self
            .effects
            .backup_status
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
            self.schedule_timer = Some(myself.send_after(delay, || BackupMsg::ScheduleTick));
        }
    }

    fn arm_retry(&mut self, myself: &ActorRef<BackupMsg>) {
        if self
            .retry_timer
            .as_ref()
            .is_none_or(|timer| timer.is_finished())
        {
            self.retry_timer = Some(myself.send_after(RETRY_AFTER_ERROR, || BackupMsg::Retry));
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

    async fn request_lock(&self, kind: BackupKind, job_name: &str) -> Result<LockReply, String> {
        let request = AcquireRequest {
            operation: Operation::Backup,
            holder: HolderRef::BackupJob(job_name.to_string()).to_string(),
            message: format!("{kind} backup Job {job_name}"),
            override_existing: false,
        };
        let call = self
            .supervisor
            .call(
                |reply| SupervisorMsg::AcquireLock { request, reply },
                Some(LOCK_CALL_TIMEOUT),
            )
            .await;
        match call {
            Ok(CallResult::Success(reply)) => Ok(reply),
            Ok(CallResult::Timeout) => Err("the supervisor did not answer in time".into()),
            Ok(CallResult::SenderError) => Err("the supervisor dropped the request".into()),
            Err(error) => Err(format!("the supervisor is unreachable: {error}")),
        }
    }

    async fn start(
        &mut self,
        myself: &ActorRef<BackupMsg>,
        kind: BackupKind,
        origin: BackupOrigin,
        job_name: String,
    ) -> StartResult {
        let now = self.effects.clock.now();
        let (epoch, holds_lock, pre_upgrade_reply) = match &origin {
            BackupOrigin::PreUpgrade { .. } => match self.pre_upgrades.pop_front() {
                Some(pending) => (pending.epoch, false, Some(pending.reply)),
                None => return StartResult::DecideAgain,
            },
            BackupOrigin::Window { .. } | BackupOrigin::Trigger { .. } => {
                match self.request_lock(kind, &job_name).await {
                    Ok(LockReply::Granted { epoch }) => (epoch, true, None),
                    Ok(LockReply::Denied {
                        operation, held_by, ..
                    }) => {
                        self.lock_denied(&origin, operation, &held_by).await;
                        return StartResult::DecideAgain;
                    }
                    Ok(LockReply::Unavailable { reason }) | Err(reason) => {
                        tracing::warn!(cluster = %self.key, job = %job_name, %reason, "lock unavailable; retrying");
                        self.arm_retry(myself);
                        return StartResult::RetryLater;
                    }
                }
            }
        };
        let request = BackupJobRequest {
            job_name: job_name.clone(),
            kind,
            epoch,
            scheduled_time: match &origin {
                BackupOrigin::Window { scheduled } => Some(*scheduled),
                _ => None,
            },
            trigger: match &origin {
                BackupOrigin::Trigger { token } => Some(token.clone()),
                _ => None,
            },
        };
        let created = self
            .effects
            .jobs
            .create_backup_job(&self.cluster, &request)
            .await;
        let already_existed = matches!(created, Ok(JobCreation::AlreadyExisted));
        if let Err(error) = created {
            if holds_lock {
                self.release_lock(&job_name, epoch);
            }
            let message = format!("could not create backup Job {job_name}: {error}");
            tracing::warn!(cluster = %self.key, %message);
            return match origin {
                BackupOrigin::Window { scheduled } => {
                    self.last_handled_window = Some(scheduled);
                    self.record_outcome(
                        &job_name,
                        kind,
                        &BackupOutcome::Failed {
                            finished_at: now,
                            reason: outcome::REASON_JOB_NOT_CREATED.into(),
                            message,
                        },
                    )
                    .await;
                    StartResult::DecideAgain
                }
                BackupOrigin::Trigger { .. } => {
                    self.arm_retry(myself);
                    StartResult::RetryLater
                }
                BackupOrigin::PreUpgrade { .. } => {
                    if let Some(reply) = pre_upgrade_reply {
                        let _ = reply.send(PreUpgradeResult::Failed {
                            reason: outcome::REASON_JOB_NOT_CREATED.into(),
                            message,
                        });
                    }
                    StartResult::DecideAgain
                }
            };
        }

        self.status.last_attempt_time = Some(now);
        let mut trigger = None;
        match &origin {
            BackupOrigin::Window { scheduled } => {
                self.last_handled_window = Some(*scheduled);
                self.status.last_attempt_scheduled_time = Some(*scheduled);
            }
            BackupOrigin::Trigger { token } => {
                self.triggers.mark_started(token);
                self.status.last_handled_trigger = Some(token.clone());
                trigger = Some(token.clone());
            }
            BackupOrigin::PreUpgrade { .. } => {}
        }
        self.status.next_scheduled_backup = next_scheduled_backup(&self.observation(now));
        self.running = Some(RunningBackup {
            job_name: job_name.clone(),
            kind,
            epoch,
            holds_lock,
            trigger,
            pre_upgrade_reply,
        });
        self.write_status(&outcome::started_conditions(kind, &job_name))
            .await;
        self.emit(
            EventReason::BackupStarted,
            format!("{kind} backup Job {job_name} created (lock epoch {epoch})"),
        )
        .await;
        if already_existed {
            self.catch_up_existing_job(&job_name).await;
            if self.running.is_none() {
                return StartResult::DecideAgain;
            }
        }
        StartResult::Started
    }

    /// A Job found under the deterministic name was created before an operator restart and may have ended
    /// already; the watch does not report its end again, so record it now instead of holding the lock forever.
    async fn catch_up_existing_job(&mut self, job_name: &str) {
        let holder = HolderRef::BackupJob(job_name.to_string());
        match self.effects.holders.probe_holder(&self.key, &holder).await {
            Ok(HolderLiveness::Finished(Some(job))) => self.job_observed(job).await,
            Ok(_) => {}
            Err(error) => {
                // The Job's next watch event, or the next supervisor start's adoption, still records it.
                tracing::warn!(cluster = %self.key, job = job_name, %error, "could not read the existing Job");
            }
        }
    }

    async fn lock_denied(&mut self, origin: &BackupOrigin, operation: Operation, held_by: &str) {
        self.emit(
            EventReason::OperationLockBlocked,
            format!(
                "{} backup waits: the cluster is locked by {operation} ({held_by})",
                origin.kind()
            ),
        )
        .await;
        match on_lock_denied(origin, operation, held_by) {
            DeniedAction::SkipWindow { scheduled, reason } => {
                self.skip_window(scheduled, reason).await
            }
            DeniedAction::KeepTriggerQueued => {
                self.trigger_waits_for_lock = true;
                let message = format!(
                    "manual backup queued until {operation} ({held_by}) releases the operation lock"
                );
                self.write_status(&[outcome::waiting_for_lock_condition(message)])
                    .await;
            }
        }
    }

    fn release_lock(&self, job_name: &str, epoch: u64) {
        let holder = HolderRef::BackupJob(job_name.to_string()).to_string();
        if self
            .supervisor
            .cast(SupervisorMsg::ReleaseLock { holder, epoch })
            .is_err()
        {
            tracing::warn!(cluster = %self.key, job = job_name, "supervisor gone; lock release left to adoption");
        }
    }

    /// Applies an outcome to `status.backup`; events only when it changed something (a replay stays quiet).
    async fn record_outcome(&mut self, job_name: &str, kind: BackupKind, outcome: &BackupOutcome) {
        let (status, changed) = apply_outcome(&self.status, outcome);
        self.status = status;
        self.write_status(&outcome::finished_conditions(outcome, &self.status))
            .await;
        if !changed {
            return;
        }
        match outcome {
            BackupOutcome::Succeeded { point, .. } => {
                self.emit(
                    EventReason::BackupCompleted,
                    format!(
                        "{kind} backup Job {job_name} stored {} ({} bytes, {})",
                        point.key, point.size, point.digest
                    ),
                )
                .await;
            }
            BackupOutcome::Failed {
                reason, message, ..
            } => {
                self.emit(
                    EventReason::BackupFailed,
                    format!("{kind} backup Job {job_name} failed: {reason}: {message}"),
                )
                .await;
            }
        }
    }

    async fn job_observed(&mut self, job: JobObservation) {
        let Some(running) = &self.running else {
            return;
        };
        if running.job_name != job.job_name {
            return;
        }
        let Some(outcome) = outcome_of(&job, running.kind, self.effects.clock.now()) else {
            return;
        };
        let Some(running) = self.running.take() else {
            return;
        };
        self.record_outcome(&running.job_name, running.kind, &outcome)
            .await;
        if running.holds_lock {
            self.release_lock(&running.job_name, running.epoch);
        }
        if let Some(reply) = running.pre_upgrade_reply {
            let _ = reply.send(match &outcome {
                BackupOutcome::Succeeded { point, .. } => PreUpgradeResult::Succeeded {
                    job_name: running.job_name.clone(),
                    key: point.key.clone(),
                },
                BackupOutcome::Failed {
                    reason, message, ..
                } => PreUpgradeResult::Failed {
                    reason: reason.clone(),
                    message: message.clone(),
                },
            });
        }
        let _ = self
            .supervisor
            .cast(SupervisorMsg::BackupFinished(BackupSummary {
                job_name: running.job_name,
                kind: running.kind,
                succeeded: outcome.is_success(),
            }));
    }

    /// Decide and act until the actor has to wait for something.
    async fn evaluate(&mut self, myself: &ActorRef<BackupMsg>) {
        for _ in 0..MAX_DECISIONS_PER_MESSAGE {
            let now = self.effects.clock.now();
            match decide(&self.observation(now)) {
                BackupDecision::Queue => return,
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

/// A condition as status shows it (strings), to tell whether a write would change anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct PublishedCondition {
    status: String,
    reason: String,
    message: String,
}

impl PublishedCondition {
    fn of(condition: &ConditionUpdate) -> Self {
        Self {
            status: condition.status.as_str().to_string(),
            reason: condition.reason.as_str().to_string(),
            message: condition.message.clone(),
        }
    }

    /// The condition of `type_` in the cluster's status; empty when there is none, so the first verdict is written.
    fn persisted(cluster: &OpenBaoCluster, type_: ClusterConditionType) -> Self {
        cluster
            .status
            .as_ref()
            .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_.as_str()))
            .map(|c| Self {
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .unwrap_or_default()
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
            job_name: resumed.job_name.clone(),
            kind: naming::kind_of_job(&resumed.job_name).unwrap_or(BackupKind::Scheduled),
            epoch: resumed.epoch,
            holds_lock: true,
            trigger: None,
            pre_upgrade_reply: None,
        });
        let mut state = BackupState {
            key: args.key,
            effective_since: creation_time(&args.cluster)
                .unwrap_or_else(|| args.effects.clock.now()),
            cluster: args.cluster.clone(),
            effects: args.effects,
            supervisor: args.supervisor,
            mailbox: args.mailbox,
            settings: None,
            last_handled_window: status.last_attempt_scheduled_time,
            configuration: Configuration::NotConfigured,
            published_configuration: None,
            status,
            triggers: TriggerQueue::default(),
            trigger_waits_for_lock: false,
            pre_upgrades: VecDeque::new(),
            running,
            resumed_finished: args.resume.and_then(|resumed| resumed.finished),
            schedule_timer: None,
            retry_timer: None,
        };
        state.observe_cluster(args.cluster);
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut BackupState,
    ) -> Result<(), ActorProcessingErr> {
        state.publish_configuration().await;
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
                state.observe_cluster(cluster);
                state.publish_configuration().await;
            }
            BackupMsg::JobObserved(job) => state.job_observed(job).await,
            BackupMsg::ScheduleTick | BackupMsg::Retry => {}
            BackupMsg::LockReleased => state.trigger_waits_for_lock = false,
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
        metrics.message_handled(&state.key, ActorKind::Backup, started.elapsed());
        metrics.mailbox_depth(&state.key, ActorKind::Backup, state.mailbox.handled());
        Ok(())
    }
}

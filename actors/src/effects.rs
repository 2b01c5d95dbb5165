//! The narrow interfaces through which every actor touches the world: the lock record, Job reads, events, time
//! and metrics. Each child adds its own bundle (e.g. [`crate::backup::BackupEffects`]). `src/` implements them
//! with kube; tests with in-memory fakes. Actors never wait for a Job inside a call: they learn about Job
//! progress from [`JobObservation`] messages.
//!
//! Methods return boxed futures so the traits stay object-safe and one [`ClusterEffects`] bundle of
//! `Arc<dyn …>` can be cloned into every actor.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};
use openbao_crds::field_error::FieldReason;

use crate::clock::Clock;
use crate::cluster_key::ClusterKey;
use crate::metrics::ActorMetrics;

/// The error an API client gave, kept as the source of an effect's error (for `{:?}` and error chains).
pub type SourceError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A source error from plain text, for fakes and for failures that have no error value of their own.
pub fn source_from(message: impl Into<String>) -> SourceError {
    let boxed: Box<dyn std::error::Error + Send + Sync> = message.into().into();
    Arc::from(boxed)
}

/// Why writing `status.operationLock` failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PersistError {
    /// The object changed since `expected` (HTTP 409): re-read and decide again.
    #[error("the OpenBaoCluster changed since resourceVersion {expected}")]
    Conflict { expected: String },
    #[error("the OpenBaoCluster no longer exists")]
    NotFound,
    #[error("the API request failed: {source}")]
    Api {
        #[source]
        source: SourceError,
    },
}

impl PersistError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => "Conflict",
            Self::NotFound => "NotFound",
            Self::Api { .. } => "ApiError",
        }
    }
}

/// Why any other effect failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EffectError {
    #[error("{0} not found")]
    NotFound(String),
    /// An API request failed; `context` says which.
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: SourceError,
    },
    /// The object to write could not be built from the spec.
    #[error("{context}: {source}")]
    Build {
        context: String,
        #[source]
        source: SourceError,
    },
    /// A lock-guarded write refused because its fencing epoch is no longer the lock's (a deposed holder).
    #[error("fenced: {0}")]
    Fenced(String),
    /// An object the operator needs exists under its name but is not the operator's: it is not taken over.
    #[error("{0}")]
    NotOwned(String),
}

impl EffectError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NotFound",
            Self::Api { .. } => "ApiError",
            Self::Build { .. } => "BuildFailed",
            Self::Fenced(_) => "Fenced",
            Self::NotOwned(_) => "NotOwned",
        }
    }
}

/// `status.operationLock` as read, with the resourceVersion the next write must be conditioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedLock {
    pub resource_version: String,
    pub lock: Option<openbao_crds::OperationLock>,
    /// `status.lastLockEpoch`: the highest epoch ever granted (0 when never granted).
    pub last_epoch: u64,
}

/// Reads and writes `status.operationLock`. Only the cluster supervisor uses it.
pub trait LockStore: Send + Sync {
    fn read_lock<'a>(
        &'a self,
        cluster: &'a ClusterKey,
    ) -> BoxFuture<'a, Result<PersistedLock, PersistError>>;

    /// Writes `lock` (`None` clears it) and `status.lastLockEpoch = last_epoch` in one write, only if the object
    /// still has `expected_resource_version`; returns the new resourceVersion.
    fn persist_lock<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        expected_resource_version: &'a str,
        lock: Option<openbao_crds::OperationLock>,
        last_epoch: u64,
    ) -> BoxFuture<'a, Result<String, PersistError>>;
}

/// Where a Job stands, as a Job watcher or a direct read saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Active,
    Succeeded {
        finished_at: DateTime<Utc>,
        /// The executor's report: the container's termination message.
        termination_message: Option<String>,
    },
    Failed {
        finished_at: DateTime<Utc>,
        /// The Job's `Failed` condition reason, e.g. `DeadlineExceeded`, `BackoffLimitExceeded`.
        job_reason: Option<String>,
        termination_message: Option<String>,
    },
    /// The Job does not exist (deleted, or never created).
    Missing,
}

impl JobState {
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Active)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobObservation {
    pub job_name: String,
    pub state: JobState,
}

/// Whether a lock holder still exists, for adopting a persisted lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderLiveness {
    Active,
    /// The holder ran to an end; for a Job, how it ended.
    Finished(Option<JobObservation>),
    Missing,
}

/// Reads one Job's state by name (its report included when it finished): how a child's probe tells whether the
/// Job holding the lock still runs.
pub trait JobReader: Send + Sync {
    fn job_state<'a>(
        &'a self,
        namespace: &'a str,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<JobState, EffectError>>;

    /// The value of one label of the Job; `None` when the Job or the label does not exist.
    fn job_label<'a>(
        &'a self,
        namespace: &'a str,
        job_name: &'a str,
        label: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, EffectError>>;
}

/// A condition as the actor decided it; `src/` adds transition times (changed only when `status` changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: ClusterConditionType,
    pub status: ConditionStatus,
    pub reason: ConditionReason,
    pub message: String,
}

/// A condition's reason: one of the cluster reasons, or for `BackupConfigurationReady=False` the reason of the
/// first refused field (`InvalidSchedule`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionReason {
    Cluster(ClusterConditionReason),
    Field(FieldReason),
}

impl ConditionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster(reason) => reason.as_str(),
            Self::Field(reason) => reason.as_str(),
        }
    }
}

impl From<ClusterConditionReason> for ConditionReason {
    fn from(reason: ClusterConditionReason) -> Self {
        Self::Cluster(reason)
    }
}

impl PartialEq<ClusterConditionReason> for ConditionReason {
    fn eq(&self, other: &ClusterConditionReason) -> bool {
        *self == Self::Cluster(*other)
    }
}

/// Kubernetes Event reasons the actors emit on the OpenBaoCluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum EventReason {
    BackupStarted,
    BackupCompleted,
    BackupFailed,
    BackupSkipped,
    /// `spec.backup` was refused; the message names the fields.
    BackupConfigurationInvalid,
    /// Accepted `http://` endpoints (`spec.allowPlainHttp`): credentials travel unencrypted.
    PlainHttpEndpoint,
    OperationLockBlocked,
    OperationLockReleased,
    /// A restore took the lock from another holder with `overrideOperationLock`.
    OperationLockOverridden,
    RestoreStarted,
    RestoreCompleted,
    RestoreFailed,
    UpgradeStarted,
    /// The upgrade waits for the operation lock.
    UpgradeWaitingForLock,
    PreUpgradeSnapshotTaken,
    PodUpgraded,
    UpgradeCompleted,
    /// The pre-upgrade snapshot failed; nothing was replaced.
    UpgradeBlocked,
    UpgradeFailed,
    /// A version change the guard does not carry out (a downgrade, a workload it cannot drive).
    UpgradeRefused,
}

impl EventReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Kubernetes event type: failures and skipped work are `Warning`, the rest `Normal`.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::BackupFailed
                | Self::RestoreFailed
                | Self::OperationLockOverridden
                | Self::BackupSkipped
                | Self::BackupConfigurationInvalid
                | Self::PlainHttpEndpoint
                | Self::OperationLockBlocked
                | Self::UpgradeBlocked
                | Self::UpgradeFailed
                | Self::UpgradeRefused
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    pub reason: EventReason,
    pub message: String,
    /// The object the event is about besides the cluster (the Event's related object). Kubernetes folds repeats
    /// of one reason into a series that keeps the first message, so each Job's (or Pod's) events must be told
    /// apart from the next one's.
    pub related: Option<Related>,
}

/// An object in the cluster's namespace that an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Related {
    Job(String),
    Pod(String),
}

pub trait EventRecorder: Send + Sync {
    fn record<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        event: &'a ClusterEvent,
    ) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// What every actor of every cluster needs from outside, cloned into each.
#[derive(Clone)]
pub struct ClusterEffects {
    pub locks: Arc<dyn LockStore>,
    pub events: Arc<dyn EventRecorder>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn ActorMetrics>,
}

impl ClusterEffects {
    /// Records an event; a failure to record is logged, never fatal: events are an audit aid, status is the truth.
    pub async fn emit(&self, cluster: &ClusterKey, reason: EventReason, message: String) {
        self.record(
            cluster,
            ClusterEvent {
                reason,
                message,
                related: None,
            },
        )
        .await;
    }

    /// Records an event about one Job of the cluster.
    pub async fn emit_about_job(
        &self,
        cluster: &ClusterKey,
        reason: EventReason,
        job: &str,
        message: String,
    ) {
        self.record(
            cluster,
            ClusterEvent {
                reason,
                message,
                related: Some(Related::Job(job.to_string())),
            },
        )
        .await;
    }

    /// Records an event about one Pod of the cluster.
    pub async fn emit_about_pod(
        &self,
        cluster: &ClusterKey,
        reason: EventReason,
        pod: &str,
        message: String,
    ) {
        self.record(
            cluster,
            ClusterEvent {
                reason,
                message,
                related: Some(Related::Pod(pod.to_string())),
            },
        )
        .await;
    }

    async fn record(&self, cluster: &ClusterKey, event: ClusterEvent) {
        let reason = event.reason;
        if let Err(error) = self.events.record(cluster, &event).await {
            tracing::warn!(%cluster, event = reason.as_str(), %error, "could not record event");
        }
    }
}

//! In-memory fakes of the effects traits, with real API semantics where the actors depend on them: every write
//! bumps the resourceVersion and a lock write with a stale one is a conflict. Tests wait on state changes with a
//! deadline, never with sleeps.

#![allow(dead_code)]

pub mod restore;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::future::BoxFuture;
use openbao_actors::backup::effects::{
    BackupJobRequest, BackupJobs, BackupStatusWriter, JobCreation,
};
use openbao_actors::backup::naming::window_job_name;
use openbao_actors::backup::{BackupChild, BackupEffects};
use openbao_actors::child::ChildSpecs;
use openbao_actors::clock::ManualClock;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::{
    ClusterEffects, ClusterEvent, ConditionUpdate, EffectError, EventReason, EventRecorder,
    JobObservation, JobReader, JobState, LockStore, PersistError, PersistedLock, source_from,
};
use openbao_actors::lock::AcquireRequest;
use openbao_actors::lock_client::LockReply;
use openbao_actors::manager::{ClusterManager, ManagerArgs, ManagerMsg};
use openbao_actors::metrics::{ActorKind, ActorMetrics, MailboxGauge};
use openbao_actors::restore::{RestoreChild, RestoreReader, RestoreRecord};
use openbao_actors::supervisor::{
    ClusterSupervisor, SupervisorArgs, SupervisorMsg, SupervisorView,
};
use openbao_crds::{BackupStatus, OpenBaoCluster, Operation};
use ractor::{Actor, ActorRef};
use tokio::sync::watch;

pub const NAMESPACE: &str = "vault";
pub const NAME: &str = "prod";
const WAIT: Duration = Duration::from_secs(30);

/// 2026-03-02 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
}

pub fn key() -> ClusterKey {
    ClusterKey::new(NAMESPACE, NAME)
}

#[derive(Debug, Default)]
pub struct World {
    pub resource_version: u64,
    pub lock: Option<openbao_crds::OperationLock>,
    /// `status.lastLockEpoch` as persisted.
    pub last_epoch: u64,
    pub persist_calls: usize,
    /// Next lock writes that fail with a conflict as if another writer got in first.
    pub conflicts_to_inject: usize,
    pub jobs: BTreeMap<String, JobState>,
    pub created: Vec<BackupJobRequest>,
    /// Next Job creations that panic inside the effect call.
    pub panics_on_create: usize,
    /// The next Job creation fails with this error.
    pub create_error: Option<EffectError>,
    /// Next lock reads that fail (an API error while a supervisor starts).
    pub read_lock_failures: usize,
    /// Next lock writes that panic inside the effect call (a supervisor failing at run time).
    pub panics_on_persist: usize,
    /// Every lock write takes this long (a slow API server), so a test can act while a handler is mid-write.
    pub persist_delay: Duration,
    pub active_restores: BTreeSet<String>,
    /// `openbao.org/backup-kind` labels of Jobs made outside the fake's creation path (e.g. before a restart).
    pub job_kinds: BTreeMap<String, String>,
    pub backup_status: Option<BackupStatus>,
    pub conditions: Vec<ConditionUpdate>,
    pub events: Vec<ClusterEvent>,
    pub restarts: Vec<ActorKind>,
    /// Every actor start reported to the metrics, in order.
    pub started: Vec<ActorKind>,
    /// The mailbox gauge of each running actor, as an exporter reads it at scrape time.
    pub mailboxes: HashMap<ActorKind, MailboxGauge>,
    /// Starts of an actor whose previous instance was never reported stopped.
    pub started_without_stop: usize,
    pub removed_series: Vec<ClusterKey>,
    /// Actor metric updates for a cluster whose series were removed already (they would bring them back).
    pub series_touched_after_removal: usize,
    /// The `OpenBaoRestore` objects and every call of the restore actor.
    pub restore: restore::RestoreWorld,
}

impl World {
    pub fn events_with(&self, reason: EventReason) -> Vec<&ClusterEvent> {
        self.events.iter().filter(|e| e.reason == reason).collect()
    }

    pub fn created_names(&self) -> Vec<String> {
        self.created.iter().map(|r| r.job_name.clone()).collect()
    }

    pub fn holder(&self) -> Option<(String, i64)> {
        self.lock.as_ref().map(|l| (l.holder.clone(), l.epoch))
    }
}

pub struct FakeCluster {
    world: Mutex<World>,
    changed: watch::Sender<u64>,
    pub clock: Arc<ManualClock>,
}

impl FakeCluster {
    pub fn new(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            world: Mutex::new(World {
                resource_version: 1,
                ..World::default()
            }),
            changed: watch::channel(0).0,
            clock: Arc::new(ManualClock::new(now)),
        })
    }

    pub fn effects(self: &Arc<Self>) -> ClusterEffects {
        ClusterEffects {
            locks: self.clone(),
            events: self.clone(),
            clock: self.clock.clone(),
            metrics: self.clone(),
        }
    }

    /// The children the operator runs, each backed by this fake.
    pub fn children(self: &Arc<Self>) -> ChildSpecs {
        let backup = BackupEffects {
            jobs: self.clone(),
            status: self.clone(),
            job_reader: self.clone(),
        };
        Arc::new([
            Arc::new(BackupChild::new(backup)),
            Arc::new(RestoreChild::new(self.clone(), self.restore_effects())),
        ])
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the world as a test step (e.g. another writer) and wakes waiters.
    pub fn update(&self, change: impl FnOnce(&mut World)) {
        change(&mut self.world());
        self.changed.send_modify(|version| *version += 1);
    }

    /// Waits until `check` returns `Some`, failing with `what` and the world's state after a generous deadline.
    pub async fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&World) -> Option<T>) -> T {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(found) = check(&self.world()) {
                return found;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                panic!("timed out waiting for {what}; world: {:#?}", *self.world());
            }
        }
    }

    pub async fn wait_until(&self, what: &str, mut check: impl FnMut(&World) -> bool) {
        self.wait_for(what, |world| check(world).then_some(()))
            .await
    }

    pub async fn start_supervisor(
        self: &Arc<Self>,
        cluster: OpenBaoCluster,
    ) -> ActorRef<SupervisorMsg> {
        let args = SupervisorArgs {
            key: key(),
            cluster: Arc::new(cluster),
            effects: self.effects(),
            children: self.children(),
            mailbox: Default::default(),
        };
        let (supervisor, _) = Actor::spawn(None, ClusterSupervisor, args)
            .await
            .expect("supervisor starts");
        supervisor
    }
}

pub async fn start_manager(fake: &Arc<FakeCluster>) -> ActorRef<ManagerMsg> {
    let (manager, _) = Actor::spawn(
        None,
        ClusterManager,
        ManagerArgs {
            effects: fake.effects(),
            children: fake.children(),
        },
    )
    .await
    .expect("manager starts");
    manager
}

pub async fn inspect(supervisor: &ActorRef<SupervisorMsg>) -> SupervisorView {
    ractor::call_t!(supervisor, SupervisorMsg::Inspect, 10_000).expect("supervisor answers")
}

/// Uses up one injected fault from `remaining`; whether there was one.
fn take_one(remaining: &mut usize) -> bool {
    let take = *remaining > 0;
    *remaining = remaining.saturating_sub(1);
    take
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(async move { value })
}

impl LockStore for FakeCluster {
    fn read_lock<'a>(
        &'a self,
        _: &'a ClusterKey,
    ) -> BoxFuture<'a, Result<PersistedLock, PersistError>> {
        if take_one(&mut self.world().read_lock_failures) {
            return ready(Err(PersistError::Api {
                source: source_from("injected read failure"),
            }));
        }
        let world = self.world();
        ready(Ok(PersistedLock {
            resource_version: world.resource_version.to_string(),
            lock: world.lock.clone(),
            last_epoch: world.last_epoch,
        }))
    }

    fn persist_lock<'a>(
        &'a self,
        _: &'a ClusterKey,
        expected: &'a str,
        lock: Option<openbao_crds::OperationLock>,
        last_epoch: u64,
    ) -> BoxFuture<'a, Result<String, PersistError>> {
        if take_one(&mut self.world().panics_on_persist) {
            panic!("injected panic while writing the operation lock");
        }
        let mut result = Ok(String::new());
        self.update(|world| {
            world.persist_calls += 1;
            if world.conflicts_to_inject > 0 {
                world.conflicts_to_inject -= 1;
                world.resource_version += 1;
            }
            if expected != world.resource_version.to_string() {
                result = Err(PersistError::Conflict {
                    expected: expected.to_string(),
                });
                return;
            }
            world.resource_version += 1;
            world.lock = lock;
            world.last_epoch = last_epoch;
            result = Ok(world.resource_version.to_string());
        });
        let delay = self.world().persist_delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            result
        })
    }
}

impl JobReader for FakeCluster {
    fn job_state<'a>(
        &'a self,
        _: &'a str,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<JobState, EffectError>> {
        let state = self
            .world()
            .jobs
            .get(job_name)
            .cloned()
            .unwrap_or(JobState::Missing);
        ready(Ok(state))
    }

    fn job_label<'a>(
        &'a self,
        _: &'a str,
        job_name: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, EffectError>> {
        ready(Ok(self.kind_label(job_name)))
    }
}

/// The fake's Jobs carry the kind label their creation request named.
impl FakeCluster {
    fn kind_label(&self, job_name: &str) -> Option<String> {
        let world = self.world();
        world.job_kinds.get(job_name).cloned().or_else(|| {
            world
                .created
                .iter()
                .find(|request| request.job_name == job_name)
                .map(|request| request.kind.as_str().to_string())
        })
    }
}

impl RestoreReader for FakeCluster {
    fn read_restore<'a>(
        &'a self,
        _: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RestoreRecord, EffectError>> {
        let record = if self.world().active_restores.contains(name) {
            RestoreRecord::Present(Some(openbao_crds::RestorePhase::Running))
        } else {
            RestoreRecord::Missing
        };
        ready(Ok(record))
    }
}

impl BackupJobs for FakeCluster {
    fn create_backup_job<'a>(
        &'a self,
        _: &'a OpenBaoCluster,
        request: &'a BackupJobRequest,
    ) -> BoxFuture<'a, Result<JobCreation, EffectError>> {
        Box::pin(async move {
            if take_one(&mut self.world().panics_on_create) {
                panic!("injected panic while creating {}", request.job_name);
            }
            if let Some(error) = self.world().create_error.take() {
                return Err(error);
            }
            let mut creation = JobCreation::Created;
            self.update(|world| {
                if world.jobs.contains_key(&request.job_name) {
                    creation = JobCreation::AlreadyExisted;
                } else {
                    world
                        .jobs
                        .insert(request.job_name.clone(), JobState::Active);
                    world.created.push(request.clone());
                }
            });
            Ok(creation)
        })
    }

    fn stop_backup_job<'a>(
        &'a self,
        _: &'a ClusterKey,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            self.update(|world| {
                world.jobs.remove(job_name);
            });
            Ok(())
        })
    }
}

impl BackupStatusWriter for FakeCluster {
    fn write_backup_status<'a>(
        &'a self,
        _: &'a ClusterKey,
        status: &'a BackupStatus,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        self.update(|world| {
            // A status patch changes the object, so the supervisor's next lock write must re-read.
            world.resource_version += 1;
            world.backup_status = Some(status.clone());
            world.conditions.extend(conditions.iter().cloned());
        });
        ready(Ok(()))
    }
}

impl EventRecorder for FakeCluster {
    fn record<'a>(
        &'a self,
        _: &'a ClusterKey,
        event: &'a ClusterEvent,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        self.update(|world| world.events.push(event.clone()));
        ready(Ok(()))
    }
}

impl FakeCluster {
    fn touch_series(&self, cluster: &ClusterKey) {
        self.update(|world| {
            if world.removed_series.contains(cluster) {
                world.series_touched_after_removal += 1;
            }
        });
    }
}

impl ActorMetrics for FakeCluster {
    fn message_handled(&self, cluster: &ClusterKey, _: ActorKind, _: Duration) {
        self.touch_series(cluster);
    }
    fn mailbox_depth(&self, cluster: &ClusterKey, _: ActorKind, _: u64) {
        self.touch_series(cluster);
    }
    fn actor_started(&self, cluster: &ClusterKey, actor: ActorKind, mailbox: MailboxGauge) {
        self.touch_series(cluster);
        self.update(|world| {
            world.started.push(actor);
            if world.mailboxes.insert(actor, mailbox).is_some() {
                world.started_without_stop += 1;
            }
        });
    }
    fn actor_stopped(&self, _: &ClusterKey, actor: ActorKind) {
        self.update(|world| {
            world.mailboxes.remove(&actor);
        });
    }
    fn actor_restarted(&self, _: &ClusterKey, actor: ActorKind) {
        self.update(|world| world.restarts.push(actor));
    }
    fn remove_cluster(&self, cluster: &ClusterKey) {
        let cluster = cluster.clone();
        self.update(|world| {
            world.removed_series.push(cluster);
            world.mailboxes.clear();
        });
    }
}

/// A cluster created on 2026-01-01 with a daily 03:00 UTC schedule and a one-hour starting deadline.
pub fn cluster(
    suspend: bool,
    trigger: Option<&str>,
    status_backup: Option<serde_json::Value>,
) -> OpenBaoCluster {
    let mut value = serde_json::json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoCluster",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "resourceVersion": "1",
        },
        "spec": {
            "version": "2.7.2",
            "backup": {
                "schedule": "0 3 * * *",
                "suspend": suspend,
                "target": { "provider": "s3", "bucket": "backups" },
                "auth": { "jwt": { "role": "backup" } },
            },
        },
    });
    if let Some(token) = trigger {
        value["metadata"]["annotations"] =
            serde_json::json!({ "openbao.org/trigger-backup": token });
    }
    if let Some(backup) = status_backup {
        value["status"] = serde_json::json!({ "backup": backup });
    }
    serde_json::from_value(value).expect("valid OpenBaoCluster")
}

/// A finished Job whose executor reported success for `key`.
pub fn succeeded(job_name: &str, key: &str, finished_at: DateTime<Utc>) -> JobObservation {
    JobObservation {
        job_name: job_name.to_string(),
        state: JobState::Succeeded {
            finished_at,
            termination_message: Some(
                serde_json::json!({
                    "outcome": "succeeded",
                    "key": key,
                    "size": 4096,
                    "digest": "sha256:0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f",
                    "operation": "backup",
                    "created": (finished_at - chrono::Duration::seconds(40)).to_rfc3339(),
                    "durationSeconds": 40,
                })
                .to_string(),
            ),
        },
    }
}

pub fn foreign_lock(operation: Operation, holder: &str, epoch: i64) -> openbao_crds::OperationLock {
    openbao_crds::OperationLock {
        operation,
        holder: holder.to_string(),
        message: None,
        acquired_at: at(2, 0),
        renewed_at: None,
        epoch,
    }
}

/// A backup Job's event, as the manager routes it to the supervisor.
pub fn backup_job_observed(job: JobObservation) -> SupervisorMsg {
    SupervisorMsg::JobObserved {
        operation: Operation::Backup,
        job,
    }
}

/// Whether the supervisor's backup child runs, and how often it was restarted.
pub fn backup_child(view: &SupervisorView) -> (bool, u32) {
    let child = view.child(Operation::Backup).expect("a backup child");
    (child.alive, child.restarts)
}

/// The job name of today's 03:00 window.
pub fn todays_window() -> String {
    window_job_name(NAME, at(3, 0))
}

/// Asks the supervisor for the lock as `holder` would.
pub async fn acquire(
    supervisor: &ractor::ActorRef<SupervisorMsg>,
    operation: Operation,
    holder: &str,
) -> LockReply {
    let request = AcquireRequest {
        operation,
        holder: holder.to_string(),
        message: String::new(),
        override_existing: false,
    };
    ractor::call_t!(
        supervisor,
        |reply| SupervisorMsg::AcquireLock { request, reply },
        10_000
    )
    .expect("supervisor answers")
}

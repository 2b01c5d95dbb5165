//! In-memory fakes of the restore actor's effects ([`RestoreEffects`]), all on the one `World` of the
//! [`FakeCluster`]: the watch cache of `OpenBaoRestore` objects, and a log of every call the actor makes (status
//! writes, finalizer changes, events, Job creations, the cluster's `Restoring` condition, metrics) in the order it
//! made them, so tests count side effects and check their order.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use openbao_actors::backup::effects::JobCreation;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::{ConditionUpdate, EffectError, JobObservation, JobState};
use openbao_actors::manager::ManagerMsg;
use openbao_actors::restore::FINALIZER;
use openbao_actors::restore::RestoreEffects;
use openbao_actors::restore::effects::{
    ClusterConditionWriter, RestoreEventReason, RestoreJobKind, RestoreJobRequest, RestoreJobs,
    RestoreMetricOutcome, RestoreMetrics, RestoreRequests, RestoreWriter,
};
use openbao_actors::restore::plan::{preflight_job_name, restore_job_name};
use openbao_crds::conditions::{ClusterConditionType, ConditionStatus, RestoreConditionType};
use openbao_crds::{
    OpenBaoCluster, OpenBaoRestore, OpenBaoRestoreStatus, Operation, RestorePhase, SnapshotInfo,
};
use ractor::ActorRef;

use super::{FakeCluster, NAME, NAMESPACE, at, cluster, foreign_lock, key, ready, start_manager};

/// One call of the restore actor into its effects, in the order it happened.
#[derive(Debug, Clone)]
pub enum RestoreCall {
    Status {
        request: String,
        status: OpenBaoRestoreStatus,
        /// `status.operationLock.holder` when the status was written.
        lock_holder: Option<String>,
    },
    Finalizer {
        request: String,
        present: bool,
    },
    Event {
        request: String,
        reason: RestoreEventReason,
        message: String,
    },
    CreateJob {
        request: String,
        job_name: String,
        kind: RestoreJobKind,
        /// `false`: a Job of that name existed already.
        created: bool,
    },
    ClusterConditions(Vec<ConditionUpdate>),
}

/// The restore side of the fake world.
#[derive(Debug, Default)]
pub struct RestoreWorld {
    /// The `OpenBaoRestore` objects as the watch cache holds them (status writes and finalizers land here).
    pub requests: Vec<Arc<OpenBaoRestore>>,
    pub calls: Vec<RestoreCall>,
    pub finished: Vec<(RestoreMetricOutcome, Option<Duration>)>,
    pub running: Vec<bool>,
    /// Refuses the next finalizer change with this error (e.g. the request is being deleted).
    pub finalizer_error: Option<EffectError>,
}

impl RestoreWorld {
    pub fn request(&self, name: &str) -> Option<&OpenBaoRestore> {
        self.requests
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .map(|r| r.as_ref())
    }

    pub fn status(&self, name: &str) -> OpenBaoRestoreStatus {
        self.request(name)
            .and_then(|r| r.status.clone())
            .unwrap_or_default()
    }

    pub fn phase(&self, name: &str) -> Option<RestorePhase> {
        self.status(name).phase
    }

    pub fn condition(&self, name: &str, type_: RestoreConditionType) -> Option<Condition> {
        self.status(name)
            .conditions
            .into_iter()
            .find(|c| c.type_ == type_.as_str())
    }

    pub fn has_finalizer(&self, name: &str) -> bool {
        self.request(name).is_some_and(|r| {
            r.metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == FINALIZER)
        })
    }

    /// Every Job creation call: `(job name, kind)`, whether or not the Job existed already.
    pub fn creations(&self) -> Vec<(String, RestoreJobKind)> {
        self.calls
            .iter()
            .filter_map(|call| match call {
                RestoreCall::CreateJob { job_name, kind, .. } => {
                    Some((job_name.clone(), kind.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Creation calls of destructive restore Jobs.
    pub fn restore_creations(&self) -> usize {
        self.creations()
            .iter()
            .filter(|(_, kind)| matches!(kind, RestoreJobKind::Restore { .. }))
            .count()
    }

    pub fn events(&self, name: &str, reason: RestoreEventReason) -> Vec<String> {
        self.calls
            .iter()
            .filter_map(|call| match call {
                RestoreCall::Event {
                    request,
                    reason: r,
                    message,
                } if request == name && *r == reason => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn count_events(&self, name: &str, reason: RestoreEventReason) -> usize {
        self.events(name, reason).len()
    }

    /// The finalizer changes of `name`, in order (`true`: added).
    pub fn finalizer_changes(&self, name: &str) -> Vec<bool> {
        self.calls
            .iter()
            .filter_map(|call| match call {
                RestoreCall::Finalizer { request, present } if request == name => Some(*present),
                _ => None,
            })
            .collect()
    }

    /// The statuses written for the cluster's `Restoring` condition, in order.
    pub fn restoring(&self) -> Vec<ConditionStatus> {
        self.calls
            .iter()
            .filter_map(|call| match call {
                RestoreCall::ClusterConditions(conditions) => Some(conditions.clone()),
                _ => None,
            })
            .flatten()
            .filter(|c| c.type_ == ClusterConditionType::Restoring)
            .map(|c| c.status)
            .collect()
    }

    pub fn outcomes(&self) -> Vec<RestoreMetricOutcome> {
        self.finished.iter().map(|(outcome, _)| *outcome).collect()
    }

    /// Index of the first call `matches` accepts.
    pub fn position(&self, what: &str, matches: impl Fn(&RestoreCall) -> bool) -> usize {
        self.calls
            .iter()
            .position(matches)
            .unwrap_or_else(|| panic!("no call {what} in {:#?}", self.calls))
    }

    fn replace(&mut self, name: &str, change: impl FnOnce(&mut OpenBaoRestore)) {
        if let Some(slot) = self
            .requests
            .iter_mut()
            .find(|r| r.metadata.name.as_deref() == Some(name))
        {
            let mut request = (**slot).clone();
            change(&mut request);
            *slot = Arc::new(request);
        }
    }
}

/// Whether `call` writes a status of `name` that `check` accepts.
pub fn is_status(
    call: &RestoreCall,
    name: &str,
    check: impl Fn(&OpenBaoRestoreStatus) -> bool,
) -> bool {
    matches!(call, RestoreCall::Status { request, status, .. } if request == name && check(status))
}

fn name_of(request: &OpenBaoRestore) -> String {
    request.metadata.name.clone().unwrap_or_default()
}

/// An `OpenBaoRestore` of the test cluster named `name` with `uid`, created at `created` (RFC 3339), restoring the
/// newest snapshot of the cluster's own backup target, with JWT role `restore`.
pub fn restore_request(name: &str, uid: &str, created: &str, dry_run: bool) -> OpenBaoRestore {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoRestore",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": uid,
            "generation": 1,
            "creationTimestamp": created,
        },
        "spec": {
            "cluster": NAME,
            "source": { "latest": true },
            "auth": { "jwt": { "role": "restore" } },
            "dryRun": dry_run,
        },
    }))
    .expect("valid OpenBaoRestore")
}

pub const SNAPSHOT_KEY: &str = "vault/prod/20260302T030000Z-scheduled-0a1b2c3d.snap";
pub const DIGEST: &str = "sha256:0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";

/// The preflight Job of the request with `uid` succeeded: its dry-run report pins [`SNAPSHOT_KEY`].
pub fn preflight_succeeded(uid: &str, finished_at: DateTime<Utc>) -> JobObservation {
    let report = serde_json::json!({
        "operation": "restore",
        "outcome": "dryRun",
        "key": SNAPSHOT_KEY,
        "digest": DIGEST,
        "size": 4096,
        "clusterId": "c0ffee",
        "version": "2.7.2",
        "created": "2026-03-02T03:00:00Z",
    });
    JobObservation {
        job_name: preflight_job_name(NAME, uid),
        state: JobState::Succeeded {
            finished_at,
            termination_message: Some(report.to_string()),
        },
    }
}

/// The restore Job of the request with `uid` ended with `outcome` (`succeeded`, `succeededSealed`, ...).
pub fn restore_succeeded(uid: &str, outcome: &str, finished_at: DateTime<Utc>) -> JobObservation {
    let report = serde_json::json!({
        "operation": "restore",
        "outcome": outcome,
        "key": SNAPSHOT_KEY,
        "digest": DIGEST,
    });
    JobObservation {
        job_name: restore_job_name(NAME, uid),
        state: JobState::Succeeded {
            finished_at,
            termination_message: Some(report.to_string()),
        },
    }
}

impl FakeCluster {
    /// The restore child's effects, all backed by this fake.
    pub fn restore_effects(self: &Arc<Self>) -> RestoreEffects {
        RestoreEffects {
            requests: self.clone(),
            writer: self.clone(),
            jobs: self.clone(),
            job_reader: self.clone(),
            cluster_conditions: self.clone(),
            metrics: self.clone(),
        }
    }

    /// Puts `request` into the watch cache (as created or as persisted before a restart).
    pub fn add_restore(&self, request: OpenBaoRestore) {
        self.update(|world| {
            let name = name_of(&request);
            if request
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(|p| !p.is_terminal())
            {
                world.active_restores.insert(name);
            }
            world.restore.requests.push(Arc::new(request));
        });
    }
}

impl RestoreRequests for FakeCluster {
    fn requests_for(&self, cluster: &ClusterKey) -> Vec<Arc<OpenBaoRestore>> {
        self.world()
            .restore
            .requests
            .iter()
            .filter(|r| {
                r.metadata.namespace.as_deref() == Some(cluster.namespace.as_str())
                    && r.spec.cluster == cluster.name
            })
            .cloned()
            .collect()
    }
}

impl RestoreWriter for FakeCluster {
    fn write_status<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        status: &'a OpenBaoRestoreStatus,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        let name = name_of(request);
        self.update(|world| {
            let lock_holder = world.lock.as_ref().map(|l| l.holder.clone());
            world.restore.calls.push(RestoreCall::Status {
                request: name.clone(),
                status: status.clone(),
                lock_holder,
            });
            world
                .restore
                .replace(&name, |r| r.status = Some(status.clone()));
            // What the lock probe reads after a restart.
            if status.phase.is_some_and(RestorePhase::is_terminal) {
                world.active_restores.remove(&name);
            } else {
                world.active_restores.insert(name.clone());
            }
        });
        ready(Ok(()))
    }

    fn set_finalizer<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        present: bool,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        let name = name_of(request);
        if let Some(error) = self.world().restore.finalizer_error.take() {
            return Box::pin(async move { Err(error) });
        }
        self.update(|world| {
            world.restore.calls.push(RestoreCall::Finalizer {
                request: name.clone(),
                present,
            });
            world.restore.replace(&name, |r| {
                let finalizers = r.metadata.finalizers.get_or_insert_with(Vec::new);
                finalizers.retain(|f| f != FINALIZER);
                if present {
                    finalizers.push(FINALIZER.to_string());
                }
                if finalizers.is_empty() {
                    r.metadata.finalizers = None;
                }
            });
        });
        ready(Ok(()))
    }

    fn record_event<'a>(
        &'a self,
        request: &'a OpenBaoRestore,
        reason: RestoreEventReason,
        message: String,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        let request = name_of(request);
        self.update(|world| {
            world.restore.calls.push(RestoreCall::Event {
                request,
                reason,
                message,
            })
        });
        ready(Ok(()))
    }
}

impl RestoreJobs for FakeCluster {
    fn create_restore_job<'a>(
        &'a self,
        _: &'a OpenBaoCluster,
        request: &'a OpenBaoRestore,
        job: &'a RestoreJobRequest,
    ) -> BoxFuture<'a, Result<JobCreation, EffectError>> {
        let mut creation = JobCreation::Created;
        self.update(|world| {
            let created = !world.jobs.contains_key(&job.job_name);
            if created {
                world.jobs.insert(job.job_name.clone(), JobState::Active);
            } else {
                creation = JobCreation::AlreadyExisted;
            }
            world.restore.calls.push(RestoreCall::CreateJob {
                request: name_of(request),
                job_name: job.job_name.clone(),
                kind: job.kind.clone(),
                created,
            });
        });
        ready(Ok(creation))
    }
}

impl ClusterConditionWriter for FakeCluster {
    fn write_cluster_conditions<'a>(
        &'a self,
        _: &'a ClusterKey,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        self.update(|world| {
            world
                .restore
                .calls
                .push(RestoreCall::ClusterConditions(conditions.to_vec()))
        });
        ready(Ok(()))
    }
}

impl RestoreMetrics for FakeCluster {
    fn restore_running(&self, _: &ClusterKey, running: bool) {
        self.update(|world| world.restore.running.push(running));
    }

    fn restore_finished(
        &self,
        _: &ClusterKey,
        outcome: RestoreMetricOutcome,
        duration: Option<Duration>,
    ) {
        self.update(|world| world.restore.finished.push((outcome, duration)));
    }
}

/// The manager with the test cluster (scheduled backups suspended, so only restores and the manual backup for
/// `trigger` take the lock), and the fake behind it.
pub struct RestoreFlow {
    pub fake: Arc<FakeCluster>,
    pub manager: ActorRef<ManagerMsg>,
}

impl RestoreFlow {
    pub async fn start(fake: &Arc<FakeCluster>, trigger: Option<&str>) -> Self {
        let manager = start_manager(fake).await;
        let cluster = Arc::new(cluster(true, trigger, None));
        manager.cast(ManagerMsg::ClusterObserved(cluster)).unwrap();
        Self {
            fake: fake.clone(),
            manager,
        }
    }

    /// A new `OpenBaoRestore` appears in the watch cache.
    pub fn create(&self, name: &str, uid: &str, created: &str, dry_run: bool) {
        self.fake
            .add_restore(restore_request(name, uid, created, dry_run));
        self.manager
            .cast(ManagerMsg::RestoresChanged(key()))
            .unwrap();
    }

    /// A Job of `operation` changed, as the Job watcher reports it.
    pub fn observe_job(&self, operation: Operation, job: JobObservation) {
        self.fake.update(|w| {
            w.jobs.insert(job.job_name.clone(), job.state.clone());
        });
        let cluster = key();
        let message = ManagerMsg::JobObserved {
            cluster,
            operation,
            job,
        };
        self.manager.cast(message).unwrap();
    }

    pub fn observe(&self, job: JobObservation) {
        self.observe_job(Operation::Restore, job);
    }
}

/// `name` as persisted by an operator that wrote the receipt (Running, jobName, finalizer) and then stopped,
/// holding the lock under epoch 3; returns the restore Job's name.
pub fn persisted_running(fake: &FakeCluster, name: &str, uid: &str) -> String {
    let job = restore_job_name(NAME, uid);
    let mut request = restore_request(name, uid, "2026-03-02T03:50:00Z", false);
    request.metadata.finalizers = Some(vec![FINALIZER.into()]);
    request.status = Some(OpenBaoRestoreStatus {
        phase: Some(RestorePhase::Running),
        job_name: Some(job.clone()),
        snapshot: Some(SnapshotInfo {
            key: SNAPSHOT_KEY.into(),
            digest: Some(DIGEST.into()),
            size: Some(4096),
            ..SnapshotInfo::default()
        }),
        start_time: Some(at(3, 50)),
        ..OpenBaoRestoreStatus::default()
    });
    let holder = format!("restore/{name}");
    fake.update(|w| {
        w.lock = Some(foreign_lock(Operation::Restore, &holder, 3));
        w.last_epoch = 3;
    });
    fake.add_restore(request);
    job
}

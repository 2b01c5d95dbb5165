//! kube-runtime reflectors on OpenBaoCluster, OpenBaoRestore, backup Jobs and StatefulSets. Their caches run on
//! every replica (so a new leader starts warm); their events reach the actors only through the [`ManagerSlot`].

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::{JobObservation, JobState};
use openbao_actors::manager::ManagerMsg;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, Operation};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::effects::{JobReader, KubeRestoreWriter};
use super::job_state::executor_job_owner;
use super::manager_slot::ManagerSlot;
use super::orphan_restores;
use crate::jobs::{MANAGED_BY_LABEL, managed_by_selector};
use crate::metrics::OperatorMetrics;

#[derive(Clone)]
pub struct Caches {
    pub clusters: Store<OpenBaoCluster>,
    pub restores: Store<OpenBaoRestore>,
    pub jobs: Store<Job>,
    pub stateful_sets: Store<StatefulSet>,
    synced: watch::Receiver<bool>,
}

impl Caches {
    /// The caches, and the task that marks them synced once every one has listed.
    ///
    /// A `Store`'s readiness wakes only the task that polled it last (it is a oneshot underneath), so two tasks
    /// awaiting it together can leave one asleep for good: a restarted replica that led at once hung that way in
    /// the readiness probe's shadow. One task awaits the stores; everyone else waits on this channel.
    fn new(
        clusters: Store<OpenBaoCluster>,
        restores: Store<OpenBaoRestore>,
        jobs: Store<Job>,
        stateful_sets: Store<StatefulSet>,
    ) -> (Self, JoinHandle<()>) {
        let (mark, synced) = watch::channel(false);
        let stores = (
            clusters.clone(),
            restores.clone(),
            jobs.clone(),
            stateful_sets.clone(),
        );
        let task = tokio::spawn(async move {
            let (clusters, restores, jobs, stateful_sets) = stores;
            let ready = clusters.wait_until_ready().await.is_ok()
                && restores.wait_until_ready().await.is_ok()
                && jobs.wait_until_ready().await.is_ok()
                && stateful_sets.wait_until_ready().await.is_ok();
            let _ = mark.send(ready);
        });
        let caches = Self {
            clusters,
            restores,
            jobs,
            stateful_sets,
            synced,
        };
        (caches, task)
    }

    /// Resolves when every cache has listed once (`false` if a cache stopped before that). Any number of tasks
    /// may wait at once.
    pub async fn synced(&self) -> bool {
        self.synced.clone().wait_for(|synced| *synced).await.is_ok()
    }
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Drops what no consumer reads before an object is cached: managedFields and the last-applied annotation
/// are often larger than the rest of the object, and every cached object lives as long as the operator.
fn trim_metadata<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Backup Jobs are read for labels and status only; the Pod template is most of their size.
fn trim_job(job: &mut Job) {
    trim_metadata(job);
    if let Some(spec) = job.spec.as_mut() {
        spec.template = Default::default();
    }
}

/// A reflected watch stream with kube's default backoff; errors are logged and the stream carries on.
/// `trim` runs on every object before it is cached or routed.
fn reflected<K>(
    api: Api<K>,
    config: watcher::Config,
    trim: fn(&mut K),
) -> (Store<K>, impl Stream<Item = Event<K>> + Send + 'static)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store();
    (store, reflected_into(writer, api, config, trim))
}

/// [`reflected`] into a store made earlier (one the actors' effects already hold).
fn reflected_into<K>(
    writer: Writer<K>,
    api: Api<K>,
    config: watcher::Config,
    trim: fn(&mut K),
) -> impl Stream<Item = Event<K>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let watched = watcher::watcher(api, config).default_backoff().modify(trim);
    reflector::reflector(writer, watched).filter_map(move |result| {
        let kind = kind.clone();
        async move {
            result
                .inspect_err(|error| tracing::warn!(%kind, %error, "watch failed; retrying"))
                .ok()
        }
    })
}

/// What the watchers feed besides their own caches.
pub struct Routing {
    /// The OpenBaoCluster cache, created before the watchers so the actors' effects can read it.
    pub cluster_writer: Writer<OpenBaoCluster>,
    /// The OpenBaoRestore cache, which the restore actors read.
    pub restore_writer: Writer<OpenBaoRestore>,
    /// The StatefulSet cache, which the upgrade actors read.
    pub stateful_set_writer: Writer<StatefulSet>,
    /// Fails requests that name a cluster which does not exist.
    pub restore_failures: KubeRestoreWriter,
    /// The operations a child owns: only their Jobs are routed (and only their finished Jobs' Pods are read).
    pub job_operations: HashSet<Operation>,
}

/// Starts the four reflectors and the tasks that route their events.
pub fn start(
    client: &kube::Client,
    namespace: Option<&str>,
    slot: Arc<ManagerSlot>,
    metrics: Arc<OperatorMetrics>,
    routing: Routing,
) -> (Caches, Vec<JoinHandle<()>>) {
    let clusters = routing.cluster_writer.as_reader();
    let cluster_events = reflected_into(
        routing.cluster_writer,
        api::<OpenBaoCluster>(client, namespace),
        watcher::Config::default(),
        trim_metadata,
    );
    let job_operations = routing.job_operations;
    let restores = routing.restore_writer.as_reader();
    let restore_events = reflected_into(
        routing.restore_writer,
        api::<OpenBaoRestore>(client, namespace),
        watcher::Config::default(),
        trim_metadata,
    );
    let jobs_config = watcher::Config::default().labels(&managed_by_selector());
    let (jobs, job_events) = reflected(api::<Job>(client, namespace), jobs_config, trim_job);
    // The OpenBao StatefulSets come from elsewhere (e.g. a Helm chart): any `managed-by` value is selected.
    let sts_config = watcher::Config::default().labels(MANAGED_BY_LABEL);
    let stateful_sets = routing.stateful_set_writer.as_reader();
    let sts_events = reflected_into(
        routing.stateful_set_writer,
        api::<StatefulSet>(client, namespace),
        sts_config,
        trim_metadata,
    );

    let reader = JobReader::new(client.clone());
    let (caches, sync_task) = Caches::new(clusters.clone(), restores, jobs, stateful_sets);
    let tasks = vec![
        sync_task,
        tokio::spawn(route_clusters(cluster_events, slot.clone(), metrics)),
        tokio::spawn(route_jobs(job_events, slot.clone(), reader, job_operations)),
        tokio::spawn(orphan_restores::route(
            restore_events,
            slot.clone(),
            clusters.clone(),
            Arc::new(routing.restore_failures),
        )),
        tokio::spawn(drain(sts_events)),
    ];
    (caches, tasks)
}

/// Keeps a cache-only reflector running (its consumers read the store).
async fn drain<K>(events: impl Stream<Item = Event<K>>) {
    events.for_each(|_| async {}).await;
}

async fn route_clusters(
    events: impl Stream<Item = Event<OpenBaoCluster>>,
    slot: Arc<ManagerSlot>,
    metrics: Arc<OperatorMetrics>,
) {
    let mut events = std::pin::pin!(events);
    // Clusters known before a re-list; one missing from the new list was deleted while the watch was down.
    let mut known: HashSet<ClusterKey> = HashSet::new();
    let mut relisted: HashSet<ClusterKey> = HashSet::new();
    while let Some(event) = events.next().await {
        match event {
            Event::Init => relisted.clear(),
            Event::InitApply(cluster) | Event::Apply(cluster) => {
                let Some(key) = ClusterKey::of(&cluster) else {
                    continue;
                };
                metrics.observe_cluster(&cluster);
                relisted.insert(key.clone());
                known.insert(key);
                slot.send(ManagerMsg::ClusterObserved(Arc::new(cluster)));
            }
            Event::InitDone => {
                for gone in known.difference(&relisted) {
                    metrics.forget_cluster(gone);
                    slot.send(ManagerMsg::ClusterDeleted(gone.clone()));
                }
                known = std::mem::take(&mut relisted);
            }
            Event::Delete(cluster) => {
                if let Some(key) = ClusterKey::of(&cluster) {
                    known.remove(&key);
                    metrics.forget_cluster(&key);
                    slot.send(ManagerMsg::ClusterDeleted(key));
                }
            }
        }
    }
}

async fn route_jobs(
    events: impl Stream<Item = Event<Job>>,
    slot: Arc<ManagerSlot>,
    reader: JobReader,
    operations: HashSet<Operation>,
) {
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        let (job, deleted) = match event {
            Event::InitApply(job) | Event::Apply(job) => (job, false),
            Event::Delete(job) => (job, true),
            Event::Init | Event::InitDone => continue,
        };
        if !slot.is_running() {
            continue;
        }
        if let Some(message) = job_message(&reader, &job, deleted, &operations).await {
            slot.send(message);
        }
    }
}

/// The manager message for an event of a Job whose operation a child owns; reads the report of a finished Job.
pub async fn job_message(
    reader: &JobReader,
    job: &Job,
    deleted: bool,
    operations: &HashSet<Operation>,
) -> Option<ManagerMsg> {
    let (cluster, operation) = executor_job_owner(job)?;
    if !operations.contains(&operation) {
        return None;
    }
    let job_name = job.metadata.name.clone()?;
    let state = if deleted {
        JobState::Missing
    } else {
        reader.state_of(job).await
    };
    Some(ManagerMsg::JobObserved {
        cluster,
        operation,
        job: JobObservation { job_name, state },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    /// The readiness probe and a replica that leads at once wait for the caches together; both must wake.
    #[tokio::test(flavor = "current_thread")]
    async fn every_task_waiting_for_the_caches_wakes_when_they_sync() {
        let (clusters, mut cluster_writer) = reflector::store::<OpenBaoCluster>();
        let (restores, mut restore_writer) = reflector::store::<OpenBaoRestore>();
        let (jobs, mut job_writer) = reflector::store::<Job>();
        let (stateful_sets, mut sts_writer) = reflector::store::<StatefulSet>();
        let (caches, _sync) = Caches::new(clusters, restores, jobs, stateful_sets);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let caches = caches.clone();
                tokio::spawn(async move { caches.synced().await })
            })
            .collect();
        // Every waiter (and the sync task) is parked on the first cache before any cache lists.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        cluster_writer.apply_watcher_event(&Event::InitDone);
        restore_writer.apply_watcher_event(&Event::InitDone);
        job_writer.apply_watcher_event(&Event::InitDone);
        sts_writer.apply_watcher_event(&Event::InitDone);
        for waiter in waiters {
            let synced = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
                .await
                .expect("a waiter was never woken")
                .unwrap();
            assert!(synced);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_cache_that_stops_before_listing_is_never_synced() {
        let (clusters, cluster_writer) = reflector::store::<OpenBaoCluster>();
        let (restores, _restore_writer) = reflector::store::<OpenBaoRestore>();
        let (jobs, _job_writer) = reflector::store::<Job>();
        let (stateful_sets, _sts_writer) = reflector::store::<StatefulSet>();
        let (caches, _sync) = Caches::new(clusters, restores, jobs, stateful_sets);
        drop(cluster_writer);
        assert!(!caches.synced().await);
    }

    #[test]
    fn cached_jobs_keep_labels_and_status_but_not_the_pod_template() {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "prod-backup-1",
                "namespace": "default",
                "labels": {"openbao.org/cluster": "prod"},
                "annotations": {LAST_APPLIED_ANNOTATION: "{}", "keep": "me"},
                "managedFields": [{"manager": "openbao-operator"}],
            },
            "spec": {"backoffLimit": 0, "template": {"spec": {"containers": [{"name": "executor"}]}}},
            "status": {"active": 1},
        }))
        .unwrap();
        trim_job(&mut job);
        assert_eq!(job.metadata.managed_fields, None::<Vec<ManagedFieldsEntry>>);
        let annotations = job.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["keep"]);
        assert_eq!(
            job.metadata.labels.as_ref().unwrap()["openbao.org/cluster"],
            "prod"
        );
        let spec: &JobSpec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert!(spec.template.spec.is_none());
        let status: &JobStatus = job.status.as_ref().unwrap();
        assert_eq!(status.active, Some(1));
    }
}

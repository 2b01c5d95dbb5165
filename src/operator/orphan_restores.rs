//! Routes `OpenBaoRestore` events to the restore actor of the cluster they name, and fails a request whose
//! cluster does not exist: no actor would ever take it, and a request must never wait forever.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::Event;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::manager::ManagerMsg;
use openbao_actors::restore::effects::{RestoreEventReason, RestoreWriter};
use openbao_actors::restore::status::set_condition;
use openbao_crds::conditions::RestoreConditionType;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, RestorePhase};

use super::effects::KubeRestoreWriter;
use super::manager_slot::ManagerSlot;

/// A request and its cluster are often applied together; the cluster's watch event may come a little later.
const CLUSTER_GRACE: Duration = Duration::from_secs(20);

fn cluster_of(request: &OpenBaoRestore) -> Option<ClusterKey> {
    Some(ClusterKey::new(
        request.metadata.namespace.clone()?,
        request.spec.cluster.clone(),
    ))
}

fn cluster_exists(clusters: &Store<OpenBaoCluster>, key: &ClusterKey) -> bool {
    clusters
        .get(&ObjectRef::new(&key.name).within(&key.namespace))
        .is_some()
}

fn is_open(request: &OpenBaoRestore) -> bool {
    !request
        .status
        .as_ref()
        .and_then(|status| status.phase)
        .is_some_and(RestorePhase::is_terminal)
}

pub async fn route(
    events: impl Stream<Item = Event<OpenBaoRestore>>,
    slot: Arc<ManagerSlot>,
    clusters: Store<OpenBaoCluster>,
    failures: Arc<KubeRestoreWriter>,
) {
    let mut events = std::pin::pin!(events);
    let checking: Arc<Mutex<HashSet<String>>> = Arc::default();
    while let Some(event) = events.next().await {
        let request = match event {
            Event::InitApply(request) | Event::Apply(request) | Event::Delete(request) => request,
            Event::Init | Event::InitDone => continue,
        };
        let Some(key) = cluster_of(&request) else {
            continue;
        };
        if !slot.is_running() {
            continue;
        }
        slot.send(ManagerMsg::RestoresChanged(key.clone()));
        let Some(uid) = request.metadata.uid.clone() else {
            continue;
        };
        if !is_open(&request) || cluster_exists(&clusters, &key) {
            continue;
        }
        if !checking
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uid.clone())
        {
            continue;
        }
        let (slot, clusters, failures, checking) = (
            slot.clone(),
            clusters.clone(),
            failures.clone(),
            checking.clone(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(CLUSTER_GRACE).await;
            if slot.is_running() && !cluster_exists(&clusters, &key) {
                fail_orphan(&failures, &request, &key).await;
            }
            checking
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&uid);
        });
    }
}

async fn fail_orphan(writer: &KubeRestoreWriter, request: &OpenBaoRestore, key: &ClusterKey) {
    let now = chrono::Utc::now();
    let message = format!(
        "OpenBaoCluster {} does not exist in namespace {}: spec.cluster must name an OpenBaoCluster in the \
         request's namespace; create a new OpenBaoRestore once it exists",
        key.name, key.namespace
    );
    let mut status = request.status.clone().unwrap_or_default();
    status.phase = Some(RestorePhase::Failed);
    status.start_time.get_or_insert(now);
    status.completion_time = Some(now);
    status.message = Some(message.clone());
    status.observed_generation = request.metadata.generation;
    set_condition(
        &mut status,
        RestoreConditionType::Validated,
        false,
        "ClusterNotFound",
        &message,
        now,
    );
    set_condition(
        &mut status,
        RestoreConditionType::RestoreComplete,
        false,
        "ClusterNotFound",
        &message,
        now,
    );
    tracing::warn!(cluster = %key, restore = request.metadata.name.as_deref().unwrap_or_default(),
        "restore request names a cluster that does not exist");
    if let Err(error) = writer.write_status(request, &status).await {
        tracing::warn!(cluster = %key, %error, "could not fail the restore request");
        return;
    }
    let _ = writer
        .record_event(
            request,
            RestoreEventReason::RestoreFailed,
            format!("ClusterNotFound: {message}"),
        )
        .await;
}

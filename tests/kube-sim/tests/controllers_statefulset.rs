//! StatefulSet rollout against the real simulator: Pods are simulated, and the test plays the workload through the
//! `on_pod_replaced` hook (deciding when each new Pod is Ready) or the ready annotation.

mod controllers_support;

use controllers_support::{start, start_with, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::conditions;
use kube_sim::controllers::{PodReplaced, READY_ANNOTATION};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

/// A new Pod the hook reported, and the switch that makes it Ready.
struct Started {
    event: PodReplaced,
    ready: oneshot::Sender<()>,
}

impl Started {
    fn release(self) -> PodReplaced {
        let _ = self.ready.send(());
        self.event
    }
}

fn statefulset(strategy: serde_json::Value) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "bao", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "serviceName": "bao-internal",
            "selector": {"matchLabels": {"app": "bao"}},
            "updateStrategy": strategy,
            "template": {
                "metadata": {"labels": {"app": "bao"}},
                "spec": {"containers": [{"name": "openbao", "image": "quay.io/openbao/openbao:2.6.0"}]}
            }
        }
    }))
    .unwrap()
}

fn status_of(set: Option<&StatefulSet>) -> Option<&k8s_openapi::api::apps::v1::StatefulSetStatus> {
    set.and_then(|set| set.status.as_ref())
}

fn revision_of(pod: &Pod) -> String {
    pod.metadata.labels.as_ref().unwrap()["controller-revision-hash"].clone()
}

async fn next_started(started: &mut mpsc::UnboundedReceiver<Started>) -> Started {
    tokio::time::timeout(controllers_support::DEADLINE, started.recv())
        .await
        .expect("a StatefulSet Pod started in time")
        .expect("the hook channel is open")
}

#[tokio::test]
async fn rolling_update_replaces_one_pod_at_a_time_from_the_top_and_honours_the_partition() {
    let (started_tx, mut started) = mpsc::unbounded_channel::<Started>();
    let cluster = start_with(move |config| {
        config.on_pod_replaced(move |event| {
            let (ready, ready_rx) = oneshot::channel();
            let _ = started_tx.send(Started { event, ready });
            async move {
                let _ = ready_rx.await;
            }
        })
    })
    .await;
    let sets = cluster.api::<StatefulSet>("default");
    let pods = cluster.api::<Pod>("default");
    sets.create(
        &PostParams::default(),
        &statefulset(json!({"type": "RollingUpdate"})),
    )
    .await
    .unwrap();

    // OrderedReady: each Pod starts only once the one before it is Ready.
    let mut creation_order = Vec::new();
    for _ in 0..3 {
        let next = next_started(&mut started).await;
        assert!(
            started.try_recv().is_err(),
            "the next Pod must wait until this one is Ready"
        );
        creation_order.push(next.release().ordinal);
    }
    assert_eq!(creation_order, [0, 1, 2]);
    let set = wait_for(
        &sets,
        "bao",
        "3 ready replicas",
        |set: Option<&StatefulSet>| {
            status_of(set).is_some_and(|s| {
                s.ready_replicas == Some(3) && s.current_revision == s.update_revision
            })
        },
    )
    .await
    .unwrap();
    let first_revision = set.status.unwrap().update_revision.unwrap();
    assert!(first_revision.starts_with("bao-"));

    let update = json!({"spec": {
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        "template": {"spec": {"containers": [{"name": "openbao", "image": "quay.io/openbao/openbao:2.7.2"}]}}
    }});
    sets.patch("bao", &PatchParams::default(), &Patch::Strategic(&update))
        .await
        .unwrap();

    let replaced_2 = next_started(&mut started).await;
    assert_eq!(replaced_2.event.ordinal, 2);
    let second_revision = replaced_2.event.revision.clone();
    assert_ne!(second_revision, first_revision);
    assert_eq!(
        revision_of(&pods.get("bao-1").await.unwrap()),
        first_revision,
        "bao-1 waits for bao-2"
    );
    assert!(
        started.try_recv().is_err(),
        "nothing else is replaced while bao-2 is not Ready"
    );
    replaced_2.release();

    let replaced_1 = next_started(&mut started).await;
    assert_eq!(
        (replaced_1.event.ordinal, replaced_1.event.revision.as_str()),
        (1, second_revision.as_str())
    );
    replaced_1.release();

    let partitioned = wait_for(
        &sets,
        "bao",
        "2 updated replicas",
        |set: Option<&StatefulSet>| {
            status_of(set)
                .is_some_and(|s| s.updated_replicas == Some(2) && s.ready_replicas == Some(3))
        },
    )
    .await
    .unwrap();
    let status = partitioned.status.unwrap();
    assert_eq!(
        status.current_revision.as_deref(),
        Some(first_revision.as_str())
    );
    assert_eq!(
        status.update_revision.as_deref(),
        Some(second_revision.as_str())
    );
    assert_eq!(status.current_replicas, Some(1));
    assert_eq!(status.observed_generation, partitioned.metadata.generation);
    assert_eq!(
        revision_of(&pods.get("bao-0").await.unwrap()),
        first_revision,
        "below the partition"
    );
    assert!(
        started.try_recv().is_err(),
        "bao-0 is not replaced while the partition is 1"
    );

    let release_partition =
        json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}});
    sets.patch(
        "bao",
        &PatchParams::default(),
        &Patch::Merge(&release_partition),
    )
    .await
    .unwrap();
    let replaced_0 = next_started(&mut started).await;
    assert_eq!(
        (replaced_0.event.ordinal, replaced_0.event.revision.as_str()),
        (0, second_revision.as_str())
    );
    replaced_0.release();
    let done = wait_for(
        &sets,
        "bao",
        "rollout complete",
        |set: Option<&StatefulSet>| {
            status_of(set).is_some_and(|s| {
                s.current_revision == s.update_revision && s.ready_replicas == Some(3)
            })
        },
    )
    .await
    .unwrap();
    let status = done.status.unwrap();
    assert_eq!(
        (
            status.replicas,
            status.current_replicas,
            status.updated_replicas
        ),
        (3, Some(3), Some(3))
    );
    let new_pod = pods.get("bao-0").await.unwrap();
    assert_eq!(
        new_pod.spec.unwrap().containers[0].image.as_deref(),
        Some("quay.io/openbao/openbao:2.7.2")
    );
}

#[tokio::test]
async fn on_delete_replaces_only_deleted_pods_and_readiness_follows_the_annotation() {
    let cluster = start().await;
    let sets = cluster.api::<StatefulSet>("default");
    let pods = cluster.api::<Pod>("default");
    let mut set = statefulset(json!({"type": "OnDelete"}));
    set.spec.as_mut().unwrap().replicas = Some(2);
    sets.create(&PostParams::default(), &set).await.unwrap();
    let ready = wait_for(
        &sets,
        "bao",
        "2 ready replicas",
        |set: Option<&StatefulSet>| status_of(set).is_some_and(|s| s.ready_replicas == Some(2)),
    )
    .await
    .unwrap();
    let first_revision = ready.status.unwrap().current_revision.unwrap();

    let update =
        json!({"spec": {"template": {"metadata": {"labels": {"app": "bao", "rev": "2"}}}}});
    sets.patch("bao", &PatchParams::default(), &Patch::Merge(&update))
        .await
        .unwrap();
    let pending = wait_for(
        &sets,
        "bao",
        "a new update revision",
        |set: Option<&StatefulSet>| {
            status_of(set).is_some_and(|s| s.update_revision != s.current_revision)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        pending.status.unwrap().updated_replicas,
        Some(0),
        "OnDelete replaces nothing by itself"
    );

    let old_pod = pods.get("bao-1").await.unwrap();
    pods.delete("bao-1", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(
        &pods,
        "bao-1",
        "deleted",
        conditions::is_deleted(&old_pod.metadata.uid.clone().unwrap()),
    )
    .await;
    let replacement = wait_for(&pods, "bao-1", "recreated", |pod: Option<&Pod>| {
        pod.is_some_and(|pod| pod.metadata.uid != old_pod.metadata.uid)
    })
    .await
    .unwrap();
    assert_ne!(revision_of(&replacement), first_revision);
    assert_eq!(replacement.metadata.labels.as_ref().unwrap()["rev"], "2");
    assert_eq!(
        revision_of(&pods.get("bao-0").await.unwrap()),
        first_revision
    );

    let not_ready = json!({"metadata": {"annotations": {READY_ANNOTATION: "false"}}});
    pods.patch("bao-0", &PatchParams::default(), &Patch::Merge(&not_ready))
        .await
        .unwrap();
    wait_for(
        &sets,
        "bao",
        "1 ready replica",
        |set: Option<&StatefulSet>| {
            status_of(set)
                .is_some_and(|s| s.ready_replicas == Some(1) && s.updated_replicas == Some(1))
        },
    )
    .await;
}

#[tokio::test]
async fn statefulset_pods_can_run_as_processes_and_keep_their_claims() {
    let cluster = start_with(|config| config.run_statefulset_pods(true)).await;
    let sets = cluster.api::<StatefulSet>("default");
    let pods = cluster.api::<Pod>("default");
    let set: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "worker", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "worker"}},
            "template": {
                "metadata": {"labels": {"app": "worker"}},
                "spec": {"containers": [{
                    "name": "main", "image": controllers_support::TEST_IMAGE,
                    "args": ["fail-once", "/data/marker", "print", "data survived", "sleep-until-killed"],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]
                }]}
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}]
        }
    }))
    .unwrap();
    sets.create(&PostParams::default(), &set).await.unwrap();

    // The first run fails after leaving a marker on its claim and restarts in place (restartPolicy Always).
    let log_file = cluster.log_file("default", "worker-0", "main");
    let first = wait_for(&pods, "worker-0", "restarted once", |pod: Option<&Pod>| {
        pod.and_then(|pod| {
            pod.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()
                .cloned()
        })
        .is_some_and(|container| container.restart_count == 1 && container.ready)
    })
    .await
    .unwrap();
    let claim = &first.spec.as_ref().unwrap().volumes.as_ref().unwrap()[0];
    assert_eq!(
        claim.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-worker-0"
    );
    wait_for_file(
        &log_file,
        "first run: failing\ndata survived\nwaiting for a signal\n",
    )
    .await;

    // A replacement Pod mounts the same claim: the marker is still there, so it does not fail again.
    pods.delete("worker-0", &DeleteParams::default())
        .await
        .unwrap();
    let replacement = wait_for(
        &pods,
        "worker-0",
        "replaced and ready",
        |pod: Option<&Pod>| {
            pod.is_some_and(|pod| {
                pod.metadata.uid != first.metadata.uid
                    && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
        },
    )
    .await
    .unwrap();
    wait_for_file(&log_file, "data survived\nwaiting for a signal\n").await;
    let container = &replacement.status.unwrap().container_statuses.unwrap()[0];
    assert_eq!(container.restart_count, 0);
}

/// Polls a log file until it holds exactly `expected` (the process writes it asynchronously).
async fn wait_for_file(path: &std::path::Path, expected: &str) {
    let deadline = std::time::Instant::now() + controllers_support::DEADLINE;
    loop {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} holds {current:?}, not {expected:?}",
            path.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

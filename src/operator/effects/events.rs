//! Kubernetes Events (events.k8s.io/v1) on the OpenBaoCluster through kube's `Recorder`, which also folds
//! repeats into a series instead of creating a new Event each time.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::{ClusterEvent, EffectError, EventReason, EventRecorder, Related};
use openbao_crds::OpenBaoCluster;

use super::api_error::ApiFailure;
use crate::metrics::OperatorMetrics;

/// The Events API limit on `note`.
const MAX_NOTE_BYTES: usize = 1024;

pub struct KubeEvents {
    recorder: Recorder,
    clusters: Store<OpenBaoCluster>,
    metrics: Arc<OperatorMetrics>,
}

impl KubeEvents {
    pub fn new(
        client: kube::Client,
        instance: Option<String>,
        clusters: Store<OpenBaoCluster>,
        metrics: Arc<OperatorMetrics>,
    ) -> Self {
        let reporter = Reporter {
            controller: "openbao-operator".to_string(),
            instance,
        };
        Self {
            recorder: Recorder::new(client, reporter),
            clusters,
            metrics,
        }
    }

    /// The cluster's reference, with its uid from the cache so `kubectl describe` finds the Event.
    fn reference(&self, cluster: &ClusterKey) -> ObjectReference {
        let key = ObjectRef::<OpenBaoCluster>::new(&cluster.name).within(&cluster.namespace);
        match self.clusters.get(&key) {
            Some(object) => object.object_ref(&()),
            None => ObjectReference {
                api_version: Some(OpenBaoCluster::api_version(&()).into_owned()),
                kind: Some(OpenBaoCluster::kind(&()).into_owned()),
                name: Some(cluster.name.clone()),
                namespace: Some(cluster.namespace.clone()),
                ..ObjectReference::default()
            },
        }
    }
}

/// The Job an event is about, as its related object: it also keeps one Job's events out of another Job's series.
fn related_reference(cluster: &ClusterKey, related: &Related) -> ObjectReference {
    let (api_version, kind, name) = match related {
        Related::Job(name) => ("batch/v1", "Job", name),
        Related::Pod(name) => ("v1", "Pod", name),
    };
    ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(kind.into()),
        name: Some(name.clone()),
        namespace: Some(cluster.namespace.clone()),
        ..ObjectReference::default()
    }
}

/// `message` cut to the API's limit at a character boundary.
pub fn note(message: &str) -> String {
    if message.len() <= MAX_NOTE_BYTES {
        return message.to_string();
    }
    let mut end = MAX_NOTE_BYTES - 3;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

/// The `action` an event's reason belongs to (what the operator was doing).
fn action(reason: EventReason) -> &'static str {
    match reason {
        EventReason::BackupStarted
        | EventReason::BackupCompleted
        | EventReason::BackupFailed
        | EventReason::BackupSkipped => "Backup",
        EventReason::BackupConfigurationInvalid | EventReason::PlainHttpEndpoint => "Validate",
        EventReason::OperationLockBlocked
        | EventReason::OperationLockReleased
        | EventReason::OperationLockOverridden => "OperationLock",
        EventReason::RestoreStarted
        | EventReason::RestoreCompleted
        | EventReason::RestoreFailed => "Restore",
        EventReason::UpgradeStarted
        | EventReason::UpgradeWaitingForLock
        | EventReason::PreUpgradeSnapshotTaken
        | EventReason::PodUpgraded
        | EventReason::UpgradeCompleted
        | EventReason::UpgradeBlocked
        | EventReason::UpgradeFailed
        | EventReason::UpgradeRefused => "Upgrade",
    }
}

impl EventRecorder for KubeEvents {
    fn record<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        event: &'a ClusterEvent,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            if event.reason == EventReason::OperationLockBlocked {
                self.metrics.lock.denied(cluster);
            }
            let published = Event {
                type_: if event.reason.is_warning() {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: event.reason.as_str().to_string(),
                note: Some(note(&event.message)),
                action: action(event.reason).to_string(),
                secondary: event
                    .related
                    .as_ref()
                    .map(|related| related_reference(cluster, related)),
            };
            self.recorder
                .publish(&published, &self.reference(cluster))
                .await
                .map_err(|error| {
                    ApiFailure::from(error).into_effect_error("cannot record an Event")
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        assert_eq!(note("short"), "short");
        let long = "é".repeat(600);
        let cut = note(&long);
        assert!(
            cut.len() <= MAX_NOTE_BYTES && cut.ends_with("..."),
            "{}",
            cut.len()
        );
    }
}

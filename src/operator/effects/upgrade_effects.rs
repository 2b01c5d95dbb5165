//! The upgrade guard's effects on Kubernetes: the OpenBao StatefulSet from the watch cache, its Pods from the API,
//! each Pod's `sys/health` over the Pod network, and the rollout's two moves (patch the image, delete one Pod).
//!
//! `sys/health` is unauthenticated and the probe sends no token. Pod certificates rarely name Pod IPs, so with an
//! `https` endpoint the probe does not verify the certificate: it reads health only, and what it reads can delay
//! a rollout or stop it, never widen what the operator does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::EffectError;
use openbao_actors::upgrade::effects::{
    ClusterReader, Observation, ObservedPod, Workload, WorkloadState,
};
use openbao_actors::upgrade::plan::{PodFacts, RaftFacts, WorkloadFacts};
use openbao_crds::{OpenBaoCluster, ReplacedPod};
use serde::Deserialize;

use super::api_error::ApiFailure;
use super::patch_params;

const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_API_PORT: u16 = 8200;
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// What `sys/health` says of one node (answered with 200 whatever the state, thanks to the query's codes).
#[derive(Debug, Clone, Deserialize)]
struct Health {
    #[serde(default)]
    initialized: bool,
    #[serde(default)]
    sealed: bool,
    #[serde(default)]
    standby: bool,
    #[serde(default)]
    version: Option<String>,
}

pub struct KubeWorkload {
    client: kube::Client,
    stateful_sets: Store<StatefulSet>,
    http: reqwest::Client,
}

impl KubeWorkload {
    pub fn new(client: kube::Client, stateful_sets: Store<StatefulSet>) -> Self {
        // The timeout is set per request too, so even the fallback client cannot hang a look at the workload.
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap_or_default();
        Self {
            client,
            stateful_sets,
            http,
        }
    }

    fn stateful_set(&self, cluster: &OpenBaoCluster) -> Option<Arc<StatefulSet>> {
        let namespace = cluster.metadata.namespace.as_deref()?;
        let name = cluster.stateful_set_name()?;
        self.stateful_sets
            .get(&ObjectRef::new(name).within(namespace))
    }

    async fn health(&self, scheme: &str, port: u16, pod: &Pod) -> Option<Health> {
        let ip = pod.status.as_ref()?.pod_ip.as_deref()?;
        let url = format!(
            "{scheme}://{ip}:{port}/v1/sys/health?standbyok=true&perfstandbyok=true&sealedcode=200\
             &uninitcode=200&drsecondarycode=200"
        );
        let response = self
            .http
            .get(url)
            .timeout(HEALTH_TIMEOUT)
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }
}

/// Scheme and port of the OpenBao API, from the cluster's endpoint (a Pod serves it on the same port).
fn api_scheme_and_port(cluster: &OpenBaoCluster) -> (String, u16) {
    let parsed = cluster
        .endpoint()
        .and_then(|endpoint| reqwest::Url::parse(&endpoint).ok());
    match parsed {
        Some(url) => (
            url.scheme().to_string(),
            url.port().unwrap_or(DEFAULT_API_PORT),
        ),
        None => ("https".to_string(), DEFAULT_API_PORT),
    }
}

fn workload_state(set: &StatefulSet, container: &str) -> WorkloadState {
    let spec = set.spec.as_ref();
    let image = spec
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|pod| pod.containers.iter().find(|c| c.name == container))
        .and_then(|c| c.image.clone());
    WorkloadState {
        facts: WorkloadFacts {
            name: set.name_any(),
            update_strategy: spec
                .and_then(|spec| spec.update_strategy.as_ref())
                .and_then(|strategy| strategy.type_.clone()),
            replicas: spec.and_then(|spec| spec.replicas).unwrap_or(1),
        },
        image,
    }
}

/// The ordinal of a Pod of `set`: its index label, else its name's suffix.
fn ordinal(pod: &Pod, set: &str) -> Option<u32> {
    pod.labels()
        .get(POD_INDEX_LABEL)
        .and_then(|index| index.parse().ok())
        .or_else(|| {
            pod.name_any()
                .strip_prefix(&format!("{set}-"))?
                .parse()
                .ok()
        })
}

fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
}

/// Raft as the Pods' health shows it without a token: a leader when exactly one node is active, every voter
/// healthy when every Pod answers initialized and unsealed.
fn raft_facts(pods: &[ObservedPod], answered_unsealed: usize) -> RaftFacts {
    let active = pods.iter().filter(|pod| pod.facts.active).count();
    RaftFacts {
        has_leader: active == 1,
        all_voters_healthy: !pods.is_empty() && answered_unsealed == pods.len(),
    }
}

impl Workload for KubeWorkload {
    fn observe<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
    ) -> BoxFuture<'a, Result<Observation, EffectError>> {
        Box::pin(async move {
            let Some(set) = self.stateful_set(cluster) else {
                return Ok(Observation {
                    workload: None,
                    pods: Vec::new(),
                    raft: raft_facts(&[], 0),
                });
            };
            let workload = workload_state(&set, &cluster.spec.workload.container_name);
            let namespace = set.namespace().unwrap_or_default();
            let selector: BTreeMap<String, String> = set
                .spec
                .as_ref()
                .and_then(|spec| spec.selector.match_labels.clone())
                .unwrap_or_default();
            let selector = selector
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(",");
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let listed = api
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|error| {
                    ApiFailure::from(error).into_effect_error(format!(
                        "Pods of StatefulSet {namespace}/{}",
                        set.name_any()
                    ))
                })?;
            let set_uid = set.uid();
            let (scheme, port) = api_scheme_and_port(cluster);
            let owned: Vec<(u32, Pod)> = listed
                .items
                .into_iter()
                .filter(|pod| {
                    pod.owner_references()
                        .iter()
                        .any(|owner| Some(&owner.uid) == set_uid.as_ref())
                })
                .filter_map(|pod| Some((ordinal(&pod, &set.name_any())?, pod)))
                .collect();
            // All Pods at once: a dead Pod costs one timeout, not one per Pod.
            let healths = futures::future::join_all(
                owned.iter().map(|(_, pod)| self.health(&scheme, port, pod)),
            )
            .await;
            let mut pods = Vec::new();
            let mut answered_unsealed = 0;
            for ((ordinal, pod), health) in owned.into_iter().zip(healths) {
                let unsealed = health.as_ref().is_some_and(|h| h.initialized && !h.sealed);
                answered_unsealed += usize::from(unsealed);
                pods.push(ObservedPod {
                    facts: PodFacts {
                        name: pod.name_any(),
                        ordinal,
                        ready: is_ready(&pod),
                        sealed: health.as_ref().map(|h| h.sealed || !h.initialized),
                        version: health.as_ref().and_then(|h| h.version.clone()),
                        active: unsealed && health.as_ref().is_some_and(|h| !h.standby),
                    },
                    uid: pod.uid().unwrap_or_default(),
                });
            }
            pods.sort_by_key(|pod| pod.facts.ordinal);
            let raft = raft_facts(&pods, answered_unsealed);
            Ok(Observation {
                workload: Some(workload),
                pods,
                raft,
            })
        })
    }

    fn set_image<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        image: &'a str,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            let namespace = cluster.namespace().unwrap_or_default();
            let name = cluster.stateful_set_name().unwrap_or_default();
            let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &namespace);
            let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [
                {"name": cluster.spec.workload.container_name, "image": image}
            ]}}}});
            api.patch(name, &patch_params(), &Patch::Strategic(&patch))
                .await
                .map(|_| ())
                .map_err(|error| {
                    ApiFailure::from(error)
                        .into_effect_error(format!("image of StatefulSet {namespace}/{name}"))
                })
        })
    }

    fn delete_pod<'a>(
        &'a self,
        cluster: &'a OpenBaoCluster,
        pod: &'a ReplacedPod,
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            let namespace = cluster.namespace().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(pod.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(&pod.name, &params).await {
                Ok(_) => Ok(()),
                Err(error) => match ApiFailure::from(error) {
                    // Gone, or already replaced by a new instance (the uid differs): nothing to delete.
                    ApiFailure::NotFound | ApiFailure::Conflict => Ok(()),
                    other => Err(other.into_effect_error(format!("Pod {namespace}/{}", pod.name))),
                },
            }
        })
    }
}

/// The cluster watch cache, for the upgrade lock's probe.
pub struct CachedClusters(pub Store<OpenBaoCluster>);

impl ClusterReader for CachedClusters {
    fn cluster(&self, key: &ClusterKey) -> Option<Arc<OpenBaoCluster>> {
        self.0
            .get(&ObjectRef::new(&key.name).within(&key.namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, index: Option<&str>) -> Pod {
        let mut labels = serde_json::Map::new();
        if let Some(index) = index {
            labels.insert(POD_INDEX_LABEL.into(), index.into());
        }
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "labels": labels}}))
            .unwrap()
    }

    #[test]
    fn ordinals_come_from_the_index_label_or_the_name() {
        assert_eq!(ordinal(&pod("openbao-2", Some("2")), "openbao"), Some(2));
        assert_eq!(ordinal(&pod("openbao-7", None), "openbao"), Some(7));
        assert_eq!(ordinal(&pod("other-1", None), "openbao"), None);
        assert_eq!(ordinal(&pod("openbao-x", Some("nope")), "openbao"), None);
    }

    #[test]
    fn the_api_port_and_scheme_follow_the_endpoint() {
        let mut cluster = OpenBaoCluster::new("c", openbao_crds::OpenBaoClusterSpec::new("2.7.2"));
        cluster.metadata.namespace = Some("ns".into());
        assert_eq!(api_scheme_and_port(&cluster), ("https".into(), 8200));
        cluster.spec.endpoint = Some("http://openbao.ns.svc:8300".into());
        assert_eq!(api_scheme_and_port(&cluster), ("http".into(), 8300));
    }
}

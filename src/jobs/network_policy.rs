//! `<cluster>-executor`: the NetworkPolicy that confines a cluster's executor Pods (backups and restores). They
//! accept no connection, and reach only DNS, OpenBao's port and the object store's port. NetworkPolicy cannot name
//! hosts, so the ports are the limit: a compromised executor image cannot reach the Kubernetes API, a database or
//! the node's metadata service on any other port.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use openbao_crds::{BackupTarget, OpenBaoCluster};

use super::JobBuildError;
use super::metadata::{CLUSTER_LABEL, ClusterIdentity};

const NAME_LABEL: &str = "app.kubernetes.io/name";
const EXECUTOR_NAME: &str = "openbao-executor";
const DNS_PORT: i32 = 53;
const HTTPS_PORT: i32 = 443;

pub fn executor_network_policy_name(cluster: &str) -> String {
    format!("{cluster}-executor")
}

/// The port an endpoint URL connects to (its own, or its scheme's default).
fn port_of(endpoint: &str) -> Option<i32> {
    let url = reqwest::Url::parse(endpoint).ok()?;
    url.port_or_known_default().map(i32::from)
}

fn store_ports(target: Option<&BackupTarget>) -> BTreeSet<i32> {
    // Without an endpoint the provider's public HTTPS API is used.
    let endpoint = target.and_then(BackupTarget::endpoint);
    BTreeSet::from([endpoint.and_then(port_of).unwrap_or(HTTPS_PORT)])
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some("TCP".into()),
        port: Some(IntOrString::Int(port)),
        end_port: None,
    }
}

/// The policy for the executor Pods of `cluster`, whose store is `targets` (the backup target, a restore's own).
pub fn executor_network_policy(
    cluster: &OpenBaoCluster,
    targets: &[Option<&BackupTarget>],
) -> Result<NetworkPolicy, JobBuildError> {
    let identity = ClusterIdentity::of(cluster)?;
    let openbao_port = cluster
        .endpoint()
        .as_deref()
        .and_then(port_of)
        .unwrap_or(8200);
    let mut ports: BTreeSet<i32> = BTreeSet::from([openbao_port]);
    for target in targets {
        ports.extend(store_ports(*target));
    }
    let dns = NetworkPolicyEgressRule {
        ports: Some(vec![
            NetworkPolicyPort {
                protocol: Some("UDP".into()),
                port: Some(IntOrString::Int(DNS_PORT)),
                end_port: None,
            },
            tcp(DNS_PORT),
        ]),
        to: None,
    };
    let services = NetworkPolicyEgressRule {
        ports: Some(ports.into_iter().map(tcp).collect()),
        to: None,
    };
    Ok(NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(executor_network_policy_name(identity.name)),
            namespace: Some(identity.namespace.to_string()),
            labels: Some(identity.labels()),
            owner_references: Some(vec![identity.owner_reference()]),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(
                    [
                        (NAME_LABEL.to_string(), EXECUTOR_NAME.to_string()),
                        (CLUSTER_LABEL.to_string(), identity.name.to_string()),
                    ]
                    .into(),
                ),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(Vec::new()),
            egress: Some(vec![dns, services]),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(spec: serde_json::Value) -> OpenBaoCluster {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
            "metadata": {"name": "prod", "namespace": "vault", "uid": "u-1"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn egress_ports(policy: &NetworkPolicy) -> Vec<(String, i32)> {
        policy
            .spec
            .as_ref()
            .unwrap()
            .egress
            .as_ref()
            .unwrap()
            .iter()
            .flat_map(|rule| rule.ports.clone().unwrap_or_default())
            .map(|port| {
                let IntOrString::Int(number) = port.port.unwrap() else {
                    panic!("a number")
                };
                (port.protocol.unwrap(), number)
            })
            .collect()
    }

    #[test]
    fn executors_reach_dns_openbao_and_the_store_only_and_accept_nothing() {
        let target = serde_json::from_value::<BackupTarget>(serde_json::json!({
            "provider": "s3", "bucket": "b", "s3": {"endpoint": "https://minio.storage.svc:9000"},
        }))
        .unwrap();
        let policy = executor_network_policy(
            &cluster(serde_json::json!({"version": "2.7.2"})),
            &[Some(&target), None],
        )
        .unwrap();
        assert_eq!(policy.metadata.name.as_deref(), Some("prod-executor"));
        assert_eq!(
            egress_ports(&policy),
            [
                ("UDP".into(), 53),
                ("TCP".into(), 53),
                ("TCP".into(), 443),
                ("TCP".into(), 8200),
                ("TCP".into(), 9000)
            ]
        );
        let spec = policy.spec.as_ref().unwrap();
        assert_eq!(spec.ingress.as_deref(), Some(&[][..]), "no ingress at all");
        let selector = spec
            .pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap();
        assert_eq!(selector["openbao.org/cluster"], "prod");
        assert_eq!(selector["app.kubernetes.io/name"], "openbao-executor");
        assert_eq!(
            policy.metadata.owner_references.as_ref().unwrap()[0].name,
            "prod"
        );
    }

    #[test]
    fn an_explicit_openbao_endpoint_gives_its_port() {
        let policy = executor_network_policy(
            &cluster(serde_json::json!({"version": "2.7.2", "endpoint": "http://127.0.0.1:18200"})),
            &[None],
        )
        .unwrap();
        assert!(egress_ports(&policy).contains(&("TCP".into(), 18200)));
    }
}

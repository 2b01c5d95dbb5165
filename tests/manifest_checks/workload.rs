//! The operator's namespace, pod, metrics Service and NetworkPolicy.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::support::install::{
    METRICS_PORT, OPERATOR_IMAGE, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, install,
    namespaces, network_policies, operator_container, operator_deployment, pod_labels, pod_spec,
    resolve_container_port, selects, services, the_only,
};

#[test]
fn namespace_enforces_the_restricted_pod_security_profile() {
    let install = install();
    let namespace = the_only(namespaces(&install), "Namespace");
    assert_eq!(namespace.metadata.name.as_deref(), Some(OPERATOR_NAMESPACE));
    let labels = namespace.metadata.labels.clone().unwrap_or_default();
    for mode in ["enforce", "audit", "warn"] {
        let key = format!("pod-security.kubernetes.io/{mode}");
        assert_eq!(
            labels.get(&key).map(String::as_str),
            Some("restricted"),
            "label {key}"
        );
    }
}

#[test]
fn namespaced_manifests_live_in_the_operator_namespace() {
    for manifest in install() {
        let metadata = manifest.metadata();
        let expected = if manifest.is_cluster_scoped() {
            None
        } else {
            Some(OPERATOR_NAMESPACE)
        };
        assert_eq!(
            metadata.namespace.as_deref(),
            expected,
            "namespace of {:?}",
            metadata.name
        );
    }
}

#[test]
fn deployment_is_one_recreated_non_root_read_only_pod_with_health_probes() {
    let install = install();
    let deployment = operator_deployment(&install);
    let spec = deployment.spec.as_ref().expect("Deployment spec");
    assert_eq!(spec.replicas, Some(1));
    let strategy = spec.strategy.as_ref().expect("explicit strategy");
    assert_eq!(
        strategy.type_.as_deref(),
        Some("Recreate"),
        "two replicas must never overlap during a rollout"
    );
    assert!(selects(
        &spec.selector.match_labels.clone().unwrap_or_default(),
        &pod_labels(deployment)
    ));

    let pod = pod_spec(deployment);
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some(OPERATOR_SERVICE_ACCOUNT)
    );
    assert_eq!(
        pod.automount_service_account_token,
        Some(true),
        "the operator needs its API token"
    );
    let pod_security = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(pod_security.run_as_user, Some(65532));
    let pod_seccomp = pod_security
        .seccomp_profile
        .as_ref()
        .expect("pod seccompProfile");
    assert_eq!(pod_seccomp.type_, "RuntimeDefault");

    let container = operator_container(deployment);
    assert_eq!(container.image.as_deref(), Some(OPERATOR_IMAGE));
    assert_eq!(
        container.args.as_deref(),
        Some(
            &[
                "run".to_owned(),
                format!("--metrics-addr=0.0.0.0:{METRICS_PORT}")
            ][..]
        )
    );
    let security = container
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_ne!(
        security.run_as_non_root,
        Some(false),
        "the container must not opt out of non-root"
    );
    assert_ne!(security.run_as_user, Some(0));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.privileged, None);
    let capabilities = security.capabilities.as_ref().expect("capabilities");
    assert_eq!(capabilities.drop.as_deref(), Some(&["ALL".to_owned()][..]));
    assert_eq!(capabilities.add, None);

    for (probe, path) in [
        (&container.liveness_probe, "/healthz"),
        (&container.readiness_probe, "/readyz"),
    ] {
        let http = probe
            .as_ref()
            .and_then(|probe| probe.http_get.as_ref())
            .expect("HTTP probe");
        assert_eq!(http.path.as_deref(), Some(path));
        assert_eq!(
            resolve_container_port(container, &http.port),
            METRICS_PORT,
            "probe {path} port"
        );
    }

    let resources = container.resources.as_ref().expect("resources");
    for (what, quantities) in [
        ("requests", &resources.requests),
        ("limits", &resources.limits),
    ] {
        let quantities = quantities
            .as_ref()
            .unwrap_or_else(|| panic!("resource {what}"));
        assert!(
            quantities.contains_key("cpu") && quantities.contains_key("memory"),
            "cpu and memory {what}"
        );
    }

    let env: BTreeMap<&str, _> = container
        .env
        .iter()
        .flatten()
        .map(|var| (var.name.as_str(), var))
        .collect();
    assert!(
        env.get("RUST_LOG")
            .and_then(|var| var.value.as_deref())
            .is_some(),
        "RUST_LOG set"
    );
    let pod_namespace = env
        .get("POD_NAMESPACE")
        .and_then(|var| var.value_from.as_ref())
        .and_then(|source| source.field_ref.as_ref())
        .expect("POD_NAMESPACE from the downward API");
    assert_eq!(pod_namespace.field_path, "metadata.namespace");
}

#[test]
fn metrics_service_and_network_policy_select_the_operator_pod_and_port() {
    let install = install();
    let deployment = operator_deployment(&install);
    let container = operator_container(deployment);
    let labels = pod_labels(deployment);

    let service = the_only(services(&install), "Service");
    let service_spec = service.spec.as_ref().expect("Service spec");
    assert!(
        selects(&service_spec.selector.clone().unwrap_or_default(), &labels),
        "Service selects the operator pod"
    );
    let ports = service_spec.ports.as_deref().unwrap_or_default();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].name.as_deref(), Some("metrics"));
    assert_eq!(ports[0].port, METRICS_PORT);
    let target = ports[0].target_port.as_ref().expect("targetPort");
    assert_eq!(resolve_container_port(container, target), METRICS_PORT);

    let policy = the_only(network_policies(&install), "NetworkPolicy");
    let policy_spec = policy.spec.as_ref().expect("NetworkPolicy spec");
    let pod_selector = policy_spec
        .pod_selector
        .as_ref()
        .and_then(|selector| selector.match_labels.clone());
    assert!(
        selects(&pod_selector.unwrap_or_default(), &labels),
        "NetworkPolicy selects the operator pod"
    );
    let policy_types: BTreeSet<&str> = policy_spec
        .policy_types
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    assert_eq!(policy_types, ["Egress", "Ingress"].into());

    // Ingress: only the metrics port, and only from a namespace selector (the monitoring namespace).
    let ingress = policy_spec.ingress.as_deref().unwrap_or_default();
    assert!(
        !ingress.is_empty(),
        "an Ingress policy without rules would also block metrics"
    );
    for rule in ingress {
        let sources = rule.from.as_deref().unwrap_or_default();
        assert!(
            !sources.is_empty()
                && sources
                    .iter()
                    .all(|peer| peer.namespace_selector.is_some() && peer.ip_block.is_none()),
            "the metrics port is open to a namespace selector only: {sources:?}"
        );
        let ports = rule
            .ports
            .as_deref()
            .expect("every ingress rule is limited to ports");
        for port in ports {
            assert_eq!(port.port, Some(IntOrString::Int(METRICS_PORT)));
            assert_eq!(port.protocol.as_deref(), Some("TCP"));
        }
    }
    // Egress: DNS and the API server ports only.
    let allowed_egress: BTreeSet<(&str, i32)> =
        [("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 6443)].into();
    for rule in policy_spec.egress.iter().flatten() {
        let ports = rule
            .ports
            .as_deref()
            .expect("every egress rule is limited to ports");
        for port in ports {
            let Some(IntOrString::Int(number)) = port.port else {
                panic!("egress port must be a number: {port:?}")
            };
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            assert!(
                allowed_egress.contains(&(protocol, number)),
                "unexpected egress {protocol}/{number}"
            );
        }
    }
}

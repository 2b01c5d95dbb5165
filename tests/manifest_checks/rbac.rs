//! RBAC: no wildcards, no Secrets, leases only in the operator's namespace, bound to the operator's ServiceAccount.
//!
//! Which verbs are granted is not kept here: `tests/operator_rbac_recorded.rs` derives them from a recorded run of
//! the operator on the simulator (every request it made must be granted, every grant must have been requested or
//! be allow-listed with a reason), so widening or narrowing the grants follows the code's API calls.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

use crate::support::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, cluster_role_bindings, cluster_roles, install,
    role_bindings, roles, service_accounts, the_only,
};
use crate::support::typed_manifest::TypedManifest;

fn all_rules(install: &[TypedManifest]) -> Vec<(String, &PolicyRule)> {
    let cluster_rules = cluster_roles(install).into_iter().flat_map(|role| {
        let name = role.metadata.name.clone().unwrap_or_default();
        role.rules
            .iter()
            .flatten()
            .map(move |rule| (format!("ClusterRole {name}"), rule))
    });
    let namespaced_rules = roles(install).into_iter().flat_map(|role| {
        let name = role.metadata.name.clone().unwrap_or_default();
        role.rules
            .iter()
            .flatten()
            .map(move |rule| (format!("Role {name}"), rule))
    });
    cluster_rules.chain(namespaced_rules).collect()
}

/// (API group, resource) → verbs, expanding each rule's groups × resources.
fn grants<'a>(
    rules: impl IntoIterator<Item = &'a PolicyRule>,
) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut granted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                granted
                    .entry((group.clone(), resource.clone()))
                    .or_default()
                    .extend(rule.verbs.iter().cloned());
            }
        }
    }
    granted
}

fn binds_operator(subjects: Option<&Vec<Subject>>) -> bool {
    subjects.is_some_and(|subjects| {
        subjects.len() == 1
            && subjects[0].kind == "ServiceAccount"
            && subjects[0].name == OPERATOR_SERVICE_ACCOUNT
            && subjects[0].namespace.as_deref() == Some(OPERATOR_NAMESPACE)
    })
}

#[test]
fn rbac_has_no_wildcards_and_no_access_to_secrets() {
    let install = install();
    let rules = all_rules(&install);
    assert!(!rules.is_empty());
    for (role, rule) in rules {
        let fields = [
            ("verbs", Some(&rule.verbs)),
            ("resources", rule.resources.as_ref()),
            ("apiGroups", rule.api_groups.as_ref()),
            ("nonResourceURLs", rule.non_resource_urls.as_ref()),
        ];
        for (field, values) in fields {
            assert!(
                !values
                    .into_iter()
                    .flatten()
                    .any(|value| value.contains('*')),
                "{role}: wildcard in {field}: {rule:?}"
            );
        }
        assert!(
            !rule
                .resources
                .iter()
                .flatten()
                .any(|resource| resource.split('/').next() == Some("secrets")),
            "{role}: the operator never reads Secrets, Jobs mount them: {rule:?}"
        );
        assert!(
            rule.non_resource_urls.is_none(),
            "{role}: no non-resource URLs are needed"
        );
    }
}

#[test]
fn the_cluster_role_is_the_only_one_and_not_aggregated() {
    let install = install();
    let cluster_role = the_only(cluster_roles(&install), "ClusterRole");
    assert!(
        cluster_role.aggregation_rule.is_none(),
        "an aggregated role would take grants from elsewhere"
    );
}

#[test]
fn leases_are_granted_only_by_a_role_in_the_operator_namespace() {
    let install = install();
    let cluster_wide = grants(
        cluster_roles(&install)
            .into_iter()
            .flat_map(|role| role.rules.iter().flatten()),
    );
    assert!(
        !cluster_wide
            .keys()
            .any(|(group, _)| group == "coordination.k8s.io"),
        "leases must not be granted cluster-wide"
    );

    let role = the_only(roles(&install), "Role");
    assert_eq!(role.metadata.namespace.as_deref(), Some(OPERATOR_NAMESPACE));
    let namespaced = grants(role.rules.iter().flatten());
    // Which lease verbs leader election needs is derived by tests/operator_rbac_recorded.rs; listing or deleting
    // Leases it never needs.
    let lease_verbs = namespaced
        .get(&("coordination.k8s.io".to_owned(), "leases".to_owned()))
        .expect("the Role grants leases");
    assert!(
        !lease_verbs.contains("delete") && !lease_verbs.contains("list"),
        "leases: {lease_verbs:?}"
    );
    assert_eq!(
        namespaced.len(),
        1,
        "the Role grants leases and nothing else: {namespaced:?}"
    );
}

#[test]
fn bindings_grant_the_roles_to_the_operator_service_account() {
    let install = install();
    let account = the_only(service_accounts(&install), "ServiceAccount");
    assert_eq!(
        account.metadata.name.as_deref(),
        Some(OPERATOR_SERVICE_ACCOUNT)
    );

    let role_ref_to = |kind: &str, name: Option<&String>| RoleRef {
        api_group: "rbac.authorization.k8s.io".to_owned(),
        kind: kind.to_owned(),
        name: name.cloned().expect("role name"),
    };
    let cluster_role = the_only(cluster_roles(&install), "ClusterRole");
    let cluster_binding = the_only(cluster_role_bindings(&install), "ClusterRoleBinding");
    assert_eq!(
        cluster_binding.role_ref,
        role_ref_to("ClusterRole", cluster_role.metadata.name.as_ref())
    );
    assert!(
        binds_operator(cluster_binding.subjects.as_ref()),
        "{:?}",
        cluster_binding.subjects
    );

    let role = the_only(roles(&install), "Role");
    let binding = the_only(role_bindings(&install), "RoleBinding");
    assert_eq!(binding.metadata.namespace, role.metadata.namespace);
    assert_eq!(
        binding.role_ref,
        role_ref_to("Role", role.metadata.name.as_ref())
    );
    assert!(
        binds_operator(binding.subjects.as_ref()),
        "{:?}",
        binding.subjects
    );
}

//! RBAC: least privilege, no wildcards, no Secrets, leases only in the operator's namespace.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

use crate::support::install::{
    OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, cluster_role_bindings, cluster_roles, install,
    role_bindings, roles, service_accounts, the_only,
};
use crate::support::typed_manifest::TypedManifest;

/// What the operator may do cluster-wide, per (API group, resource). Widening it is a deliberate change to this
/// table and to docs/install.md, never a side effect.
const EXPECTED_CLUSTER_GRANTS: &[(&str, &str, &[&str])] = &[
    ("openbao.org", "openbaoclusters", &["get", "list", "watch"]),
    ("openbao.org", "openbaorestores", &["get", "list", "watch", "patch"]),
    ("openbao.org", "openbaoclusters/status", &["patch"]),
    ("openbao.org", "openbaorestores/status", &["patch"]),
    ("openbao.org", "openbaoclusters/finalizers", &["update"]),
    ("openbao.org", "openbaorestores/finalizers", &["update"]),
    ("batch", "jobs", &["create", "get", "list", "watch"]),
    ("", "pods", &["list"]),
    ("", "events", &["create", "patch"]),
    ("events.k8s.io", "events", &["create", "patch"]),
    ("apps", "statefulsets", &["list", "watch"]),
    ("", "serviceaccounts", &["create", "get", "patch"]),
];

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
fn cluster_role_grants_exactly_what_the_controllers_use() {
    let install = install();
    let cluster_role = the_only(cluster_roles(&install), "ClusterRole");
    assert!(
        cluster_role.aggregation_rule.is_none(),
        "an aggregated role would take grants from elsewhere"
    );
    let actual = grants(cluster_role.rules.iter().flatten());
    let expected: BTreeMap<(String, String), BTreeSet<String>> = EXPECTED_CLUSTER_GRANTS
        .iter()
        .map(|(group, resource, verbs)| {
            (
                (group.to_string(), resource.to_string()),
                verbs.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(actual, expected);
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
    let lease_verbs = namespaced
        .get(&("coordination.k8s.io".to_owned(), "leases".to_owned()))
        .expect("the Role grants leases");
    for verb in ["get", "create", "update"] {
        assert!(lease_verbs.contains(verb), "leases verb {verb}");
    }
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

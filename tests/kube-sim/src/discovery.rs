//! Legacy discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`) and `/version`.

use serde_json::{Value, json};

use crate::api::resources::{Registry, ResourceType};

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-kube-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

pub fn groups(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, versions)| group_entry(&name, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let versions = registry.groups().remove(name)?;
    let mut entry = group_entry(name, &versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

fn group_entry(name: &str, versions: &[String]) -> Value {
    let version = |v: &String| json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({
        "name": name,
        "versions": versions.iter().map(version).collect::<Vec<_>>(),
        "preferredVersion": version(&versions[0]),
    })
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    let mut any = false;
    for resource in registry
        .all()
        .filter(|r| r.group == group && r.version(version).is_some())
    {
        any = true;
        resources.push(resource_entry(resource));
        if resource.has_status(version) {
            resources.push(subresource_entry(
                resource,
                "status",
                &["get", "patch", "update"],
                None,
            ));
        }
        for sub in &resource.extra_subresources {
            let entry = match sub.as_str() {
                "log" => subresource_entry(resource, "log", &["get"], None),
                "token" => subresource_entry(
                    resource,
                    "token",
                    &["create"],
                    Some(("authentication.k8s.io", "v1", "TokenRequest")),
                ),
                "scale" => subresource_entry(
                    resource,
                    "scale",
                    &["get", "patch", "update"],
                    Some(("autoscaling", "v1", "Scale")),
                ),
                _ => continue,
            };
            resources.push(entry);
        }
    }
    if !any {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

fn resource_entry(resource: &ResourceType) -> Value {
    let mut entry = json!({
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": VERBS,
    });
    if !resource.short_names.is_empty() {
        entry["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        entry["categories"] = json!(resource.categories);
    }
    entry
}

fn subresource_entry(
    resource: &ResourceType,
    name: &str,
    verbs: &[&str],
    kind: Option<(&str, &str, &str)>,
) -> Value {
    let mut entry = json!({
        "name": format!("{}/{name}", resource.plural),
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": verbs,
    });
    if let Some((group, version, kind)) = kind {
        entry["group"] = json!(group);
        entry["version"] = json!(version);
        entry["kind"] = json!(kind);
    }
    entry
}

//! What an HTTP request addresses: a discovery document or a resource path, plus its query parameters.

use std::collections::BTreeMap;

/// `/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}` and its cluster-scoped and `/apis/{group}` forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Version,
    /// `/api` (legacy core group versions).
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    OpenApiV3Index,
    OpenApiV3 {
        group: String,
        version: String,
    },
    OpenApiV2,
    Jwks,
    OpenIdConfiguration,
    Health,
    /// `/sim/...` test control endpoints.
    Sim(Vec<String>),
    Unknown,
}

pub fn parse_target(path: &str) -> Target {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Target::Version,
        ["api"] => Target::CoreVersions,
        ["apis"] => Target::Groups,
        ["apis", group] => Target::Group(group.to_string()),
        ["api", version] => Target::GroupVersion {
            group: String::new(),
            version: version.to_string(),
        },
        ["apis", group, version] => Target::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["api", version, rest @ ..] => resource_target("", version, rest),
        ["apis", group, version, rest @ ..] => resource_target(group, version, rest),
        ["openapi", "v3"] => Target::OpenApiV3Index,
        ["openapi", "v3", "api", version] => Target::OpenApiV3 {
            group: String::new(),
            version: version.to_string(),
        },
        ["openapi", "v3", "apis", group, version] => Target::OpenApiV3 {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["openapi", "v2"] => Target::OpenApiV2,
        ["openid", "v1", "jwks"] => Target::Jwks,
        [".well-known", "openid-configuration"] => Target::OpenIdConfiguration,
        ["healthz" | "livez" | "readyz", ..] => Target::Health,
        ["sim", rest @ ..] => Target::Sim(rest.iter().map(|s| s.to_string()).collect()),
        _ => Target::Unknown,
    }
}

fn resource_target(group: &str, version: &str, rest: &[&str]) -> Target {
    let resource = |namespace: Option<&str>, parts: &[&str]| {
        Target::Resource(ResourcePath {
            group: group.to_string(),
            version: version.to_string(),
            namespace: namespace.map(str::to_string),
            resource: parts[0].to_string(),
            name: parts.get(1).map(|s| s.to_string()),
            subresource: parts.get(2).map(|s| s.to_string()),
        })
    };
    match rest {
        // `namespaces/{name}/status` and `/finalize` are subresources of a Namespace, anything else nests in it.
        ["namespaces", ns, child, more @ ..] if !matches!(*child, "status" | "finalize") => {
            if more.len() > 2 {
                return Target::Unknown;
            }
            let mut parts = vec![*child];
            parts.extend_from_slice(more);
            resource(Some(ns), &parts)
        }
        parts if !parts.is_empty() && parts.len() <= 3 => resource(None, parts),
        _ => Target::Unknown,
    }
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_string())
}

/// Query parameters (last value wins, like Go's `url.Values.Get`).
#[derive(Debug, Clone, Default)]
pub struct Query(BTreeMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse_target(path) {
            Target::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let pod_log = res("/api/v1/namespaces/ns1/pods/p/log");
        assert_eq!(pod_log.namespace.as_deref(), Some("ns1"));
        assert_eq!(pod_log.resource, "pods");
        assert_eq!(pod_log.subresource.as_deref(), Some("log"));
        let ns_status = res("/api/v1/namespaces/ns1/status");
        assert_eq!(
            (ns_status.resource.as_str(), ns_status.name.as_deref()),
            ("namespaces", Some("ns1"))
        );
        assert_eq!(ns_status.subresource.as_deref(), Some("status"));
        let jobs = res("/apis/batch/v1/namespaces/x/jobs");
        assert_eq!((jobs.group.as_str(), jobs.name), ("batch", None));
        let crd = res("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.b.c");
        assert_eq!(crd.namespace, None);
        assert_eq!(
            parse_target("/apis/batch/v1"),
            Target::GroupVersion {
                group: "batch".into(),
                version: "v1".into()
            }
        );
    }

    #[test]
    fn query_last_value_and_flags() {
        let q = Query::parse(Some("watch=1&limit=5&labelSelector=a%3Db&dryRun="));
        assert!(q.flag("watch"));
        assert_eq!(q.get("labelSelector"), Some("a=b"));
        assert_eq!(q.get("dryRun"), None);
    }
}

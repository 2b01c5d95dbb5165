//! OpenAPI v3 documents, enough for `kubectl apply` (server-side field validation is advertised per PATCH
//! operation) and `kubectl explain`: built-in schemas from k8s-openapi, custom ones from their CRDs.

use serde_json::{Map, Value, json};

use crate::api::resources::{Origin, Registry, ResourceType};

pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let key = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            let url = format!(
                "/openapi/v3/{key}?hash={}",
                hash_of(registry, &group, &version)
            );
            paths.insert(key, json!({"serverRelativeURL": url}));
        }
    }
    json!({"paths": paths})
}

/// Changes whenever the set of resources (or a CRD schema) in the group-version changes, so clients re-fetch.
fn hash_of(registry: &Registry, group: &str, version: &str) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for resource in registry.all().filter(|r| r.group == group) {
        hasher.update(resource.plural.as_bytes());
        if let Some(schema) = resource.version(version).and_then(|v| v.schema.as_ref()) {
            hasher.update(schema.raw.to_string().as_bytes());
        }
    }
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02X}"))
        .collect()
}

pub fn document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<_> = registry
        .all()
        .filter(|r| r.group == group && r.version(version).is_some())
        .collect();
    if resources.is_empty() {
        return None;
    }
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for resource in resources {
        let schema_name = format!(
            "{}.{version}.{}",
            if group.is_empty() { "core" } else { group },
            resource.kind
        );
        let mut schema = match &resource.origin {
            Origin::Builtin { schema, .. } => {
                let mut root = schema();
                for definitions in [
                    take(&mut root, &["components", "schemas"]),
                    take(&mut root, &["$defs"]),
                    take(&mut root, &["definitions"]),
                ] {
                    if let Some(Value::Object(definitions)) = definitions {
                        schemas.extend(definitions);
                    }
                }
                if let Value::Object(map) = &mut root {
                    map.remove("$schema");
                    map.remove("components");
                }
                root
            }
            Origin::Custom { .. } => {
                let mut root = resource
                    .version(version)
                    .and_then(|v| v.schema.as_ref())
                    .map(|s| s.raw.clone())
                    .unwrap_or(json!({"type": "object"}));
                if let Some(properties) = root.get_mut("properties").and_then(Value::as_object_mut)
                {
                    properties.insert("apiVersion".into(), json!({"type": "string"}));
                    properties.insert("kind".into(), json!({"type": "string"}));
                    properties.insert("metadata".into(), json!({"type": "object"}));
                }
                root
            }
        };
        let gvk = json!({"group": group, "version": version, "kind": resource.kind});
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name.clone(), schema);
        add_paths(&mut paths, resource, version, &schema_name, &gvk);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn take(root: &mut Value, path: &[&str]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut node = root;
    for key in parents {
        node = node.get_mut(*key)?;
    }
    node.as_object_mut()?.remove(*last)
}

fn add_paths(
    paths: &mut Map<String, Value>,
    resource: &ResourceType,
    version: &str,
    schema_name: &str,
    gvk: &Value,
) {
    let prefix = if resource.group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{}/{version}", resource.group)
    };
    let base = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{prefix}/{}", resource.plural)
    };
    let reference = json!({"$ref": format!("#/components/schemas/{schema_name}")});
    let body = |types: &[&str]| {
        let content: Map<String, Value> = types
            .iter()
            .map(|t| (t.to_string(), json!({"schema": reference})))
            .collect();
        json!({"content": content, "required": true})
    };
    let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}});
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": true});
    let write_params = json!([
        param("dryRun"),
        param("fieldManager"),
        param("fieldValidation")
    ]);
    let operation = |action: &str, extra: Value| {
        let mut op = json!({
            "operationId": format!("{action}{}", resource.kind),
            "responses": ok,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        });
        if let (Value::Object(op), Value::Object(extra)) = (&mut op, extra) {
            op.extend(extra);
        }
        op
    };
    // Strategic merge patch is deliberately not listed: kubectl then computes apply patches from its compiled-in
    // types (built-ins) or as merge patches (custom resources), like it does against a real server.
    let patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ];
    paths.insert(
        base.clone(),
        json!({
            "get": operation("list", json!({})),
            "post": operation("post", json!({"parameters": write_params, "requestBody": body(&["*/*"])})),
        }),
    );
    let item = json!({
        "get": operation("get", json!({})),
        "put": operation("put", json!({"parameters": write_params, "requestBody": body(&["*/*"])})),
        "patch": operation("patch", json!({"parameters": write_params, "requestBody": body(&patch_types)})),
        "delete": operation("delete", json!({})),
    });
    paths.insert(format!("{base}/{{name}}"), item.clone());
    if resource.has_status(version) {
        paths.insert(format!("{base}/{{name}}/status"), item);
    }
}

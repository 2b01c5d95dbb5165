//! What the request log learns about a request from its HTTP request: the verb from the method (and for a GET the
//! path and `watch` flag), the resource from the path, the name from the path or (for a create) the body, and the
//! client's identity.

use axum::http::Method;
use serde::Deserialize;
use serde_json::Value;

use super::Incoming;
use crate::api::request::{Query, ResourcePath, Target};
use crate::auth::Identity;
use crate::faults::Verb;
use crate::patch::PatchType;
use crate::requests::Received;

/// The verb of a method on a resource path, as the resource handler decides it (a GET is `get` with a name,
/// `watch` with `watch=true|1`, `list` otherwise); `None` for methods no verb has (HEAD, OPTIONS). Derived from the
/// method alone (not from routing), so refused requests such as a PUT on a collection are recorded too.
fn request_verb(method: &Method, path: &ResourcePath, query: &Query) -> Option<Verb> {
    Some(match *method {
        Method::GET if path.name.is_some() => Verb::Get,
        Method::GET if query.flag("watch") => Verb::Watch,
        Method::GET => Verb::List,
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE if path.name.is_some() => Verb::Delete,
        Method::DELETE => Verb::Deletecollection,
        _ => return None,
    })
}

/// A request on a resource path as far as its method, path, headers and query tell; `None` for anything else
/// (discovery, `/sim/...`). Whether it is recorded is the log's decision ([`crate::requests::RequestLog::wants`]).
pub fn received(
    target: &Target,
    method: &Method,
    headers: &axum::http::HeaderMap,
    query: &Query,
) -> Option<Received> {
    let Target::Resource(path) = target else {
        return None;
    };
    let verb = request_verb(method, path, query)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Some(Received {
        verb,
        patch_type: (verb == Verb::Patch)
            .then(|| PatchType::from_content_type(header("content-type").unwrap_or_default()).ok())
            .flatten(),
        group: path.group.clone(),
        version: path.version.clone(),
        resource: path.resource.clone(),
        subresource: path.subresource.clone(),
        namespace: path.namespace.clone(),
        name: path.name.clone(),
        generate_name: None,
        dry_run: query.get("dryRun") == Some("All"),
        user: None,
        user_agent: header("user-agent").map(str::to_string),
    })
}

pub fn username(identity: &Identity) -> String {
    match identity {
        Identity::Admin => "admin".into(),
        Identity::ServiceAccount { namespace, name } => {
            format!("system:serviceaccount:{namespace}:{name}")
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named {
    metadata: NamedMetadata,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct NamedMetadata {
    name: Option<String>,
    generate_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct DeleteBody {
    dry_run: Vec<String>,
}

/// Fills in what only the body tells: a create's name (or generateName) and a delete's `dryRun`. Read here rather
/// than by the handler so that requests refused before the handler decodes the body (injected faults, 415) are
/// recorded with their names too; every step is best effort, since an undecodable body is itself a refusal the
/// log should show.
pub fn read_body(received: &mut Received, request: &Incoming) {
    match received.verb {
        Verb::Create if received.name.is_none() => {
            let content_type = request.header("content-type").unwrap_or("application/json");
            let named: Option<Named> = if content_type.contains("protobuf") {
                crate::protobuf::decode(&request.body)
                    .ok()
                    .and_then(|object: Value| serde_json::from_value(object).ok())
            } else if content_type.contains("cbor") {
                None
            } else if content_type.contains("yaml") {
                serde_norway::from_slice(&request.body).ok()
            } else {
                serde_json::from_slice(&request.body).ok()
            };
            if let Some(named) = named {
                received.name = named.metadata.name.filter(|n| !n.is_empty());
                received.generate_name = named.metadata.generate_name.filter(|n| !n.is_empty());
            }
        }
        Verb::Delete | Verb::Deletecollection if !received.dry_run && !request.body.is_empty() => {
            // kube-rs and client-go send DeleteOptions (with `dryRun: ["All"]`) as the body.
            received.dry_run = serde_json::from_slice::<DeleteBody>(&request.body)
                .is_ok_and(|body| body.dry_run.iter().any(|d| d == "All"));
        }
        _ => {}
    }
}

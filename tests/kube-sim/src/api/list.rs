//! Lists with selectors and `limit`/`continue` pagination.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::meta::{name_of, namespace_of};
use super::selectors::Selectors;
use super::state::{Scope, State};
use super::store::SnapshotError;

pub struct Page {
    pub items: Vec<Arc<Value>>,
    pub resource_version: String,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// One page of matching objects, in key order; the continue token names the last key served and the version of
/// the first page, from whose snapshot every later page is served.
pub fn list(
    state: &State,
    scope: &Scope,
    selectors: &Selectors,
    limit: Option<usize>,
    continue_token: Option<&str>,
) -> ApiResult<Page> {
    let after = continue_token.map(decode_continue).transpose()?;
    let namespace = if scope.resource.namespaced {
        scope.namespace.as_deref()
    } else {
        None
    };
    let resource = scope.group_resource();
    let (objects, resource_version) = match &after {
        None => (
            state.store.list(&resource, namespace),
            state.store.resource_version(),
        ),
        Some(token) => {
            let objects = state
                .store
                .list_at(&resource, namespace, token.resource_version)
                .map_err(|error| match error {
                    SnapshotError::Expired => ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ),
                    SnapshotError::Future => invalid_continue(),
                })?;
            (objects, token.resource_version)
        }
    };
    let matching: Vec<Arc<Value>> = objects
        .into_iter()
        .filter(|o| match &after {
            Some(token) => {
                (namespace_of(o), name_of(o)) > (token.namespace.as_str(), token.name.as_str())
            }
            None => true,
        })
        .filter(|o| selectors.matches(o))
        .collect();
    let resource_version = resource_version.to_string();
    let Some(limit) = limit.filter(|l| *l > 0 && *l < matching.len()) else {
        return Ok(Page {
            items: matching,
            resource_version,
            continue_token: None,
            remaining: None,
        });
    };
    let remaining = matching.len() - limit;
    let mut items = matching;
    items.truncate(limit);
    let last = items.last().expect("limit > 0");
    let token = encode_continue(namespace_of(last), name_of(last), &resource_version);
    Ok(Page {
        items,
        resource_version,
        continue_token: Some(token),
        remaining: Some(remaining),
    })
}

/// The list as JSON bytes; items already stored with the presented apiVersion and kind are serialized without
/// being copied.
pub fn list_json(scope: &Scope, page: &Page) -> Vec<u8> {
    let api_version = scope.api_version();
    let mut metadata = json!({"resourceVersion": page.resource_version});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = page.remaining {
        metadata["remainingItemCount"] = json!(remaining);
    }
    let head =
        json!({"kind": scope.resource.list_kind, "apiVersion": api_version, "metadata": metadata});
    let mut out = serde_json::to_vec(&head).expect("JSON values serialize");
    out.pop(); // the closing brace: items follow
    out.extend_from_slice(b",\"items\":[");
    for (index, object) in page.items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let stored_as_presented = object["kind"] == scope.resource.kind.as_str()
            && object["apiVersion"].as_str() == Some(api_version.as_str());
        let written = if stored_as_presented {
            serde_json::to_writer(&mut out, &**object)
        } else {
            serde_json::to_writer(&mut out, &scope.present(object))
        };
        written.expect("JSON values serialize");
    }
    out.extend_from_slice(b"]}");
    out
}

pub fn list_body(scope: &Scope, page: &Page) -> Value {
    let mut metadata = json!({"resourceVersion": page.resource_version});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = page.remaining {
        metadata["remainingItemCount"] = json!(remaining);
    }
    json!({
        "kind": scope.resource.list_kind,
        "apiVersion": scope.api_version(),
        "metadata": metadata,
        "items": page.items.iter().map(|o| scope.present(o)).collect::<Vec<_>>(),
    })
}

fn encode_continue(namespace: &str, name: &str, resource_version: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": resource_version, "start": [namespace, name]});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

/// Where a paged list continues: after this key, in the snapshot at this version.
struct ContinueToken {
    namespace: String,
    name: String,
    resource_version: u64,
}

fn invalid_continue() -> ApiError {
    ApiError::bad_request(
        "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    )
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let invalid = invalid_continue;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let start = value["start"].as_array().ok_or_else(invalid)?;
    let field = |index: usize| -> ApiResult<String> {
        Ok(start
            .get(index)
            .and_then(Value::as_str)
            .ok_or_else(invalid)?
            .to_string())
    };
    Ok(ContinueToken {
        namespace: field(0)?,
        name: field(1)?,
        resource_version: value["rv"]
            .as_str()
            .and_then(|rv| rv.parse().ok())
            .ok_or_else(invalid)?,
    })
}

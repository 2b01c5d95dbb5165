//! Lists with selectors and `limit`/`continue` pagination.

use base64::Engine;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::meta::{name_of, namespace_of};
use super::selectors::Selectors;
use super::state::{Scope, State};

pub struct Page {
    pub items: Vec<Value>,
    pub resource_version: String,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// One page of matching objects, in key order; the continue token names the last key served.
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
    let matching: Vec<Value> = state
        .store
        .list(&scope.group_resource(), namespace)
        .into_iter()
        .filter(|o| match &after {
            Some((ns, name)) => (namespace_of(o), name_of(o)) > (ns.as_str(), name.as_str()),
            None => true,
        })
        .filter(|o| selectors.matches(o))
        .map(|o| (*o).clone())
        .collect();
    let resource_version = state.store.resource_version().to_string();
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

fn decode_continue(token: &str) -> ApiResult<(String, String)> {
    let invalid = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let start = value["start"].as_array().ok_or_else(invalid)?;
    Ok((
        start
            .first()
            .and_then(Value::as_str)
            .ok_or_else(invalid)?
            .to_string(),
        start
            .get(1)
            .and_then(Value::as_str)
            .ok_or_else(invalid)?
            .to_string(),
    ))
}

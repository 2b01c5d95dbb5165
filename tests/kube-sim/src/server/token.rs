//! `POST serviceaccounts/{name}/token` (TokenRequest): projected ServiceAccount tokens.

use serde_json::{Value, json};

use super::response::json_response;
use super::{App, Incoming};
use crate::api::error::{ApiError, ApiResult, Cause};
use crate::api::resources::GroupResource;
use crate::api::state::Scope;
use crate::auth::TokenClaims;
use axum::response::Response;

const DEFAULT_EXPIRATION: i64 = 3600;
const MIN_EXPIRATION: i64 = 600;

pub fn create(app: &App, scope: &Scope, name: &str, request: &Incoming) -> ApiResult<Response> {
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        super::resource::decode_body(scope, request)?
    };
    let spec = &body["spec"];
    let expiration = spec["expirationSeconds"]
        .as_i64()
        .unwrap_or(DEFAULT_EXPIRATION);
    if expiration < MIN_EXPIRATION {
        return Err(ApiError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            vec![Cause::new(
                "FieldValueInvalid",
                "spec.expirationSeconds",
                format!(
                    "spec.expirationSeconds: Invalid value: {expiration}: may not specify a duration less than 10 minutes"
                ),
            )],
        ));
    }
    let audiences: Vec<String> = match spec["audiences"].as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![app.auth.issuer().to_string()],
    };
    let state = app.cluster.lock();
    let account = scope.get(&state, name)?;
    let namespace = scope.object_namespace();
    let bound = &spec["boundObjectRef"];
    let pod = match bound["kind"].as_str() {
        Some("Pod") => {
            let pod_name = bound["name"].as_str().unwrap_or_default();
            let pod = state
                .store
                .get(&GroupResource::new("", "pods"), namespace, pod_name)
                .ok_or_else(|| ApiError::not_found("", "pods", pod_name))?;
            if let Some(uid) = bound["uid"].as_str()
                && uid != pod["metadata"]["uid"]
            {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    pod_name,
                    "the UID in the bound object reference does not match",
                ));
            }
            Some((
                pod_name.to_string(),
                pod["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ))
        }
        _ => None,
    };
    drop(state);
    let (token, expires) = app.auth.mint(&TokenClaims {
        namespace,
        service_account: name,
        service_account_uid: account["metadata"]["uid"].as_str().unwrap_or_default(),
        audiences: audiences.clone(),
        expiration_seconds: expiration,
        pod,
    });
    let expiration_timestamp = chrono::DateTime::from_timestamp(expires, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut response_spec = spec.clone();
    if !response_spec.is_object() {
        response_spec = json!({});
    }
    response_spec["audiences"] = json!(audiences);
    response_spec["expirationSeconds"] = json!(expiration);
    let body = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": crate::api::meta::now()},
        "spec": response_spec,
        "status": {"token": token, "expirationTimestamp": expiration_timestamp},
    });
    Ok(json_response(201, &body, &[]))
}

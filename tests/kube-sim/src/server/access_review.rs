//! `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` (`kubectl auth can-i`): the simulator does not
//! enforce authorization, so every authenticated request is allowed and the review says so.

use axum::response::Response;
use serde_json::{Value, json};

use super::Incoming;
use super::response::json_response;
use crate::api::error::{ApiError, ApiResult};

pub const GROUP: &str = "authorization.k8s.io";
pub const RESOURCE: &str = "selfsubjectaccessreviews";

pub fn create(request: &Incoming) -> ApiResult<Response> {
    let content_type = request.header("content-type").unwrap_or("application/json");
    // kubectl's typed client sends the review as protobuf.
    let mut review: Value = if content_type.contains("protobuf") {
        crate::protobuf::decode(&request.body).map_err(|e| {
            ApiError::bad_request(format!("error decoding protobuf request body: {e}"))
        })?
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))?
    };
    if review["kind"] != "SelfSubjectAccessReview" {
        return Err(ApiError::bad_request(format!(
            "expected a SelfSubjectAccessReview, got kind {}",
            review["kind"]
        )));
    }
    if !review["spec"]["resourceAttributes"].is_object()
        && !review["spec"]["nonResourceAttributes"].is_object()
    {
        return Err(ApiError::bad_request(
            "spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    }
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["status"] =
        json!({"allowed": true, "reason": "kube-sim does not enforce authorization"});
    Ok(json_response(201, &review, &[]))
}

//! The four patch types the apiserver accepts, selected by `Content-Type`.

pub mod apply;
pub mod keys;
pub mod managed;
pub mod strategic;

use serde_json::Value;

use crate::api::error::{ApiError, ApiResult, StatusReason};

/// Serialized as kubectl's `--type` names (`json`, `merge`, `strategic`) plus `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> ApiResult<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            other => Err(ApiError::new(
                StatusReason::UnsupportedMediaType,
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got {other:?}"
                ),
            )),
        }
    }
}

/// Applies a JSON, merge or strategic patch to `current`. (Apply patches go through [`apply`].)
pub fn patch_object(
    patch_type: PatchType,
    current: &Value,
    body: &[u8],
    custom_resource: bool,
) -> ApiResult<Value> {
    let decode = |body: &[u8]| -> ApiResult<Value> {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
    };
    let mut document = current.clone();
    match patch_type {
        PatchType::Json => {
            let operations: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut document, &operations).map_err(|e| {
                ApiError::new(
                    StatusReason::Invalid,
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
        PatchType::Merge => json_patch::merge(&mut document, &decode(body)?),
        PatchType::Strategic => {
            if custom_resource {
                return Err(ApiError::new(
                    StatusReason::UnsupportedMediaType,
                    "strategic merge patch is not supported for custom resources; use merge or apply patches",
                ));
            }
            let patch = decode(body)?;
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "strategic merge patch must be a JSON object",
                ));
            }
            strategic::apply(&mut document, &patch);
        }
        PatchType::Apply => unreachable!("apply patches are handled by patch::apply"),
    }
    Ok(document)
}

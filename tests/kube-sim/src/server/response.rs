//! JSON responses, `Status` errors and `Warning` headers.

use axum::body::Body;
use axum::response::Response;
use serde_json::Value;

use crate::api::error::ApiError;

pub fn json_response(code: u16, value: &Value, warnings: &[String]) -> Response {
    let mut builder = Response::builder()
        .status(code)
        .header("content-type", "application/json");
    for warning in warnings {
        let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
        builder = builder.header("warning", format!("299 - \"{escaped}\""));
    }
    builder
        .body(Body::from(
            serde_json::to_vec(value).expect("JSON values serialize"),
        ))
        .expect("valid response")
}

/// A body already serialized as JSON.
pub fn json_bytes_response(code: u16, body: Vec<u8>) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("valid response")
}

pub fn error_response(error: &ApiError) -> Response {
    let mut response = json_response(error.code(), &error.to_status(), &[]);
    if error.code() == 429 {
        response
            .headers_mut()
            .insert("retry-after", "1".parse().expect("valid header"));
    }
    response
}

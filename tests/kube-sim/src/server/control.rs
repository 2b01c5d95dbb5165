//! `/sim/...`: fault injection over HTTP (admin token required), for tests driving a `kube-sim` process.
//!
//! - `POST /sim/faults` `{"verb": "update", "resource": "jobs", "code": 409, "count": 1}` or `"delayMillis": 500`
//! - `DELETE /sim/faults` clears all rules
//! - `POST /sim/cut-watches` ends every open watch

use std::time::Duration;

use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::response::{error_response, json_response};
use super::{App, Incoming};
use crate::api::error::{ApiError, StatusReason};
use crate::faults::{FaultAction, FaultRule, Verb};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultBody {
    verb: Option<Verb>,
    resource: Option<String>,
    code: Option<u16>,
    delay_millis: Option<u64>,
    count: Option<u32>,
}

pub fn handle(app: &App, path: &[String], request: &Incoming) -> Response {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    match (request.method.clone(), segments.as_slice()) {
        (Method::POST, ["faults"]) => match serde_json::from_slice::<FaultBody>(&request.body) {
            Ok(body) => {
                let action = match (body.code, body.delay_millis) {
                    (Some(code), None) => FaultAction::Fail(code),
                    (None, Some(ms)) => FaultAction::Delay(Duration::from_millis(ms)),
                    _ => {
                        return error_response(&ApiError::bad_request(
                            "exactly one of code or delayMillis is required",
                        ));
                    }
                };
                app.faults.add(FaultRule {
                    verb: body.verb,
                    resource: body.resource,
                    action,
                    remaining: body.count.unwrap_or(1),
                });
                json_response(201, &json!({"status": "Success"}), &[])
            }
            Err(e) => error_response(&ApiError::bad_request(format!("invalid fault: {e}"))),
        },
        (Method::DELETE, ["faults"]) => {
            app.faults.clear();
            json_response(200, &json!({"status": "Success"}), &[])
        }
        (Method::POST, ["cut-watches"]) => {
            app.cluster.cut_watches();
            json_response(200, &json!({"status": "Success"}), &[])
        }
        _ => error_response(&ApiError::new(
            StatusReason::NotFound,
            "the server could not find the requested resource",
        )),
    }
}

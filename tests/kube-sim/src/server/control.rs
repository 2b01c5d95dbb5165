//! `/sim/...`: fault injection and the request log over HTTP (admin token required), for tests driving a
//! `kube-sim` process.
//!
//! - `POST /sim/faults` `{"verb": "update", "resource": "jobs", "code": 409, "count": 1}` or `"delayMillis": 500`
//! - `DELETE /sim/faults` clears all rules
//! - `POST /sim/cut-watches` ends every open watch
//! - `GET /sim/requests?verb=create&resource=jobs&namespace=ns&name=n&status=409&since=12` reads the request log:
//!   `{"limit": .., "dropped": .., "lastSeq": .., "reads": .., "items": [..]}`, oldest first (writes, and reads
//!   while the log records them)

use std::time::Duration;

use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::response::{error_response, json_response};
use super::{App, Incoming};
use crate::api::error::{ApiError, StatusReason};
use crate::api::request::Query;
use crate::faults::{FaultAction, FaultRule, Verb};
use crate::requests::RequestFilter;

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
        (Method::GET, ["requests"]) => match request_filter(&request.query) {
            Ok(filter) => {
                let page = app.requests.page(&filter);
                json_response(
                    200,
                    &serde_json::to_value(page).expect("the request log serializes"),
                    &[],
                )
            }
            Err(error) => error_response(&error),
        },
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

/// The filter `GET /sim/requests` asks for. Unknown parameters and unparsable values are 400 rather than ignored:
/// a misspelt filter would otherwise return everything and make a count look wrong for the wrong reason.
fn request_filter(query: &Query) -> Result<RequestFilter, ApiError> {
    const KNOWN: [&str; 6] = ["verb", "resource", "namespace", "name", "status", "since"];
    if let Some(unknown) = query.keys().find(|k| !KNOWN.contains(k)) {
        return Err(ApiError::bad_request(format!(
            "unknown request log filter {unknown:?}; known: {}",
            KNOWN.join(", ")
        )));
    }
    let number = |key: &str| -> Result<Option<u64>, ApiError> {
        query
            .get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("{key}={v:?} is not a number")))
            })
            .transpose()
    };
    let verb = query
        .get("verb")
        .map(|v| Verb::parse(v).ok_or_else(|| ApiError::bad_request(format!("unknown verb {v:?}"))))
        .transpose()?;
    let status = number("status")?
        .map(|s| {
            u16::try_from(s)
                .map_err(|_| ApiError::bad_request(format!("status={s} is out of range")))
        })
        .transpose()?;
    Ok(RequestFilter {
        verb,
        resource: query.get("resource").map(str::to_string),
        namespace: query.get("namespace").map(str::to_string),
        name: query.get("name").map(str::to_string),
        status,
        since: number("since")?,
    })
}

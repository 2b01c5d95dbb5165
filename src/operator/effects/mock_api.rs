//! A scripted API server for request-level tests of the effects: each expected request is matched by method and
//! path, answered with a status and a JSON body, and recorded, so a test asserts exactly which calls an effect
//! made (and that it made no others).

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::Value;
use tower_test::mock::{Handle, pair};

/// One scripted exchange: the request expected next and the answer to give.
pub struct Exchange {
    pub method: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub body: Value,
}

/// Shorthand for one scripted exchange.
pub fn exchange(method: &'static str, path: &'static str, status: u16, body: Value) -> Exchange {
    Exchange {
        method,
        path,
        status,
        body,
    }
}

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// A client whose requests are answered by `script`, in order; the task returns what it saw. A request that does
/// not match the script fails the test with both named.
pub fn scripted_client(
    script: Vec<Exchange>,
) -> (kube::Client, tokio::task::JoinHandle<Vec<Seen>>) {
    let (service, handle) = pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    (client, tokio::spawn(serve(handle, script)))
}

async fn serve(
    mut handle: Handle<Request<Body>, Response<Body>>,
    script: Vec<Exchange>,
) -> Vec<Seen> {
    let mut seen = Vec::new();
    for exchange in script {
        let Some((request, respond)) = handle.next_request().await else {
            panic!(
                "the effect stopped before {} {}; it sent {:?}",
                exchange.method,
                exchange.path,
                calls(&seen)
            );
        };
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .expect("a request body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(
            (method.as_str(), path.as_str()),
            (exchange.method, exchange.path),
            "unexpected request; before it: {:?}",
            calls(&seen)
        );
        seen.push(Seen { method, path, body });
        let response = Response::builder()
            .status(StatusCode::from_u16(exchange.status).expect("a status code"))
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::to_vec(&exchange.body).expect("json"),
            ))
            .expect("a response");
        respond.send_response(response);
    }
    seen
}

fn calls(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect()
}

/// The body of a refused request, as the API server sends it.
pub fn status_body(code: u16, reason: &str) -> Value {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": format!("{reason} (scripted)"),
        "reason": reason,
        "code": code,
    })
}

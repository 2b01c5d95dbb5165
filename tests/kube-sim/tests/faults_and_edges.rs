//! Over HTTP: injected faults (library and `/sim/faults`), deletecollection, delete preconditions, watch
//! `timeoutSeconds`, the stored-only built-ins (RBAC, NetworkPolicy, core Events) and the public issuer documents.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions, WatchParams};
use kube_sim::faults::Verb;
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

/// A client that shows 429s as they come (kube's default client retries them).
async fn client_without_retries(sim: &kube_sim::Sim) -> kube::Client {
    let mut config = sim.kube_config().await.unwrap();
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

async fn raw(client: &kube::Client, method: &str, path: &str, body: serde_json::Value) -> String {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

#[tokio::test]
async fn injected_failures_answer_with_the_code_and_a_status_then_stop() {
    let (sim, retrying) = start().await;
    let client = client_without_retries(&sim).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();

    sim.fail_next(Verb::Update, "configmaps", 409, 1);
    let conflict = api
        .replace("a", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert_eq!(status_code(&conflict), 409);
    assert!(conflict.to_string().contains("Conflict"), "{conflict}");
    // One use only: the same (fresh) write now goes through.
    api.replace("a", &PostParams::default(), &created)
        .await
        .unwrap();

    sim.fail_next(Verb::Get, "configmaps", 500, 2);
    for _ in 0..2 {
        assert_eq!(status_code(&api.get("a").await.unwrap_err()), 500);
    }
    api.get("a").await.unwrap();

    sim.fail_next(Verb::List, "configmaps", 429, 1);
    let throttled = api.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(status_code(&throttled), 429);
    assert!(
        throttled.to_string().contains("TooManyRequests"),
        "{throttled}"
    );
    // kube's default client backs off and retries a 429, as client-go does.
    sim.fail_next(Verb::List, "configmaps", 429, 1);
    let retried: Api<ConfigMap> = Api::namespaced(retrying, "default");
    retried.list(&ListParams::default()).await.unwrap();

    // A rule for another resource leaves configmaps alone.
    sim.fail_next(Verb::Get, "secrets", 500, 1);
    api.get("a").await.unwrap();
    sim.clear_faults();
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    assert_eq!(status_code(&secrets.get("none").await.unwrap_err()), 404);

    sim.delay_next(Verb::Get, "configmaps", Duration::from_millis(400), 1);
    let started = Instant::now();
    api.get("a").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the delayed get took only {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn faults_can_be_set_and_cleared_over_http() {
    let (sim, _) = start().await;
    let client = client_without_retries(&sim).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    raw(
        &client,
        "POST",
        "/sim/faults",
        json!({"verb": "create", "resource": "configmaps", "code": 429, "count": 2}),
    )
    .await;
    for _ in 0..2 {
        let error = api
            .create(&PostParams::default(), &cm("b", json!({})))
            .await
            .unwrap_err();
        assert_eq!(status_code(&error), 429);
    }
    api.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();

    raw(
        &client,
        "POST",
        "/sim/faults",
        json!({"verb": "get", "resource": "configmaps", "code": 500, "count": 5}),
    )
    .await;
    assert_eq!(status_code(&api.get("b").await.unwrap_err()), 500);
    raw(&client, "DELETE", "/sim/faults", json!({})).await;
    api.get("b").await.unwrap();

    let bad = http::Request::builder()
        .method("POST")
        .uri("/sim/faults")
        .body(serde_json::to_vec(&json!({"verb": "get"})).unwrap())
        .unwrap();
    let error = client.request_text(bad).await.unwrap_err();
    assert_eq!(status_code(&error), 400, "{error}");
}

#[tokio::test]
async fn deletecollection_removes_only_what_the_selector_matches() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for (name, tier) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")] {
        api.create(&PostParams::default(), &cm(name, json!({"tier": tier})))
            .await
            .unwrap();
    }
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("tier=a"),
    )
    .await
    .unwrap();
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["b1"]);
}

#[tokio::test]
async fn delete_with_a_stale_resource_version_precondition_conflicts() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = api
        .create(&PostParams::default(), &cm("p", json!({})))
        .await
        .unwrap();
    let mut changed = first.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let current = api
        .replace("p", &PostParams::default(), &changed)
        .await
        .unwrap();
    let with_rv = |rv: Option<String>| DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: rv,
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let stale = api
        .delete("p", &with_rv(first.metadata.resource_version))
        .await
        .unwrap_err();
    assert_eq!(status_code(&stale), 409);
    api.get("p")
        .await
        .expect("a refused delete keeps the object");
    api.delete("p", &with_rv(current.metadata.resource_version))
        .await
        .unwrap();
    assert_eq!(status_code(&api.get("p").await.unwrap_err()), 404);
}

#[tokio::test]
async fn a_watch_ends_after_its_timeout_seconds() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let started = Instant::now();
    let stream = api
        .watch(&WatchParams::default().timeout(2), "0")
        .await
        .unwrap();
    let events = tokio::time::timeout(DEADLINE, stream.collect::<Vec<_>>())
        .await
        .expect("the watch ends by itself once timeoutSeconds passed");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the watch ended after {:?}, before its timeout",
        started.elapsed()
    );
    assert!(
        events.iter().all(|event| event.is_ok()),
        "a timed-out watch ends cleanly: {events:?}"
    );
}

#[tokio::test]
async fn rbac_network_policies_and_core_events_are_stored() {
    let (_sim, client) = start().await;
    let roles: Api<Role> = Api::namespaced(client.clone(), "default");
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    }))
    .unwrap();
    roles.create(&PostParams::default(), &role).await.unwrap();
    let stored = roles.get("reader").await.unwrap();
    assert_eq!(stored.rules.unwrap()[0].verbs, ["get"]);

    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "default");
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "backup", "namespace": "default"}]
    }))
    .unwrap();
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    assert_eq!(
        bindings.get("reader").await.unwrap().role_ref.name,
        "reader"
    );

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "default");
    let policy: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
    }))
    .unwrap();
    policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    assert_eq!(
        policies
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let events: Api<Event> = Api::namespaced(client, "default");
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "ConfigMap", "name": "a", "namespace": "default"},
        "reason": "Tested", "message": "hello", "type": "Normal"
    }))
    .unwrap();
    events.create(&PostParams::default(), &event).await.unwrap();
    let listed = events
        .list(&ListParams::default().fields("metadata.name=e1"))
        .await
        .unwrap();
    assert_eq!(listed.items[0].reason.as_deref(), Some("Tested"));
}

#[tokio::test]
async fn issuer_documents_are_served_without_authentication() {
    let (sim, _client) = start().await;
    // No bearer token: OpenBao's JWT method and other verifiers fetch these anonymously.
    let mut config = sim.kube_config().await.unwrap();
    config.auth_info = kube::config::AuthInfo::default();
    let anonymous = kube::Client::try_from(config).unwrap();
    let get = |path: &'static str| {
        let anonymous = anonymous.clone();
        async move {
            let request = http::Request::get(path).body(Vec::new()).unwrap();
            let text = anonymous
                .request_text(request)
                .await
                .unwrap_or_else(|e| panic!("GET {path}: {e}"));
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        }
    };
    let jwks = get("/openid/v1/jwks").await;
    assert_eq!(jwks, sim.jwks());
    assert!(jwks["keys"][0]["kid"].is_string(), "{jwks}");
    let discovery = get("/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], sim.issuer());
    assert!(
        discovery["jwks_uri"]
            .as_str()
            .unwrap()
            .ends_with("/openid/v1/jwks"),
        "{discovery}"
    );

    let secrets: Api<Secret> = Api::namespaced(anonymous, "default");
    let refused = secrets.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(status_code(&refused), 401);
}

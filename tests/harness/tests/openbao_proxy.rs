//! The recording proxy forwards to a real node, records what reached it, and can fake an empty snapshot.

use openbao_test_harness::{OpenBaoCluster, OpenBaoOptions, OpenBaoProxy, RecordedRequest};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn proxy_forwards_records_and_can_answer_the_snapshot_empty() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .unwrap();
    let mut proxy = OpenBaoProxy::start(&cluster.node_addr(0)).unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let snapshot_url = format!("{}/v1/sys/storage/raft/snapshot", proxy.addr());

    let health = http
        .get(format!("{}/v1/sys/health?standbyok=true", proxy.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["sealed"], false);

    let real = http
        .get(&snapshot_url)
        .header("X-Vault-Token", cluster.root_token())
        .send()
        .await
        .unwrap();
    assert_eq!(real.status(), StatusCode::OK);
    let bytes = real.bytes().await.unwrap();
    assert_eq!(
        &bytes[..2],
        &[0x1f, 0x8b],
        "the streamed snapshot arrives whole through the proxy"
    );

    proxy.answer_snapshot_with_empty_body(true);
    let empty = http
        .get(&snapshot_url)
        .header("X-Vault-Token", cluster.root_token())
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    assert!(
        empty.bytes().await.unwrap().is_empty(),
        "a misbehaving standby's empty 200"
    );

    assert!(proxy.restore_calls().is_empty(), "no restore call so far");
    let refused = http
        .post(&snapshot_url)
        .body("not a snapshot")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "OpenBao itself answered (no token)"
    );

    let requests = proxy.requests();
    let paths: Vec<(Method, &str)> = requests
        .iter()
        .map(|r| (r.method.clone(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            (Method::GET, "/v1/sys/health"),
            (Method::GET, "/v1/sys/storage/raft/snapshot"),
            (Method::GET, "/v1/sys/storage/raft/snapshot"),
            (Method::POST, "/v1/sys/storage/raft/snapshot"),
        ]
    );
    assert_eq!(requests[0].query.as_deref(), Some("standbyok=true"));
    assert_eq!(
        proxy.count(&Method::GET, "/v1/sys/storage/raft/snapshot"),
        2
    );
    assert_eq!(
        proxy.restore_calls(),
        [RecordedRequest {
            method: Method::POST,
            path: "/v1/sys/storage/raft/snapshot".into(),
            query: None
        }]
    );

    proxy.clear();
    assert!(proxy.requests().is_empty());
    let addr = proxy.addr();
    proxy.stop();
    assert!(
        http.get(format!("{addr}/v1/sys/health"))
            .send()
            .await
            .is_err(),
        "a stopped proxy refuses"
    );
}

//! OpenBao as a StatefulSet of real processes on the Kubernetes API simulator: three 2.6.2 Pods form a raft
//! cluster (claims hold the data, a static seal unseals), and replacing a Pod after the image changed brings it
//! back on 2.7.2 with the data — what the upgrade guard will drive.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;
use openbao_test_harness::openbao::workload::{IMAGE, OpenBaoWorkload};
use openbao_test_harness::wait::poll_until;
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(120);

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut request = http.request(method, url).header("X-Vault-Token", token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("OpenBao answers");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statefulset_of_real_openbao_pods_keeps_its_data_when_a_pod_comes_back_on_2_7_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut workload =
        OpenBaoWorkload::prepare(dir.path(), "openbao", 3).expect("launchers (install-test-tools)");
    let mut controllers = ControllersConfig::new(dir.path().join("pods"), dir.path().join("logs"))
        .run_statefulset_pods(true);
    for (image, launcher) in workload.images() {
        controllers = controllers.image(image.clone(), launcher);
    }
    let sim = Sim::builder()
        .controllers(controllers)
        .start()
        .await
        .expect("simulator");
    let client = sim.client().await.unwrap();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let set: StatefulSet = serde_json::from_value(workload.manifest("default", "2.6.2")).unwrap();
    sets.create(&PostParams::default(), &set).await.unwrap();
    // Each Pod has its own IP, as in a real cluster; the StatefulSet's /24 is known once ordinal 0 has one.
    let pod0_ip = poll_until("openbao-0 has a podIP", DEADLINE, || async {
        let pod = pods.get_opt("openbao-0").await.map_err(|e| e.to_string())?;
        pod.and_then(|pod| pod.status?.pod_ip)
            .ok_or_else(|| "no status.podIP yet".to_string())
    })
    .await
    .unwrap();
    workload.locate(&pod0_ip);

    let token = workload
        .initialize()
        .await
        .expect("the Pods form a cluster");
    for ordinal in 0..3 {
        let health = workload.health(ordinal).await.unwrap();
        assert_eq!(
            health.version.as_deref(),
            Some("2.6.2"),
            "ordinal {ordinal}"
        );
    }
    let http = reqwest::Client::new();
    let leader = workload.addr(0);
    call(
        &http,
        reqwest::Method::POST,
        format!("{leader}/v1/sys/mounts/secret"),
        &token,
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await;
    let kv_written = poll_until("a KV write", DEADLINE, || async {
        let response = http
            .post(format!("{leader}/v1/secret/data/kept"))
            .header("X-Vault-Token", &token)
            .json(&json!({"data": {"v": "written on 2.6.2"}}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        response
            .status()
            .is_success()
            .then_some(())
            .ok_or_else(|| response.status().to_string())
    })
    .await;
    kv_written.expect("the secret is written");

    // The guard's move for one Pod: new image on the StatefulSet (OnDelete: nothing happens), then delete it.
    sets.patch(
        "openbao",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "openbao", "image": format!("{IMAGE}:2.7.2")}
        ]}}}})),
    )
    .await
    .unwrap();
    assert_eq!(
        workload.health(2).await.unwrap().version.as_deref(),
        Some("2.6.2"),
        "OnDelete replaces nothing by itself"
    );
    pods.delete("openbao-2", &DeleteParams::default())
        .await
        .unwrap();
    poll_until("openbao-2 back on 2.7.2, unsealed", DEADLINE, || async {
        let health = workload.health(2).await.map_err(|e| e.to_string())?;
        (health.version.as_deref() == Some("2.7.2") && health.is_unsealed())
            .then_some(())
            .ok_or_else(|| format!("{health:?}"))
    })
    .await
    .unwrap_or_else(|timeout| {
        let log = std::fs::read_to_string(dir.path().join("logs/default/openbao-2/openbao.log"))
            .unwrap_or_default();
        panic!("the replaced Pod runs 2.7.2: {timeout}\nits log:\n{log}")
    });
    workload.wait_healthy().await.unwrap();
    let answer = call(
        &http,
        reqwest::Method::GET,
        format!("{}/v1/secret/data/kept", workload.addr(2)),
        &token,
        None,
    )
    .await;
    assert_eq!(answer["data"]["data"]["v"], "written on 2.6.2");
    assert_eq!(
        workload.health(0).await.unwrap().version.as_deref(),
        Some("2.6.2"),
        "only the deleted Pod changed"
    );
}

//! The kubelet against the real simulator: volumes, environment, path rewriting, projected tokens from the
//! TokenRequest API, restarts in place and graceful deletion of a running process.

mod controllers_support;

use base64::Engine;
use controllers_support::{TEST_IMAGE, read, start, wait_for};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::wait::conditions;
use serde_json::{Value, json};

fn pod(name: &str, spec: Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "probe"}},
        "spec": spec,
    }))
    .unwrap()
}

fn phase_is(phase: &'static str) -> impl Fn(Option<&Pod>) -> bool {
    move |pod| pod.and_then(|pod| pod.status.as_ref()?.phase.as_deref()) == Some(phase)
}

fn waiting_reason_is(reason: &'static str) -> impl Fn(Option<&Pod>) -> bool {
    move |pod| {
        let waiting = pod.and_then(|pod| {
            pod.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .state
                .as_ref()?
                .waiting
                .clone()
        });
        waiting.and_then(|waiting| waiting.reason).as_deref() == Some(reason)
    }
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn container_sees_mounted_secrets_projected_token_env_and_rewritten_paths() {
    let cluster = start().await;
    let secrets = cluster.api::<Secret>("default");
    let accounts = cluster.api::<ServiceAccount>("default");
    let pods = cluster.api::<Pod>("default");
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "backup"}})).unwrap(),
        )
        .await
        .unwrap();
    let secret =
        json!({"metadata": {"name": "creds"}, "stringData": {"token": "s3cr3t", "region": "eu-1"}});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(secret).unwrap(),
        )
        .await
        .unwrap();

    let spec = json!({
        "restartPolicy": "Never",
        "serviceAccountName": "backup",
        "containers": [{
            "name": "main",
            "image": TEST_IMAGE,
            "workingDir": "/work",
            "env": [
                {"name": "TOKEN_FILE", "value": "/var/run/secrets/tokens/openbao"},
                {"name": "REGION", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "region"}}},
                {"name": "OPTIONAL", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x", "optional": true}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
            ],
            "command": ["/usr/local/bin/sim-test-program"],
            "args": [
                "cat", "$(TOKEN_FILE)",
                "cat", "/etc/creds/token",
                "env", "REGION", "env", "OPTIONAL", "env", "POD_NAME", "env", "POD_IP", "env", "HOME",
                "pwd"
            ],
            "volumeMounts": [
                {"name": "tokens", "mountPath": "/var/run/secrets/tokens", "readOnly": true},
                {"name": "creds", "mountPath": "/etc/creds"}
            ]
        }],
        "volumes": [
            {"name": "tokens", "projected": {"sources": [
                {"serviceAccountToken": {"path": "openbao", "audience": "openbao-internal", "expirationSeconds": 600}}
            ]}},
            {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400, "items": [{"key": "token", "path": "token"}]}}
        ]
    });
    pods.create(&PostParams::default(), &pod("probe", spec))
        .await
        .unwrap();
    let done = wait_for(&pods, "probe", "Succeeded", phase_is("Succeeded"))
        .await
        .unwrap();
    assert_eq!(
        done.spec.as_ref().unwrap().node_name.as_deref(),
        Some("kube-sim-node")
    );
    let status = done.status.as_ref().unwrap();
    assert_eq!(status.pod_ip.as_deref(), Some("127.0.0.1"));
    assert!(status.start_time.is_some());

    let log = read(&cluster.log_file("default", "probe", "main"));
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 8, "{log}");
    let claims = jwt_claims(lines[0]);
    assert_eq!(claims["aud"], json!(["openbao-internal"]));
    assert_eq!(claims["sub"], "system:serviceaccount:default:backup");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 600);
    assert_eq!(lines[1], "s3cr3t");
    assert_eq!(lines[2], "REGION=eu-1");
    assert_eq!(lines[3], "OPTIONAL is unset");
    assert_eq!(lines[4], "POD_NAME=probe");
    assert_eq!(lines[5], "POD_IP=127.0.0.1");
    assert_eq!(
        lines[6], "HOME is unset",
        "the host environment is not inherited"
    );
    assert!(
        lines[7].ends_with("/rootfs/work"),
        "working dir {}",
        lines[7]
    );

    let token_file = std::fs::read_dir(cluster.dir.path().join("pods/default"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("volumes/creds/token"))
        .find(|path| path.exists())
        .expect("the materialized secret volume");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(token_file).unwrap().permissions().mode() & 0o777,
        0o400
    );
}

#[tokio::test]
async fn missing_secret_holds_the_container_until_it_exists() {
    let cluster = start().await;
    let pods = cluster.api::<Pod>("default");
    let secrets = cluster.api::<Secret>("default");
    let spec = json!({
        "restartPolicy": "Never",
        "containers": [{
            "name": "main", "image": TEST_IMAGE,
            "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}}],
            "args": ["env", "TOKEN"]
        }]
    });
    pods.create(&PostParams::default(), &pod("patient", spec))
        .await
        .unwrap();
    let waiting = wait_for(
        &pods,
        "patient",
        "CreateContainerConfigError",
        waiting_reason_is("CreateContainerConfigError"),
    )
    .await
    .unwrap();
    let message = waiting.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap()
        .message;
    assert_eq!(message.as_deref(), Some("secret \"late\" not found"));

    let secret = json!({"metadata": {"name": "late"}, "stringData": {"token": "finally"}});
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(secret).unwrap(),
        )
        .await
        .unwrap();
    wait_for(&pods, "patient", "Succeeded", phase_is("Succeeded")).await;
    assert_eq!(
        read(&cluster.log_file("default", "patient", "main")),
        "TOKEN=finally\n"
    );
}

#[tokio::test]
async fn on_failure_restarts_the_container_in_place() {
    let cluster = start().await;
    let pods = cluster.api::<Pod>("default");
    let spec = json!({
        "restartPolicy": "OnFailure",
        "containers": [{
            "name": "main", "image": TEST_IMAGE,
            "args": ["fail-once", "/scratch/marker", "print", "second run"],
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]
        }],
        "volumes": [{"name": "scratch", "emptyDir": {}}]
    });
    pods.create(&PostParams::default(), &pod("retry", spec))
        .await
        .unwrap();
    let done = wait_for(&pods, "retry", "Succeeded", phase_is("Succeeded"))
        .await
        .unwrap();
    let container = &done.status.unwrap().container_statuses.unwrap()[0];
    assert_eq!(container.restart_count, 1);
    let last = container.last_state.clone().unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert_eq!(
        container
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap()
            .exit_code,
        0
    );
    assert_eq!(
        read(&cluster.log_file("default", "retry", "main")),
        "first run: failing\nsecond run\n"
    );
}

#[tokio::test]
async fn deleting_a_running_pod_stops_its_process_gracefully() {
    let cluster = start().await;
    let pods = cluster.api::<Pod>("default");
    let spec = json!({
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 30,
        "containers": [{"name": "main", "image": TEST_IMAGE, "args": ["sleep-until-killed"]}]
    });
    pods.create(&PostParams::default(), &pod("sleeper", spec))
        .await
        .unwrap();
    let running = wait_for(&pods, "sleeper", "Running", phase_is("Running"))
        .await
        .unwrap();
    let ready = running
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");

    let started = std::time::Instant::now();
    pods.delete("sleeper", &DeleteParams::default())
        .await
        .unwrap();
    let uid = running.metadata.uid.unwrap();
    wait_for(&pods, "sleeper", "deleted", conditions::is_deleted(&uid)).await;
    let elapsed = started.elapsed();
    // SIGTERM ends the program at once; only a SIGKILL after the 30 s grace period would take longer.
    assert!(elapsed.as_secs() < 20, "deletion took {elapsed:?}");
    println!("graceful deletion of a running pod took {elapsed:?}");
}

#[tokio::test]
async fn kubectl_logs_shows_a_running_pods_output() {
    let cluster = start().await;
    let pods = cluster.api::<Pod>("default");
    let spec = json!({
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": TEST_IMAGE, "args": ["print", "serving", "sleep-until-killed"]}]
    });
    pods.create(&PostParams::default(), &pod("server", spec))
        .await
        .unwrap();
    wait_for(&pods, "server", "Running", phase_is("Running")).await;
    let deadline = std::time::Instant::now() + controllers_support::DEADLINE;
    loop {
        let output = cluster.kubectl(&["logs", "server"]).await;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if stdout == "serving\nwaiting for a signal\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kubectl logs: {stdout:?} / {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn stopping_the_simulator_kills_running_processes() {
    let cluster = start().await;
    let pods = cluster.api::<Pod>("default");
    let spec = json!({
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": TEST_IMAGE, "args": ["pid", "sleep-until-killed"]}]
    });
    pods.create(&PostParams::default(), &pod("orphan", spec))
        .await
        .unwrap();
    wait_for(&pods, "orphan", "Running", phase_is("Running")).await;
    let log_file = cluster.log_file("default", "orphan", "main");
    let deadline = std::time::Instant::now() + controllers_support::DEADLINE;
    let pid = loop {
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        if let Some(pid) = log.lines().find_map(|line| line.strip_prefix("pid=")) {
            break pid.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the program never printed its pid"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let alive = |pid: &str| {
        // A killed but not yet reaped process is a zombie: it no longer runs.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    assert!(alive(&pid));

    drop(cluster);
    let deadline = std::time::Instant::now() + controllers_support::DEADLINE;
    while alive(&pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} survived the simulator"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pod_active_deadline_kills_the_process_and_fails_the_pod() {
    let cluster = start().await;
    let pods = cluster.api::<Pod>("default");
    let spec = json!({
        "restartPolicy": "Never",
        "activeDeadlineSeconds": 1,
        "containers": [{"name": "main", "image": TEST_IMAGE, "args": ["sleep-until-killed"]}]
    });
    pods.create(&PostParams::default(), &pod("overdue", spec))
        .await
        .unwrap();
    let failed = wait_for(&pods, "overdue", "Failed", phase_is("Failed"))
        .await
        .unwrap();
    let status = failed.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
    let terminated = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        (terminated.exit_code, terminated.signal),
        (128 + 15, Some(15)),
        "ended by SIGTERM"
    );
}

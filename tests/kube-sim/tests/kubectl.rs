//! Real kubectl against the simulator: both the kubectl on PATH and the one the test tools install.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::kubectl::{Kubectl, client_version, path_kubectl, venv_kubectl};
use common::*;
use kube_sim::Sim;
use tokio::io::AsyncBufReadExt;

const MANIFESTS: &str = r#"
apiVersion: example.org/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: v1
kind: Pod
metadata:
  name: logger
spec:
  containers:
  - name: main
    image: busybox
"#;

async fn exercise(binary: PathBuf) {
    let sim = Sim::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let kubectl = Kubectl { binary, kubeconfig };

    assert!(kubectl.run(&["get", "ns"]).await.contains("kube-system"));
    let crd = dir.path().join("crd.yaml");
    std::fs::write(&crd, serde_json::to_string(&widget_crd()).unwrap()).unwrap();
    kubectl.run(&["apply", "-f", crd.to_str().unwrap()]).await;
    kubectl
        .run(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.org",
            "--timeout=30s",
        ])
        .await;
    let manifests = dir.path().join("manifests.yaml");
    std::fs::write(&manifests, MANIFESTS).unwrap();
    let applied = kubectl
        .run(&["apply", "-f", manifests.to_str().unwrap()])
        .await;
    assert!(
        applied.contains("widget.example.org/w1 created"),
        "{applied}"
    );
    let again = kubectl
        .run(&["apply", "-f", manifests.to_str().unwrap()])
        .await;
    assert!(again.contains("configmap/settings unchanged"), "{again}");

    let table = kubectl.run(&["get", "widgets"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "PHASE"], "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("w1"), "{table}");

    let mut watch = kubectl
        .command(&["get", "widgets", "-w"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(DEADLINE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with("NAME"), "{first}");

    let status = r#"{"status":{"phase":"Ready","conditions":[{"type":"Ready","status":"True"}]}}"#;
    kubectl
        .run(&[
            "patch",
            "widget",
            "w1",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ])
        .await;
    let saw_ready = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("Ready") {
                return line;
            }
        }
        panic!("watch ended")
    })
    .await
    .expect("kubectl get -w shows the change");
    assert!(saw_ready.starts_with("w1"), "{saw_ready}");
    watch.kill().await.unwrap();

    kubectl
        .run(&[
            "wait",
            "--for=condition=Ready",
            "widget/w1",
            "--timeout=30s",
        ])
        .await;
    let described = kubectl.run(&["describe", "widget", "w1"]).await;
    assert!(
        described.contains("Name:") && described.contains("w1") && described.contains("Ready"),
        "{described}"
    );

    let log_dir = sim.log_dir().join("default/logger");
    std::fs::create_dir_all(&log_dir).unwrap();
    std::fs::write(log_dir.join("main.log"), "line one\nline two\n").unwrap();
    assert_eq!(
        kubectl.run(&["logs", "logger"]).await,
        "line one\nline two\n"
    );
    assert_eq!(
        kubectl.run(&["logs", "logger", "--tail=1"]).await,
        "line two\n"
    );

    let invalid = kubectl
        .fails(&[
            "patch",
            "widget",
            "w1",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":1}}"#,
        ])
        .await;
    assert!(invalid.contains("size may not shrink"), "{invalid}");

    assert!(
        kubectl
            .run(&["delete", "widget", "w1"])
            .await
            .contains("deleted")
    );
    assert!(
        kubectl
            .fails(&["get", "widget", "w1"])
            .await
            .contains("NotFound")
    );
}

#[tokio::test]
async fn kubectl_on_path() {
    exercise(path_kubectl()).await;
}

#[test]
fn the_two_kubectls_are_different_client_versions() {
    let machine = client_version(&path_kubectl());
    let tools = client_version(&venv_kubectl());
    println!("machine kubectl {machine}, test-tools kubectl {tools}");
    assert_ne!(
        machine, tools,
        "both kubectl tests would run the same client"
    );
}

#[tokio::test]
async fn kubectl_from_test_tools() {
    exercise(venv_kubectl()).await;
}

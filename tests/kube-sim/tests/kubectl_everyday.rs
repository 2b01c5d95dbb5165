//! The everyday kubectl commands a person runs, each run with both kubectl versions (the machine's, which matches
//! the simulator's reported 1.33, and the test tools' 1.37) against a simulator with controllers, and checked for
//! its effect. Typed `kubectl create <kind>` and `auth can-i` send protobuf bodies; `describe` and `events` read
//! the core Events that the operator writes through `events.k8s.io`.
//!
//! Commands run in sequence on one simulator per kubectl version, so the file stays well under two minutes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use common::kubectl::{Kubectl, path_kubectl, table_rows, venv_kubectl};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;
use serde_json::Value;

/// Generous: the suite shares a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(120);
const TIMEOUT_FLAG: &str = "--timeout=120s";

struct Everyday {
    sim: Sim,
    kubectl: Kubectl,
    dir: tempfile::TempDir,
}

fn deploy(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

async fn start(binary: PathBuf) -> Everyday {
    let dir = tempfile::Builder::new()
        .prefix("kubectl-everyday")
        .tempdir()
        .expect("a temp dir");
    // `busybox` runs as a local process: the Jobs' `/bin/sh -c ...` commands are taken from PATH.
    let config = ControllersConfig::new(dir.path().join("pods"), dir.path().join("logs"))
        .image("busybox", env!("CARGO_BIN_EXE_sim-test-program"))
        .base_env("PATH", "/usr/bin:/bin");
    let sim = Sim::builder()
        .controllers(config)
        .start()
        .await
        .expect("the simulator starts");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    Everyday {
        sim,
        kubectl: Kubectl { binary, kubeconfig },
        dir,
    }
}

impl Everyday {
    async fn run(&self, args: &[&str]) -> String {
        self.kubectl.run(args).await
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        serde_json::from_str(&self.run(&args).await).expect("kubectl -o json prints JSON")
    }

    async fn jsonpath(&self, args: &[&str], path: &str) -> String {
        let flag = format!("jsonpath={path}");
        let mut args = args.to_vec();
        args.extend(["-o", &flag]);
        self.run(&args).await
    }

    async fn pods_of(&self, job: &str) -> String {
        let selector = format!("job-name={job}");
        self.run(&[
            "-n", "everyday", "get", "pods", "-l", &selector, "-o", "name",
        ])
        .await
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// An event written the way the operator writes them: through `events.k8s.io/v1`.
    async fn record(&self, namespace: &str, regarding: &Value, reason: &str, note: &str) {
        let client = self.sim.client().await.expect("client");
        let events: Api<Event> = Api::namespaced(client, namespace);
        let kind = regarding["kind"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let name = regarding["metadata"]["name"].as_str().unwrap();
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{kind}-{name}-")),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            reporting_controller: Some("openbao-operator".into()),
            reporting_instance: Some("openbao-operator-0".into()),
            action: Some("Reconcile".into()),
            reason: Some(reason.into()),
            type_: Some("Normal".into()),
            note: Some(note.into()),
            regarding: Some(k8s_openapi::api::core::v1::ObjectReference {
                api_version: regarding["apiVersion"].as_str().map(str::to_string),
                kind: regarding["kind"].as_str().map(str::to_string),
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                uid: regarding["metadata"]["uid"].as_str().map(str::to_string),
                ..Default::default()
            }),
            ..Event::default()
        };
        events
            .create(&PostParams::default(), &event)
            .await
            .expect("event created");
    }
}

/// `kubectl create <kind>` for built-in kinds (protobuf bodies), checked through what the server stores.
async fn creates(e: &Everyday) {
    let out = e.run(&["create", "namespace", "everyday"]).await;
    assert!(out.contains("namespace/everyday created"), "{out}");
    e.run(&[
        "wait",
        "--for=jsonpath={.status.phase}=Active",
        "namespace/everyday",
        TIMEOUT_FLAG,
    ])
    .await;
    let ns = ["-n", "everyday"];
    let with = |args: &[&'static str]| [&ns[..], args].concat();

    e.run(&with(&[
        "create",
        "secret",
        "generic",
        "s3-creds",
        "--from-literal=access-key=AKIA",
        "--from-literal=secret-key=s3cr3t",
    ]))
    .await;
    let secret = e.json(&with(&["get", "secret", "s3-creds"])).await;
    assert_eq!(secret["data"]["access-key"], "QUtJQQ==", "{secret}");

    e.run(&with(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
    ]))
    .await;
    assert_eq!(
        e.jsonpath(&with(&["get", "configmap", "settings"]), "{.data.mode}")
            .await,
        "fast"
    );

    e.run(&with(&["create", "serviceaccount", "backup"])).await;
    assert_eq!(
        e.run(&with(&["get", "serviceaccount", "backup", "-o", "name"]))
            .await
            .trim(),
        "serviceaccount/backup"
    );

    let token = e
        .run(&with(&[
            "create",
            "token",
            "backup",
            "--audience=openbao",
            "--duration=20m",
        ]))
        .await;
    let payload = token.trim().split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .unwrap();
    assert_eq!(claims["sub"], "system:serviceaccount:everyday:backup");
    assert_eq!(claims["aud"], serde_json::json!(["openbao"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1200
    );

    e.run(&with(&[
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=pods",
    ]))
    .await;
    let role = e.json(&with(&["get", "role", "reader"])).await;
    assert_eq!(
        role["rules"][0]["verbs"],
        serde_json::json!(["get", "list"]),
        "{role}"
    );
    assert_eq!(role["rules"][0]["resources"], serde_json::json!(["pods"]));

    for (name, script) in [
        ("hello", "echo hi"),
        ("follow", "echo one; sleep 1; echo two"),
        ("orphaned", "echo o"),
        ("foreground", "echo f"),
    ] {
        e.run(&with(&[
            "create",
            "job",
            name,
            "--image=busybox",
            "--",
            "/bin/sh",
            "-c",
            script,
        ]))
        .await;
    }
    let answer = e
        .run(&["auth", "can-i", "create", "pods", "-n", "everyday"])
        .await;
    assert_eq!(answer.trim(), "yes");
}

/// `logs`, `wait --for=condition`, `get` in every output format.
async fn jobs_logs_and_output_formats(e: &Everyday) {
    let mut follow = e.kubectl.stream(&[
        "-n",
        "everyday",
        "logs",
        "-f",
        "job/follow",
        "--pod-running-timeout=120s",
    ]);
    follow
        .until("the first line", DEADLINE, |l| l == "one")
        .await;
    assert!(
        follow.finish(DEADLINE).await.ends_with("two"),
        "logs -f follows until the container ends"
    );

    e.run(&[
        "-n",
        "everyday",
        "wait",
        "--for=condition=complete",
        "job/hello",
        "job/orphaned",
        "job/foreground",
        TIMEOUT_FLAG,
    ])
    .await;
    assert_eq!(
        e.run(&["-n", "everyday", "logs", "job/hello"]).await,
        "hi\n"
    );
    let previous = e
        .kubectl
        .fails(&["-n", "everyday", "logs", "job/hello", "--previous"])
        .await;
    assert!(previous.contains("--previous is not served"), "{previous}");

    let wide = e
        .run(&[
            "-n",
            "everyday",
            "get",
            "pods",
            "-l",
            "job-name=hello",
            "-o",
            "wide",
        ])
        .await;
    let rows = table_rows(&wide);
    let cell = |name: &str| {
        rows[0]
            .iter()
            .find(|(h, _)| h == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(cell("STATUS").as_deref(), Some("Completed"), "{wide}");
    assert_eq!(cell("NODE").as_deref(), Some("kube-sim-node"), "{wide}");
    assert_eq!(cell("IP").as_deref(), Some("127.0.0.1"), "{wide}");

    let yaml = e
        .run(&["-n", "everyday", "get", "job", "hello", "-o", "yaml"])
        .await;
    let job: Value = serde_norway::from_str(&yaml).expect("-o yaml parses");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["/bin/sh", "-c", "echo hi"])
    );
    let json = e.json(&["-n", "everyday", "get", "job", "hello"]).await;
    assert_eq!(json["status"]["succeeded"], 1);
    let columns = e
        .run(&[
            "-n",
            "everyday",
            "get",
            "pods",
            "-l",
            "job-name=hello",
            "-o",
            "custom-columns=JOB:.metadata.labels.job-name,PHASE:.status.phase",
        ])
        .await;
    assert_eq!(
        columns.split_whitespace().collect::<Vec<_>>(),
        ["JOB", "PHASE", "hello", "Succeeded"]
    );
}

/// `apply -f`/`-k`, `label`, `annotate`, `patch` (merge, json, strategic), `edit`, `rollout status`.
async fn changes(e: &Everyday) {
    let ns = "everyday";
    let manifest = e.write("applied.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: everyday\ndata:\n  a: \"1\"\n");
    assert!(
        e.run(&["apply", "-f", &manifest])
            .await
            .contains("configmap/applied created")
    );
    e.write("applied.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: everyday\ndata:\n  a: \"2\"\n");
    assert!(
        e.run(&["apply", "-f", &manifest])
            .await
            .contains("configmap/applied configured")
    );
    assert_eq!(
        e.jsonpath(&["-n", ns, "get", "cm", "applied"], "{.data.a}")
            .await,
        "2"
    );

    e.write(
        "kustomized/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kustomized\ndata:\n  b: x\n",
    );
    let dir = e.write(
        "kustomized/kustomization.yaml",
        "namespace: everyday\nlabels:\n- pairs:\n    app.kubernetes.io/part-of: everyday\nresources:\n- cm.yaml\n",
    );
    let dir = Path::new(&dir)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        e.run(&["apply", "-k", &dir])
            .await
            .contains("configmap/kustomized created")
    );
    assert_eq!(
        e.jsonpath(
            &["-n", ns, "get", "cm", "kustomized"],
            "{.metadata.labels.app\\.kubernetes\\.io/part-of}"
        )
        .await,
        "everyday"
    );

    e.run(&["-n", ns, "label", "configmap", "settings", "tier=gold"])
        .await;
    e.run(&["-n", ns, "annotate", "configmap", "settings", "note=hello"])
        .await;
    let settings = e.json(&["-n", ns, "get", "cm", "settings"]).await;
    assert_eq!(settings["metadata"]["labels"]["tier"], "gold");
    assert_eq!(settings["metadata"]["annotations"]["note"], "hello");

    e.run(&[
        "-n",
        ns,
        "patch",
        "configmap",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"mode":"slow"}}"#,
    ])
    .await;
    e.run(&[
        "-n",
        ns,
        "patch",
        "configmap",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/data/extra","value":"1"}]"#,
    ])
    .await;
    let editor = e.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/^  mode: slow$/  mode: edited/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    e.kubectl
        .run_env(
            &["-n", ns, "edit", "configmap", "settings"],
            &[("KUBE_EDITOR", &editor)],
        )
        .await;
    let data = e.json(&["-n", ns, "get", "cm", "settings"]).await["data"].clone();
    assert_eq!(data, serde_json::json!({"mode": "edited", "extra": "1"}));

    let sts = e.write(
        "web.yaml",
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\n  namespace: everyday\nspec:\n  replicas: 2\n  serviceName: web\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: busybox:1\n      - name: sidecar\n        image: busybox:1\n",
    );
    e.run(&["apply", "-f", &sts]).await;
    // Strategic merge (kubectl's default for built-ins): the container list merges by name.
    e.run(&[
        "-n",
        ns,
        "patch",
        "statefulset",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:2"}]}}}}"#,
    ])
    .await;
    let images = e
        .jsonpath(
            &["-n", ns, "get", "sts", "web"],
            "{.spec.template.spec.containers[*].image}",
        )
        .await;
    assert_eq!(images, "busybox:2 busybox:1");
    let status = e
        .run(&[
            "-n",
            ns,
            "rollout",
            "status",
            "statefulset/web",
            TIMEOUT_FLAG,
        ])
        .await;
    assert!(status.contains("complete"), "{status}");
    assert_eq!(
        e.jsonpath(
            &["-n", ns, "get", "sts", "web"],
            "{.status.updatedReplicas}"
        )
        .await,
        "2"
    );
}

/// `describe` with events, `get events` (plain and `-w`), `events --for`, for the project's resources and Jobs/Pods.
async fn describe_and_events(e: &Everyday) {
    e.run(&["apply", "-f", &deploy("crds/crds.yaml")]).await;
    e.run(&[
        "wait",
        "--for=condition=Established",
        "crd/openbaoclusters.openbao.org",
        "crd/openbaorestores.openbao.org",
        TIMEOUT_FLAG,
    ])
    .await;
    e.run(&["create", "namespace", "security"]).await;
    e.run(&["apply", "-f", &deploy("samples/cluster-s3-jwt.yaml")])
        .await;
    e.run(&["apply", "-f", &deploy("samples/restore-latest.yaml")])
        .await;

    let cluster = e.json(&["-n", "security", "get", "obc", "openbao"]).await;
    let restore = e
        .json(&[
            "-n",
            "security",
            "get",
            "obrestore",
            "openbao-restore-latest",
        ])
        .await;
    let job = e.json(&["-n", "everyday", "get", "job", "hello"]).await;
    let pods = e
        .json(&["-n", "everyday", "get", "pods", "-l", "job-name=hello"])
        .await;
    let pod = pods["items"][0].clone();
    e.record(
        "security",
        &cluster,
        "BackupSucceeded",
        "snapshot prod/openbao-1.snap written",
    )
    .await;
    e.record(
        "security",
        &restore,
        "RestoreStarted",
        "restoring the newest verified snapshot",
    )
    .await;
    e.record("everyday", &job, "Inspected", "the job was looked at")
        .await;
    e.record("everyday", &pod, "Pulled", "image busybox already present")
        .await;

    for (args, reason, note) in [
        (
            ["-n", "security", "describe", "obc", "openbao"],
            "BackupSucceeded",
            "snapshot prod/openbao-1.snap written",
        ),
        (
            [
                "-n",
                "security",
                "describe",
                "obrestore",
                "openbao-restore-latest",
            ],
            "RestoreStarted",
            "restoring the newest verified snapshot",
        ),
        (
            ["-n", "everyday", "describe", "job", "hello"],
            "Inspected",
            "the job was looked at",
        ),
        (
            [
                "-n",
                "everyday",
                "describe",
                "pod",
                pod["metadata"]["name"].as_str().unwrap(),
            ],
            "Pulled",
            "image busybox already present",
        ),
    ] {
        let described = e.run(&args).await;
        let events = described
            .split("Events:")
            .nth(1)
            .unwrap_or_else(|| panic!("{args:?} shows no Events: {described}"));
        assert!(
            events.contains(reason) && events.contains(note),
            "{args:?} misses its event: {described}"
        );
        assert!(
            events.contains("openbao-operator"),
            "{args:?}: the event's source: {described}"
        );
    }

    let table = e.run(&["-n", "security", "get", "events"]).await;
    let rows = table_rows(&table);
    let names: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        names,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{table}"
    );
    let row = rows
        .iter()
        .find(|r| r.iter().any(|(_, v)| v == "BackupSucceeded"))
        .expect(&table);
    let get = |name: &str| row.iter().find(|(h, _)| h == name).map(|(_, v)| v.as_str());
    assert_eq!(get("TYPE"), Some("Normal"));
    assert_eq!(get("OBJECT"), Some("openbaocluster/openbao"));
    assert_eq!(get("MESSAGE"), Some("snapshot prod/openbao-1.snap written"));

    let events = e
        .run(&[
            "-n",
            "security",
            "events",
            "--for",
            "openbaocluster/openbao",
        ])
        .await;
    assert!(
        events.contains("BackupSucceeded") && !events.contains("RestoreStarted"),
        "{events}"
    );

    let mut watch = e.kubectl.stream(&["-n", "security", "get", "events", "-w"]);
    watch
        .until("the existing event", DEADLINE, |l| {
            l.contains("BackupSucceeded")
        })
        .await;
    e.record("security", &cluster, "BackupSkipped", "window missed")
        .await;
    let line = watch
        .until("the new event", DEADLINE, |l| l.contains("BackupSkipped"))
        .await;
    assert!(
        line.contains("openbaocluster/openbao") && line.contains("window missed"),
        "{line}"
    );
}

/// `explain` for the project's CRDs, `api-resources`, and `delete` with `--wait` and cascades.
async fn discovery_and_deletes(e: &Everyday) {
    let explained = e.run(&["explain", "openbaoclusters.spec.backup"]).await;
    assert!(
        explained.contains("KIND:")
            && explained.contains("OpenBaoCluster")
            && explained.contains("schedule"),
        "{explained}"
    );
    let resources = e.run(&["api-resources"]).await;
    for expected in [
        "openbaoclusters",
        "obc",
        "openbaorestores",
        "events",
        "jobs",
    ] {
        assert!(
            resources.split_whitespace().any(|w| w == expected),
            "api-resources misses {expected}: {resources}"
        );
    }

    let ns = ["-n", "everyday"];
    e.run(
        &[
            &ns[..],
            &["delete", "job", "orphaned", "--cascade=orphan", "--wait"],
        ]
        .concat(),
    )
    .await;
    assert!(
        !e.pods_of("orphaned").await.trim().is_empty(),
        "orphaned pods stay"
    );

    e.run(
        &[
            &ns[..],
            &[
                "delete",
                "job",
                "foreground",
                "--cascade=foreground",
                "--wait",
                TIMEOUT_FLAG,
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        e.pods_of("foreground").await.trim().is_empty(),
        "foreground deletion removed the pods first"
    );
    let gone = e
        .kubectl
        .fails(&[&ns[..], &["get", "job", "foreground"]].concat())
        .await;
    assert!(gone.contains("NotFound"), "{gone}");

    e.run(&[&ns[..], &["delete", "configmap", "applied", "--wait"]].concat())
        .await;
    let gone = e
        .kubectl
        .fails(&[&ns[..], &["get", "configmap", "applied"]].concat())
        .await;
    assert!(gone.contains("NotFound"), "{gone}");
}

async fn everyday(binary: PathBuf) {
    let started = std::time::Instant::now();
    let e = start(binary).await;
    creates(&e).await;
    jobs_logs_and_output_formats(&e).await;
    changes(&e).await;
    describe_and_events(&e).await;
    discovery_and_deletes(&e).await;
    println!(
        "{} everyday commands: {:?}",
        e.kubectl.binary.display(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_commands_with_kubectl_on_path() {
    everyday(path_kubectl()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_commands_with_kubectl_from_test_tools() {
    everyday(venv_kubectl()).await;
}

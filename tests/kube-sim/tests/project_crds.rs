//! The project's real CRDs (`deploy/crds/crds.yaml`) and samples (`deploy/samples/`) through real kubectl: apply
//! with server-side validation, printer columns, schema defaults, CEL and schema rejections, the restore's
//! immutability rule, and `-o yaml` round trips.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Duration, SecondsFormat, Utc};
use common::kubectl::{Kubectl, path_kubectl, table_rows, venv_kubectl};
use kube_sim::Sim;
use serde_json::{Value, json};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read_yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).expect("valid YAML"))
        .filter(|document: &Value| !document.is_null())
        .collect()
}

fn samples() -> Vec<PathBuf> {
    let mut samples: Vec<PathBuf> = std::fs::read_dir(deploy_dir().join("samples"))
        .expect("deploy/samples exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    samples.sort();
    assert!(!samples.is_empty(), "deploy/samples has samples");
    samples
}

/// The CRD version schema of `plural` from `deploy/crds/crds.yaml`.
fn crd_version(crds: &[Value], plural: &str) -> Value {
    crds.iter()
        .find(|crd| crd["spec"]["names"]["plural"] == plural)
        .unwrap_or_else(|| panic!("crds.yaml defines {plural}"))["spec"]["versions"][0]
        .clone()
}

/// The `default` the CRD schema declares at a `spec` path, e.g. `["backup", "timeoutSeconds"]`.
fn spec_default(version: &Value, path: &[&str]) -> Value {
    let mut schema = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    for key in path {
        schema = &schema["properties"][*key];
    }
    let default = schema["default"].clone();
    assert!(
        !default.is_null(),
        "the CRD declares a default for {path:?}"
    );
    default
}

fn rfc3339(time: chrono::DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn cell<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    row.iter()
        .find(|(name, _)| name == column)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("column {column} in {row:?}"))
}

struct Fixture {
    _sim: Sim,
    dir: tempfile::TempDir,
    kubectl: Kubectl,
    crds: Vec<Value>,
}

impl Fixture {
    fn write(&self, name: &str, object: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(object).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    }

    async fn get_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl.run(&all).await).expect("kubectl prints JSON")
    }
}

/// Starts a simulator, applies the CRDs, the samples' namespaces and every sample, one file at a time.
async fn apply_everything(binary: PathBuf) -> Fixture {
    let sim = Sim::builder().start().await.expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let kubectl = Kubectl { binary, kubeconfig };
    let crds_path = deploy_dir().join("crds/crds.yaml");
    let crds = read_yaml_documents(&crds_path);
    let fixture = Fixture {
        _sim: sim,
        dir,
        kubectl,
        crds,
    };
    let kubectl = &fixture.kubectl;

    let applied = kubectl
        .run(&["apply", "-f", crds_path.to_str().unwrap()])
        .await;
    assert!(
        applied.contains("openbaoclusters.openbao.org created")
            && applied.contains("openbaorestores.openbao.org created"),
        "{applied}"
    );
    kubectl
        .run(&[
            "wait",
            "--for=condition=Established",
            "crd/openbaoclusters.openbao.org",
            "crd/openbaorestores.openbao.org",
            "--timeout=30s",
        ])
        .await;

    let samples = samples();
    let namespaces: BTreeSet<String> = samples
        .iter()
        .flat_map(|path| read_yaml_documents(path))
        .filter_map(|object| object["metadata"]["namespace"].as_str().map(str::to_string))
        .collect();
    // Separate documents, not a `kind: List`: kubectl validates a List client-side against OpenAPI v2, which the
    // simulator does not serve.
    let namespace_documents: Vec<String> = namespaces
        .iter()
        .map(|name| {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).to_string()
        })
        .collect();
    let namespaces_path = fixture.dir.path().join("namespaces.yaml");
    std::fs::write(&namespaces_path, namespace_documents.join("\n---\n")).unwrap();
    kubectl
        .run(&["apply", "-f", namespaces_path.to_str().unwrap()])
        .await;
    for sample in &samples {
        let applied = kubectl
            .run(&["apply", "-f", sample.to_str().unwrap()])
            .await;
        assert!(
            applied.contains(" created") || applied.contains(" configured"),
            "{}: {applied}",
            sample.display()
        );
    }
    fixture
}

async fn exercise(binary: PathBuf) {
    let fixture = apply_everything(binary).await;
    let kubectl = &fixture.kubectl;
    let cluster_version = crd_version(&fixture.crds, "openbaoclusters");
    let restore_version = crd_version(&fixture.crds, "openbaorestores");

    // Defaults from the schema, on the one sample that sets none of them itself.
    let gcs = fixture
        .get_json(&["get", "obc", "openbao", "-n", "platform-secrets"])
        .await;
    for path in [
        &["image"][..],
        &["replicas"],
        &["backup", "timeoutSeconds"],
        &["backup", "startingDeadlineSeconds"],
        &["backup", "auth", "jwt", "mountPath"],
    ] {
        let stored = path.iter().fold(&gcs["spec"], |value, key| &value[*key]);
        assert_eq!(
            stored,
            &spec_default(&cluster_version, path),
            "default of spec.{}",
            path.join(".")
        );
    }
    assert_eq!(
        gcs["spec"]["backup"]["timeZone"], "America/New_York",
        "a set value beats the default"
    );
    let restore = fixture
        .get_json(&[
            "get",
            "obrestore",
            "openbao-restore-latest",
            "-n",
            "security",
        ])
        .await;
    assert_eq!(
        restore["spec"]["dryRun"],
        spec_default(&restore_version, &["dryRun"])
    );
    assert_eq!(
        restore["spec"]["force"],
        spec_default(&restore_version, &["force"])
    );

    // Printer columns with values written through the status subresource.
    let now = Utc::now();
    let status = json!({"status": {
        "backup": {
            "consecutiveFailures": 2,
            "lastSuccessTime": rfc3339(now - Duration::days(3)),
            "nextScheduledBackup": rfc3339(now + Duration::hours(1)),
        },
        "operationLock": {
            "operation": "Backup",
            "holder": "backup/openbao-scheduled-1",
            "epoch": 7,
            "acquiredAt": rfc3339(now),
        },
    }});
    kubectl
        .run(&[
            "patch",
            "obc",
            "openbao",
            "-n",
            "security",
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ])
        .await;
    let table = kubectl.run(&["get", "obc", "-n", "security"]).await;
    let rows = table_rows(&table);
    let headers: Vec<&str> = rows[0].iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        headers,
        [
            "NAME",
            "VERSION",
            "LAST BACKUP",
            "NEXT BACKUP",
            "FAILURES",
            "LOCK",
            "UPGRADE",
            "AGE"
        ],
        "{table}"
    );
    let row = &rows[0];
    assert_eq!(cell(row, "NAME"), "openbao", "{table}");
    assert_eq!(cell(row, "VERSION"), "2.4.1", "{table}");
    assert_eq!(cell(row, "LAST BACKUP"), "3d", "{table}");
    // A `date` column shows the age of a timestamp; kube-apiserver renders a future time as `<invalid>`.
    let next_backup_type = cluster_version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|column| column["name"] == "Next Backup")
        .expect("a Next Backup column")["type"]
        .clone();
    let expected_next = if next_backup_type == "date" {
        "<invalid>".to_string()
    } else {
        status["status"]["backup"]["nextScheduledBackup"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(cell(row, "NEXT BACKUP"), expected_next, "{table}");
    assert_eq!(cell(row, "FAILURES"), "2", "{table}");
    assert_eq!(cell(row, "LOCK"), "Backup", "{table}");
    assert!(!cell(row, "AGE").is_empty(), "{table}");

    kubectl
        .run(&[
            "patch",
            "obrestore",
            "openbao-restore-latest",
            "-n",
            "security",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running","snapshot":{"key":"security/openbao/20260101T000000Z-scheduled-0a1b2c3d.snap"}}}"#,
        ])
        .await;
    let table = kubectl.run(&["get", "obrestore", "-n", "security"]).await;
    let rows = table_rows(&table);
    let headers: Vec<&str> = rows[0].iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        headers,
        ["NAME", "CLUSTER", "PHASE", "SNAPSHOT", "AGE"],
        "{table}"
    );
    let latest = rows
        .iter()
        .find(|row| cell(row, "NAME") == "openbao-restore-latest")
        .unwrap_or_else(|| panic!("{table}"));
    assert_eq!(cell(latest, "CLUSTER"), "openbao", "{table}");
    assert_eq!(cell(latest, "PHASE"), "Running", "{table}");
    assert_eq!(
        cell(latest, "SNAPSHOT"),
        "security/openbao/20260101T000000Z-scheduled-0a1b2c3d.snap",
        "{table}"
    );

    // A broken restore: CEL rejects both source.key and source.latest.
    let mut both_sources = restore.clone();
    both_sources["metadata"] = json!({"name": "both-sources", "namespace": "security"});
    both_sources["spec"]["source"]["key"] = json!("security/openbao/x.snap");
    let error = kubectl
        .fails(&[
            "apply",
            "-f",
            &fixture.write("both-sources.json", &both_sources),
        ])
        .await;
    assert!(
        error.contains("set exactly one of source.key or source.latest"),
        "{error}"
    );
    // An unknown provider is a schema (enum) error, which keeps CEL from running, as kube-apiserver does.
    let mut bad_provider = both_sources.clone();
    bad_provider["metadata"]["name"] = json!("bad-provider");
    bad_provider["spec"]["source"] =
        json!({"latest": true, "target": {"provider": "s4", "bucket": "snapshots"}});
    let error = kubectl
        .fails(&[
            "apply",
            "-f",
            &fixture.write("bad-provider.json", &bad_provider),
        ])
        .await;
    assert!(
        error.contains(r#"spec.source.target.provider: Unsupported value: "s4""#)
            && error.contains("some validation rules were not checked"),
        "{error}"
    );
    assert!(
        !error.contains("provider: spec.source"),
        "a cause names its field once: {error}"
    );

    // The restore spec is immutable: a new source.key is refused by the transition rule.
    let by_key_path = deploy_dir().join("samples/restore-by-key-dry-run.yaml");
    let mut by_key = read_yaml_documents(&by_key_path).remove(0);
    by_key["spec"]["source"]["key"] = json!("staging/security/openbao/another.snap");
    let error = kubectl
        .fails(&["apply", "-f", &fixture.write("new-key.json", &by_key)])
        .await;
    assert!(
        error.contains("spec is immutable: create a new OpenBaoRestore instead"),
        "{error}"
    );
    let stored = fixture
        .get_json(&[
            "get",
            "obrestore",
            "openbao-from-staging-check",
            "-n",
            "security",
        ])
        .await;
    assert_eq!(
        stored["spec"]["source"]["key"],
        "staging/security/openbao/20250101T020000Z-scheduled-1a2b3c4d.snap"
    );

    // `-o yaml` round-trips: it parses to what `-o json` shows, and replacing with it keeps spec, status and
    // generation (kubectl replace refreshes the last-applied annotation, so resourceVersion moves as on a cluster).
    let yaml = kubectl
        .run(&["get", "obc", "openbao", "-n", "security", "-o", "yaml"])
        .await;
    let from_yaml: Value = serde_norway::from_str(&yaml).expect("kubectl prints YAML");
    let from_json = fixture
        .get_json(&["get", "obc", "openbao", "-n", "security"])
        .await;
    assert_eq!(from_yaml, from_json);
    let yaml_path = fixture.dir.path().join("openbao.yaml");
    std::fs::write(&yaml_path, &yaml).unwrap();
    kubectl
        .run(&["replace", "-f", yaml_path.to_str().unwrap()])
        .await;
    let after = fixture
        .get_json(&["get", "obc", "openbao", "-n", "security"])
        .await;
    for field in ["spec", "status"] {
        assert_eq!(after[field], from_json[field], "{field} after replace");
    }
    for field in ["uid", "generation", "creationTimestamp"] {
        assert_eq!(
            after["metadata"][field], from_json["metadata"][field],
            "metadata.{field} after replace"
        );
    }
    let list: Value =
        serde_norway::from_str(&kubectl.run(&["get", "obc", "-A", "-o", "yaml"]).await)
            .expect("kubectl prints a YAML list");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["platform-secrets", "security"]);
}

#[tokio::test]
async fn project_crds_and_samples_with_kubectl_on_path() {
    exercise(path_kubectl()).await;
}

#[tokio::test]
async fn project_crds_and_samples_with_kubectl_from_test_tools() {
    exercise(venv_kubectl()).await;
}

//! Defaults kube-apiserver fills in on create for built-in kinds that clients (e.g. `kubectl create job|secret`)
//! leave out and other clients rely on.

use serde_json::{Map, Value, json};

use crate::api::state::Scope;

pub(super) fn on_create(scope: &Scope, object: &mut Map<String, Value>) {
    match (scope.resource.group.as_str(), scope.resource.kind.as_str()) {
        ("", "Secret") => {
            object.entry("type").or_insert_with(|| json!("Opaque"));
        }
        ("batch", "Job") => generate_job_selector(object),
        // apps/v1 defaults; `kubectl rollout status` refuses a StatefulSet without an update strategy.
        ("apps", "StatefulSet") => {
            if let Some(Value::Object(spec)) = object.get_mut("spec") {
                spec.entry("replicas").or_insert_with(|| json!(1));
                spec.entry("podManagementPolicy")
                    .or_insert_with(|| json!("OrderedReady"));
                spec.entry("revisionHistoryLimit")
                    .or_insert_with(|| json!(10));
                let strategy = spec
                    .entry("updateStrategy")
                    .or_insert_with(|| json!({"type": "RollingUpdate"}));
                if strategy["type"] == "RollingUpdate" && !strategy["rollingUpdate"].is_object() {
                    strategy["rollingUpdate"] = json!({"partition": 0});
                }
            }
        }
        _ => {}
    }
}

/// The Job strategy's generated selector: without it `kubectl logs job/x` and `describe job` would match every Pod.
fn generate_job_selector(job: &mut Map<String, Value>) {
    let uid = job["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(Value::Object(spec)) = job.get_mut("spec") else {
        return;
    };
    // A given selector is kept (kube-apiserver would refuse one it did not generate unless `manualSelector`).
    if spec.get("manualSelector") == Some(&json!(true)) || spec.contains_key("selector") {
        return;
    }
    spec.insert(
        "selector".into(),
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
    );
    let template = spec.entry("template").or_insert_with(|| json!({}));
    let labels = &mut template["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (key, value) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("job-name", &name),
    ] {
        labels[key] = json!(value);
    }
}

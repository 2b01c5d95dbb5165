//! `deploy/monitoring/` as the tests use it: the alert groups out of the `PrometheusRule` as a plain Prometheus
//! rule file (optionally with every `for:` shortened), the dashboard's PromQL, and `promtool` runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::promtool::promtool_binary;

pub fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring")
}

pub fn prometheus_rule() -> Value {
    let path = monitoring_dir().join("prometheusrule.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every alerting rule of the `PrometheusRule`, as `(group, rule)`.
pub fn alert_rules() -> Vec<(String, Value)> {
    let rule = prometheus_rule();
    let groups = rule["spec"]["groups"].as_array().expect("spec.groups");
    groups
        .iter()
        .flat_map(|group| {
            let name = group["name"].as_str().unwrap_or_default().to_string();
            group["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |rule| (name.clone(), rule))
        })
        .filter(|(_, rule)| rule.get("alert").is_some())
        .collect()
}

/// The `PrometheusRule`'s groups as a Prometheus rule file; with `for_override`, every `for:` becomes that
/// duration (end-to-end tests cannot wait 15 minutes), nothing else changes.
pub fn rule_file(for_override: Option<&str>) -> String {
    let mut spec = prometheus_rule()["spec"].clone();
    if let Some(duration) = for_override {
        for group in spec["groups"].as_array_mut().expect("spec.groups") {
            for rule in group["rules"].as_array_mut().expect("rules") {
                if let Some(rule) = rule.as_object_mut()
                    && rule.contains_key("for")
                {
                    rule.insert("for".into(), Value::String(duration.into()));
                }
            }
        }
    }
    serde_norway::to_string(&spec).expect("rules serialize")
}

/// Every PromQL expression of the Grafana dashboard, with its panel title; dashboard variables replaced by
/// values Prometheus accepts (`$namespace`/`$cluster` match all, `$__rate_interval` is 5m).
pub fn dashboard_queries() -> Vec<(String, String)> {
    let path = monitoring_dir().join("openbao-operator-dashboard.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default().to_string();
        for target in panel["targets"].as_array().cloned().unwrap_or_default() {
            let expr = target["expr"].as_str().expect("every target has an expr");
            let expr = expr
                .replace("$__rate_interval", "5m")
                .replace("$namespace", ".*")
                .replace("$cluster", ".*");
            queries.push((title.clone(), expr));
        }
    }
    queries
}

/// Runs promtool in `dir`; `Err` carries its output.
pub fn promtool(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(promtool_binary())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "promtool {} failed ({}):\n{text}",
            args.join(" "),
            output.status
        ))
    }
}

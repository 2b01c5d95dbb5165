//! `deploy/monitoring/` checked by Prometheus' own tools: `promtool test rules` runs the alert unit tests of
//! `tests/monitoring/alerts_test.yaml` against the `PrometheusRule` (every alert fires when it should and stays
//! silent when it should not), every dashboard query passes `promtool check rules`, every alert names its
//! cluster and links to a runbook section that exists, and the monitoring kustomization stays out of the default
//! install.

// Only the promtool and monitoring helpers of tests/operator_support (no operator, no world).
#[allow(dead_code)]
#[path = "operator_support/monitoring.rs"]
mod monitoring;
#[allow(dead_code)]
#[path = "operator_support/promtool.rs"]
mod promtool;

use std::collections::BTreeSet;
use std::path::Path;

use monitoring::{alert_rules, dashboard_queries, monitoring_dir, promtool, rule_file};
use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_alert_passes_its_promtool_unit_tests() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rules.yaml"), rule_file(None)).expect("rules.yaml");
    let tests = repo().join("tests/monitoring/alerts_test.yaml");
    let tests_text = std::fs::read_to_string(&tests).expect("alerts_test.yaml");
    std::fs::write(dir.path().join("alerts_test.yaml"), &tests_text).expect("test copy");
    promtool(dir.path(), &["check", "rules", "rules.yaml"])
        .unwrap_or_else(|error| panic!("{error}"));
    promtool(dir.path(), &["test", "rules", "alerts_test.yaml"])
        .unwrap_or_else(|error| panic!("{error}"));

    // Every alert has a case where it fires and one where it is expected silent.
    let cases: Value = serde_norway::from_str(&tests_text).expect("alerts_test.yaml parses");
    let mut fires = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for case in cases["tests"].as_array().expect("tests") {
        for check in case["alert_rule_test"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let name = check["alertname"].as_str().unwrap_or_default().to_string();
            if check["exp_alerts"]
                .as_array()
                .is_some_and(|alerts| alerts.is_empty())
            {
                silent.insert(name);
            } else {
                fires.insert(name);
            }
        }
    }
    for (_, rule) in alert_rules() {
        let name = rule["alert"].as_str().unwrap_or_default();
        assert!(
            fires.contains(name),
            "{name} has no promtool case where it fires"
        );
        assert!(
            silent.contains(name),
            "{name} has no promtool case where it stays silent"
        );
    }
}

/// GitHub's anchor of a Markdown heading: lower case, spaces to dashes, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_alert_has_a_severity_names_its_cluster_and_links_to_a_runbook_section() {
    const BASE: &str = "https://github.com/openbao-operator/openbao-operator/blob/main/";
    let rules = alert_rules();
    assert!(rules.len() >= 7, "{rules:?}");
    for (group, rule) in rules {
        let name = rule["alert"].as_str().unwrap_or_default();
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{group}/{name}: severity {severity:?}"
        );
        let summary = rule["annotations"]["summary"].as_str().unwrap_or_default();
        let expr = rule["expr"].as_str().unwrap_or_default();
        // Alerts about one cluster name it; the operator-wide one has no cluster label to name.
        if !expr.contains("openbao_operator_leader") {
            assert!(
                summary.contains("{{ $labels.cluster }}")
                    && summary.contains("{{ $labels.namespace }}"),
                "{name}: the summary must name the cluster: {summary:?}"
            );
        }
        let url = rule["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_default();
        let (file, section) = url
            .strip_prefix(BASE)
            .and_then(|rest| rest.split_once('#'))
            .unwrap_or_else(|| {
                panic!("{name}: runbook_url {url:?} is not {BASE}docs/runbooks/<file>#<section>")
            });
        assert!(file.starts_with("docs/runbooks/"), "{name}: {url}");
        let text = std::fs::read_to_string(repo().join(file))
            .unwrap_or_else(|error| panic!("{name}: {file}: {error}"));
        let anchors: Vec<String> = text
            .lines()
            .filter_map(|line| line.strip_prefix('#'))
            .map(|line| anchor(line.trim_start_matches('#')))
            .collect();
        assert!(
            anchors.iter().any(|found| found == section),
            "{name}: {file} has no section #{section} (sections: {anchors:?})"
        );
    }
}

#[test]
fn every_dashboard_query_is_valid_promql() {
    let queries = dashboard_queries();
    assert!(queries.len() >= 10, "{queries:?}");
    // Each query becomes a recording rule, which `promtool check rules` parses and checks.
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(index, (_, expr))| {
            serde_json::json!({"record": format!("dashboard:query_{index}"), "expr": expr})
        })
        .collect();
    let file = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("dashboard.yaml"),
        serde_norway::to_string(&file).unwrap(),
    )
    .unwrap();
    promtool(dir.path(), &["check", "rules", "dashboard.yaml"]).unwrap_or_else(|error| {
        panic!("{error}\nqueries:\n{queries:#?}");
    });
}

#[test]
fn monitoring_is_its_own_kustomization_outside_the_default_install() {
    let install = std::fs::read_to_string(repo().join("deploy/kustomization.yaml")).unwrap();
    assert!(
        !install.contains("monitoring"),
        "deploy/kustomization.yaml pulls in monitoring"
    );
    let own: Value = serde_norway::from_str(
        &std::fs::read_to_string(monitoring_dir().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let mut files: Vec<String> = own["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|resource| resource.as_str().unwrap().to_string())
        .collect();
    files.extend(
        own["configMapGenerator"][0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|file| file.as_str().unwrap().to_string()),
    );
    files.sort();
    let mut present: Vec<String> = std::fs::read_dir(monitoring_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "kustomization.yaml")
        .collect();
    present.sort();
    assert_eq!(
        files, present,
        "kustomization.yaml must list exactly the files next to it"
    );
}

#[test]
fn kubectl_kustomize_renders_the_rule_the_monitor_and_the_dashboard() {
    let rendered = openbao_test_harness::kubectl::Kubectl::on_path()
        .in_dir(&monitoring_dir())
        .run(&["kustomize", "."]);
    assert!(
        rendered.status.success(),
        "kubectl kustomize deploy/monitoring failed ({}): {}",
        rendered.status,
        rendered.stderr
    );
    let mut kinds = Vec::new();
    for document in serde_norway::Deserializer::from_str(&rendered.stdout) {
        let object: Value = serde::Deserialize::deserialize(document).expect("a YAML document");
        assert_eq!(
            object["metadata"]["namespace"], "openbao-operator-system",
            "{object}"
        );
        if object["kind"] == "ConfigMap" {
            assert_eq!(object["metadata"]["labels"]["grafana_dashboard"], "1");
            let json = object["data"]["openbao-operator-dashboard.json"]
                .as_str()
                .expect("the dashboard in the ConfigMap");
            let _: Value = serde_json::from_str(json).expect("dashboard JSON");
        }
        kinds.push(object["kind"].as_str().unwrap_or_default().to_string());
    }
    kinds.sort();
    assert_eq!(kinds, ["ConfigMap", "PrometheusRule", "ServiceMonitor"]);
}

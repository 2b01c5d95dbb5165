//! The monitoring proven with a real Prometheus server: it scrapes two operator replicas running against the
//! Kubernetes API simulator (real executor, real OpenBao, real S3) and evaluates the alert rules of
//! `deploy/monitoring/prometheusrule.yaml` (every `for:` shortened to 5 s, scrape and evaluation every second).
//!
//! With a wrong store secret the backups fail and `OpenBaoBackupFailing` becomes firing in Prometheus's own
//! `/api/v1/alerts`; only the leader exports the cluster's series (a `sum()` over both replicas equals status);
//! a new leader and a restarted process export the failure count from status at once (no sample goes back to
//! 0); after the credentials Secret is fixed the backups succeed and the alert resolves.

mod operator_support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use openbao_test_harness::ports::free_port;
use openbao_test_harness::process::ServerProcess;
use operator_support::monitoring::rule_file;
use operator_support::promtool::prometheus_binary;
use operator_support::world::{BackupSettings, CLUSTER, CREDENTIALS_SECRET, World, WorldOptions};
use operator_support::{NAMESPACE, Operator, eventually, wait_ready};
use serde_json::{Value, json};

/// Two failing `* * * * *` windows, Job start-up and Prometheus's own delays on a busy 2-core machine.
const ALERT_DEADLINE: Duration = Duration::from_secs(240);
const TAKEOVER_DEADLINE: Duration = Duration::from_secs(90);
const ALERT: &str = "OpenBaoBackupFailing";

/// A Prometheus server on a free port with its own data dir; killed when dropped (also when the test fails).
struct Prometheus {
    _process: ServerProcess,
    url: String,
    http: reqwest::Client,
}

impl Prometheus {
    fn start(dir: &std::path::Path, targets: &[String]) -> Self {
        std::fs::write(dir.join("rules.yaml"), rule_file(Some("5s"))).expect("rules.yaml");
        let config = json!({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yaml"],
            "scrape_configs": [{
                "job_name": "openbao-operator",
                "static_configs": [{"targets": targets}],
            }],
        });
        std::fs::write(
            dir.join("prometheus.yml"),
            serde_norway::to_string(&config).unwrap(),
        )
        .expect("prometheus.yml");
        let port = free_port().expect("a free port");
        let mut command = Command::new(prometheus_binary());
        command.current_dir(dir).args([
            "--config.file=prometheus.yml".to_string(),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn".to_string(),
        ]);
        let process = ServerProcess::spawn("prometheus", command, &dir.join("prometheus.log"))
            .expect("prometheus starts");
        Self {
            _process: process,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url), query).ok()?;
        let response = self.http.get(url).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        (body["status"] == "success").then(|| body["data"].clone())
    }

    /// The alert as Prometheus's own `/api/v1/alerts` lists it for the world's cluster.
    async fn alert_state(&self, name: &str) -> Option<String> {
        let data = self.api("/api/v1/alerts", &[]).await?;
        Some(
            data["alerts"]
                .as_array()?
                .iter()
                .find(|alert| {
                    alert["labels"]["alertname"] == name && alert["labels"]["cluster"] == CLUSTER
                })
                .map_or_else(
                    || "inactive".to_string(),
                    |alert| alert["state"].as_str().unwrap_or("").to_string(),
                ),
        )
    }

    /// A scalar from an instant query whose result is one sample.
    async fn value(&self, query: &str) -> Option<f64> {
        let data = self.api("/api/v1/query", &[("query", query)]).await?;
        let result = data["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }
}

async fn leader_of<'a>(operators: &'a [&'a Operator]) -> Option<usize> {
    for (index, operator) in operators.iter().enumerate() {
        if let Some((200, body)) = operator.get("/readyz").await
            && body.contains("leader")
            && !body.contains("follower")
        {
            return Some(index);
        }
    }
    None
}

fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// The operator leads and its own `/metrics` shows status's (non-zero) consecutive failures.
async fn exports_status_failures(world: &World, operator: &Operator) -> Option<f64> {
    let (_, text) = operator.get("/metrics").await?;
    let series = format!(
        r#"openbao_backup_consecutive_failures{{namespace="{NAMESPACE}",cluster="{CLUSTER}"}}"#
    );
    let exported = metric_value(&text, &series)?;
    let in_status = world.status().await?.backup?.consecutive_failures;
    (text.contains("openbao_operator_leader 1")
        && exported == f64::from(in_status)
        && exported > 0.0)
        .then_some(exported)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_fires_and_resolves_the_backup_alert() {
    let world = World::start(WorldOptions {
        wrong_store_secret: true,
        ..WorldOptions::default()
    })
    .await;
    let log_a = world.path("operator-a.log");
    let log_b = world.path("operator-b.log");
    let mut a = Operator::start(&world.kubeconfig, &log_a);
    wait_ready(&a).await;
    let mut b = Operator::start(&world.kubeconfig, &log_b);
    wait_ready(&b).await;
    let prometheus_dir = world.path("prometheus");
    std::fs::create_dir_all(&prometheus_dir).unwrap();
    let target = |operator: &Operator| {
        operator
            .metrics_url()
            .trim_start_matches("http://")
            .to_string()
    };
    let prometheus = Prometheus::start(&prometheus_dir, &[target(&a), target(&b)]);
    world.create_cluster(&BackupSettings::default()).await;

    // Broken credentials: failures pile up in status and the alert fires in Prometheus.
    eventually(
        &format!("{ALERT} firing in /api/v1/alerts"),
        ALERT_DEADLINE,
        &log_a,
        || async {
            (prometheus.alert_state(ALERT).await.as_deref() == Some("firing")).then_some(())
        },
    )
    .await;
    let failures_selector = format!(
        r#"openbao_backup_consecutive_failures{{namespace="{NAMESPACE}",cluster="{CLUSTER}"}}"#
    );
    // Two replicas are scraped, one leads, and only it exports the cluster: the sum equals status.
    eventually(
        "sum() over both replicas to equal status",
        TAKEOVER_DEADLINE,
        &log_a,
        || async {
            let in_status = world.status().await?.backup?.consecutive_failures;
            let up = prometheus
                .value(r#"count(up{job="openbao-operator"} == 1)"#)
                .await?;
            let leaders = prometheus.value("sum(openbao_operator_leader)").await?;
            let series = prometheus
                .value(&format!("count({failures_selector})"))
                .await?;
            let sum = prometheus
                .value(&format!("sum({failures_selector})"))
                .await?;
            (up == 2.0
                && leaders == 1.0
                && series == 1.0
                && sum == f64::from(in_status)
                && in_status > 0)
                .then_some(())
        },
    )
    .await;

    // The leader is killed: the follower takes over and exports the count from status at once; then it is
    // killed too and a fresh process (a restart) does the same.
    let leader = eventually(
        "one replica to say it leads",
        TAKEOVER_DEADLINE,
        &log_a,
        || async { leader_of(&[&a, &b]).await },
    )
    .await;
    let (old, successor) = if leader == 0 {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    old.kill();
    let successor_log = successor.log_path().to_path_buf();
    eventually(
        "the follower to lead and export the failures from status",
        TAKEOVER_DEADLINE,
        &successor_log,
        || exports_status_failures(&world, successor),
    )
    .await;
    let log_c = world.path("operator-c.log");
    let c = Operator::start(&world.kubeconfig, &log_c);
    if leader == 0 {
        b.kill();
    } else {
        a.kill();
    }
    wait_ready(&c).await;
    eventually(
        "the restarted process to lead and export the failures from status",
        TAKEOVER_DEADLINE,
        &log_c,
        || exports_status_failures(&world, &c),
    )
    .await;
    // Prometheus's own record: once above 0, no sample of any replica went back to 0 while the credentials were
    // still wrong.
    let history = prometheus
        .api(
            "/api/v1/query",
            &[("query", &format!("{failures_selector}[10m]"))],
        )
        .await
        .expect("range query");
    for series in history["result"].as_array().expect("matrix") {
        let values: Vec<f64> = series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| pair[1].as_str().unwrap().parse().unwrap())
            .collect();
        if let Some(first) = values.iter().position(|value| *value > 0.0) {
            assert!(
                values[first..].iter().all(|value| *value > 0.0),
                "a state gauge went back to 0 across a failover or restart: {}: {values:?}",
                series["metric"]
            );
        }
    }

    // Fix the credentials: the next backup succeeds and the alert resolves.
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), NAMESPACE);
    secrets
        .patch(
            CREDENTIALS_SECRET,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"stringData": {"AWS_SECRET_ACCESS_KEY": world.store.secret_key()}}),
            ),
        )
        .await
        .expect("credentials Secret fixed");
    eventually(
        &format!("{ALERT} to resolve after the fix"),
        ALERT_DEADLINE,
        &log_c,
        || async {
            let status = world.status().await?.backup?;
            let state = prometheus.alert_state(ALERT).await?;
            (status.consecutive_failures == 0
                && status.last_backup_key.is_some()
                && state == "inactive")
                .then_some(())
        },
    )
    .await;
    drop(prometheus);
    drop(c);
}

//! Operator scale benchmark: the operator process against the Kubernetes API simulator, whose Job runner maps the
//! executor image to a no-op program. N OpenBaoClusters (default 1,000) share one scheduled window; the bench
//! prints the operator's peak RSS, how long after the window each backup Job was created (p50/p99/max), how many
//! Jobs there are, and the operator's CPU use once everything is idle. Figures, not pass/fail.
//! Run through `scripts/bench-operator.sh`.
//!
//! Usage: `bench_operator <operator binary> [clusters] [no-op program]` (defaults: 1000, `/bin/true`).
//! `BENCH_OPERATOR_LOG=<file>` keeps the operator's log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use openbao_test_harness::operator::{OperatorLaunch, OperatorProcess};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Timelike, Utc};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ListParams, PostParams};
use kube::runtime::watcher;
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;
use openbao_crds::OpenBaoCluster;
use serde::Deserialize;

const NAMESPACE: &str = "default";
const IMAGE: &str = "openbao-operator:bench";
const JOB_SELECTOR: &str = "openbao.org/operation=backup";
/// Time to create every cluster and let the operator schedule them before the shared window opens.
const LEAD_TIME: Duration = Duration::from_secs(90);
const IDLE_SAMPLE: Duration = Duration::from_secs(30);
const CREATE_CONCURRENCY: usize = 16;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let operator_bin = PathBuf::from(
        args.next()
            .expect("usage: bench_operator <operator binary> [clusters] [no-op program]"),
    );
    let clusters: usize = args
        .next()
        .map_or(1000, |n| n.parse().expect("cluster count"));
    let no_op = PathBuf::from(args.next().unwrap_or_else(|| "/bin/true".into()));
    assert!(
        operator_bin.is_file(),
        "{} is not a file",
        operator_bin.display()
    );

    let work = tempfile::tempdir().expect("temp dir");
    let controllers = ControllersConfig::new(work.path().join("pods"), work.path().join("logs"))
        .image(IMAGE, &no_op);
    // Real API servers keep minutes of history; 1,000 clusters write far more than the default 10,000 changes.
    let sim = Sim::builder()
        .history_limit(500_000)
        .controllers(controllers)
        .start()
        .await
        .expect("simulator starts");
    let kubeconfig = work.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let client = sim.client().await.expect("client");
    apply_crds(&client).await;
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "bench-s3", "namespace": NAMESPACE},
        "stringData": {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
        .expect("credentials Secret");

    let log = work.path().join("operator.log");
    let operator = start_operator(&operator_bin, &kubeconfig, &log);
    wait_ready(&operator).await;
    let rss_samples = sample_rss(operator.pid());
    // Scraping 1,000 clusters' series every second costs the operator CPU and memory: opt-in diagnostics.
    let max_mailbox = std::env::var_os("BENCH_SAMPLE_MAILBOXES")
        .map(|_| sample_mailboxes(format!("{}/metrics", operator.metrics_url())));

    let window = next_minute_after(Utc::now() + LEAD_TIME);
    let schedule = format!("{} {} * * *", window.minute(), window.hour());
    println!(
        "{clusters} clusters, schedule {schedule:?} (window {window}), no-op Job program {}",
        no_op.display()
    );
    let job_seen = watch_jobs(client.clone());
    let created = Instant::now();
    create_clusters(&client, clusters, &schedule).await;
    println!(
        "created {clusters} clusters in {:.1} s",
        created.elapsed().as_secs_f64()
    );
    assert!(
        Utc::now() + chrono::Duration::seconds(5) < window,
        "creating the clusters took past the window; raise LEAD_TIME"
    );
    // The steady state before the burst: every cluster scheduled, nothing running. Idle CPU is sampled over
    // the 30 s that end 3 s before the window (creating the clusters took a few seconds of the lead time).
    let sample_start = (window - chrono::Duration::seconds(33) - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(sample_start).await;
    let scheduled_idle_cpu = cpu_percent_over(operator.pid(), IDLE_SAMPLE).await;
    let scheduled_rss = status_kib(operator.pid(), "VmRSS:").unwrap_or(0);
    println!(
        "operator RSS with {clusters} clusters scheduled, 3 s before the window: {:.1} MiB",
        scheduled_rss as f64 / 1024.0
    );

    let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
    let window_system: SystemTime = window.into();
    // Counted by listing: a stalled watch must not hide Jobs (the watch only adds millisecond timing).
    wait_for_async(
        "every backup Job to be created",
        Duration::from_secs(900),
        || {
            let jobs = jobs.clone();
            async move {
                let count = jobs
                    .list(&ListParams::default().labels(JOB_SELECTOR))
                    .await
                    .map_err(|error| error.to_string())?
                    .items
                    .len();
                (count >= clusters)
                    .then_some(())
                    .ok_or(format!("{count}/{clusters} Jobs"))
            }
        },
    )
    .await;
    println!(
        "all {clusters} Jobs listed {:.1} s after the window; operator RSS so far {:.1} MiB",
        seconds_since(window_system),
        peak_rss_kib(operator.pid()) as f64 / 1024.0
    );
    let finished = wait_for_async(
        "every Job to finish and every lock to be released",
        Duration::from_secs(1800),
        || {
            let jobs = jobs.clone();
            let client = client.clone();
            async move {
                let list = jobs
                    .list(&ListParams::default().labels(JOB_SELECTOR))
                    .await
                    .map_err(|e| e.to_string())?;
                let done = list.items.iter().filter(|job| job_finished(job)).count();
                let clusters_api: Api<OpenBaoCluster> = Api::namespaced(client, NAMESPACE);
                let locked = clusters_api
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?
                    .items
                    .iter()
                    .filter(|c| {
                        c.status
                            .as_ref()
                            .and_then(|s| s.operation_lock.as_ref())
                            .is_some()
                    })
                    .count();
                let total = list.items.len();
                if done == total && locked == 0 {
                    Ok(list.items)
                } else {
                    Err(format!("{done}/{total} Jobs finished, {locked} locks held"))
                }
            }
        },
    )
    .await;
    println!(
        "all Jobs finished and locks released {:.1} s after the window",
        seconds_since(window_system)
    );

    // Two samples: the first may still see the tail of the burst (late watch events), the second is idle.
    let settling_cpu_percent = cpu_percent_over(operator.pid(), IDLE_SAMPLE).await;
    let idle_cpu_percent = cpu_percent_over(operator.pid(), IDLE_SAMPLE).await;

    let from_creation: Vec<f64> = finished
        .iter()
        .filter_map(|job| {
            let created = job.metadata.creation_timestamp.as_ref()?;
            let created: SystemTime = created.0.into();
            Some(signed_seconds(created, window_system))
        })
        .collect();
    let from_watch: Vec<f64> = job_seen
        .lock()
        .unwrap()
        .values()
        .map(|seen| signed_seconds(*seen, window_system))
        .collect();
    let peak_rss = peak_rss_kib(operator.pid());
    let sampled_max = rss_samples
        .lock()
        .unwrap()
        .iter()
        .copied()
        .max()
        .unwrap_or(0);

    println!();
    println!(
        "operator RSS, all scheduled:        {:.1} MiB (3 s before the window)",
        scheduled_rss as f64 / 1024.0
    );
    println!(
        "operator CPU, all scheduled, idle:  {scheduled_idle_cpu:.2} % of one core (30 s before the window)"
    );
    println!(
        "operator peak RSS (VmHWM):          {:.1} MiB (max sampled VmRSS {:.1} MiB; target <= 100 MiB)",
        peak_rss as f64 / 1024.0,
        sampled_max as f64 / 1024.0
    );
    if let Some(max_mailbox) = max_mailbox {
        println!(
            "most messages queued in all actor mailboxes at once: {} (sampled every second)",
            max_mailbox.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    println!(
        "backup Jobs created:                {} (expected {clusters})",
        finished.len()
    );
    println!(
        "window -> Job creationTimestamp:    {} (1 s resolution; target max <= 10 s)",
        summary(from_creation)
    );
    println!(
        "window -> Job seen by a watch:      {}",
        summary(from_watch)
    );
    println!(
        "operator CPU while idle ({:.0} s):    {idle_cpu_percent:.2} % of one core (the {0:.0} s before: {settling_cpu_percent:.2} %)",
        IDLE_SAMPLE.as_secs_f64()
    );
    println!(
        "operator RSS at the end:            {:.1} MiB",
        status_kib(operator.pid(), "VmRSS:").unwrap_or(0) as f64 / 1024.0
    );
    println!(
        "bench process (simulator) peak RSS: {:.1} MiB",
        peak_rss_kib(std::process::id()) as f64 / 1024.0
    );
    if let Some(keep) = std::env::var_os("BENCH_OPERATOR_LOG") {
        std::fs::copy(&log, &keep).expect("copying the operator log");
    }
    drop(operator);
    drop(sim);
}

async fn cpu_percent_over(pid: u32, period: Duration) -> f64 {
    let before = cpu_ticks(pid);
    let started = Instant::now();
    tokio::time::sleep(period).await;
    let after = cpu_ticks(pid);
    (after - before) as f64 / clock_ticks_per_second() / started.elapsed().as_secs_f64() * 100.0
}

/// The operator process (the test harness's guarded launcher); killed when the bench ends, also on a panic.
fn start_operator(binary: &Path, kubeconfig: &Path, log: &Path) -> OperatorProcess {
    let launch = OperatorLaunch {
        namespace: NAMESPACE.into(),
        pod_name: "bench-operator".into(),
        executor_image: IMAGE.into(),
        ..OperatorLaunch::new(binary, kubeconfig, log)
    };
    launch.start().expect("the operator starts")
}

async fn wait_ready(operator: &OperatorProcess) {
    if let Err(timeout) = operator.wait_ready(Duration::from_secs(60)).await {
        panic!(
            "the operator did not get ready: {timeout}; log:\n{}",
            operator.log_tail(60)
        );
    }
}

async fn apply_crds(client: &kube::Client) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/crds/crds.yaml"
    ))
    .expect("deploy/crds/crds.yaml");
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for document in serde_norway::Deserializer::from_str(&text) {
        let crd = CustomResourceDefinition::deserialize(document).expect("a CRD");
        api.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
}

async fn create_clusters(client: &kube::Client, count: usize, schedule: &str) {
    let api: Api<OpenBaoCluster> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter(0..count)
        .map(|index| {
            let api = api.clone();
            let cluster: OpenBaoCluster = serde_json::from_value(serde_json::json!({
                "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
                "metadata": {"name": format!("c{index:04}"), "namespace": NAMESPACE},
                "spec": {
                    "version": "2.7.2",
                    "allowPlainHttp": true,
                    "endpoint": "http://127.0.0.1:9",
                    "backup": {
                        "schedule": schedule,
                        "target": {
                            "provider": "s3", "bucket": "bench",
                            "s3": {"endpoint": "http://127.0.0.1:9", "region": "us-east-1", "forcePathStyle": true},
                            "credentialsSecretRef": {"name": "bench-s3"},
                        },
                        "auth": {"jwt": {"role": "backup"}},
                    },
                },
            }))
            .unwrap();
            async move { api.create(&PostParams::default(), &cluster).await.map(|_| ()) }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .expect("clusters created");
}

/// Records when a watch first saw each backup Job (millisecond resolution, unlike creationTimestamp).
fn watch_jobs(client: kube::Client) -> Arc<Mutex<HashMap<String, SystemTime>>> {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let record = seen.clone();
    let jobs: Api<Job> = Api::namespaced(client, NAMESPACE);
    tokio::spawn(async move {
        let stream = watcher(jobs, watcher::Config::default().labels(JOB_SELECTOR));
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) = event
                && let Some(name) = job.metadata.name
            {
                record
                    .lock()
                    .unwrap()
                    .entry(name)
                    .or_insert_with(SystemTime::now);
            }
        }
    });
    seen
}

fn sample_rss(pid: u32) -> Arc<Mutex<Vec<u64>>> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let record = samples.clone();
    tokio::spawn(async move {
        while let Some(kib) = status_kib(pid, "VmRSS:") {
            record.lock().unwrap().push(kib);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    samples
}

/// The largest sum of `openbao_actor_mailbox_depth` over all actors seen on `/metrics`.
fn sample_mailboxes(url: String) -> Arc<std::sync::atomic::AtomicU64> {
    let max = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let record = max.clone();
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client.get(&url).send().await
                && let Ok(text) = response.text().await
            {
                let total: f64 = text
                    .lines()
                    .filter(|line| line.starts_with("openbao_actor_mailbox_depth{"))
                    .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum();
                record.fetch_max(total as u64, std::sync::atomic::Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    max
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:").unwrap_or(0)
}

/// utime + stime of a process in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // After the command name: state is field 3 of stat(5), utime 14, stime 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn next_minute_after(at: DateTime<Utc>) -> DateTime<Utc> {
    let truncated = at.with_second(0).unwrap().with_nanosecond(0).unwrap();
    truncated + chrono::Duration::minutes(1)
}

fn job_finished(job: &Job) -> bool {
    job.status.as_ref().is_some_and(|status| {
        status.conditions.iter().flatten().any(|condition| {
            (condition.type_ == "Complete" || condition.type_ == "Failed")
                && condition.status == "True"
        })
    })
}

fn signed_seconds(at: SystemTime, reference: SystemTime) -> f64 {
    match at.duration_since(reference) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

fn seconds_since(reference: SystemTime) -> f64 {
    signed_seconds(SystemTime::now(), reference)
}

/// `p50 … p99 … max …` of the values, in seconds.
fn summary(mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return "no values".into();
    }
    values.sort_by(f64::total_cmp);
    let at = |quantile: f64| values[((values.len() - 1) as f64 * quantile).round() as usize];
    format!(
        "p50 {:.2} s, p99 {:.2} s, max {:.2} s (min {:.2} s, n={})",
        at(0.5),
        at(0.99),
        values[values.len() - 1],
        values[0],
        values.len()
    )
}

async fn wait_for_async<T, F, Fut>(what: &str, deadline: Duration, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            started.elapsed() < deadline,
            "{what}: not done after {deadline:?}; last: {last}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

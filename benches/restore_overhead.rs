//! Restore overhead: from creating an `OpenBaoRestore` (what `kubectl apply` does) to `Completed`, on the
//! Kubernetes API simulator whose kubelet runs the real executor against a real OpenBao node and a real S3
//! server, next to what the executor itself spent (the preflight's dry run and the restore, from their
//! reports). The difference is the operator's share: validation, the lock, Job scheduling, status writes.
//! Figures, not pass/fail. Run through `scripts/bench-restore.sh`.
//!
//! Usage: `cargo bench --bench restore_overhead -- [--runs N] [--mib SIZE]` (defaults: 5 runs, 64 MiB).

#[path = "../tests/operator_support/mod.rs"]
mod operator_support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use openbao_crds::{OpenBaoRestore, RestorePhase};
use operator_support::world::{BackupSettings, World, WorldOptions};
use operator_support::{NAMESPACE, Operator, eventually, wait_ready};
use serde_json::json;

const VALUE_BYTES: usize = 512 << 10;
const DEADLINE: Duration = Duration::from_secs(900);

struct Run {
    end_to_end: f64,
    validated: f64,
    locked: f64,
    preflight_executor: f64,
    restore_executor: f64,
    accepted: f64,
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a whole number"))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The executor report of the Pod of `job` (its termination message).
async fn report_of(world: &World, job: &str) -> serde_json::Value {
    let pods = Api::<Pod>::namespaced(world.client.clone(), NAMESPACE)
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .expect("Pods");
    pods.items
        .iter()
        .flat_map(|pod| pod.status.iter())
        .flat_map(|status| status.container_statuses.iter().flatten())
        .filter_map(|container| {
            container
                .state
                .as_ref()?
                .terminated
                .as_ref()?
                .message
                .clone()
        })
        .find_map(|message| serde_json::from_str(&message).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn since(created: DateTime<Utc>, at: Option<DateTime<Utc>>) -> f64 {
    at.map_or(f64::NAN, |at| {
        (at - created).num_milliseconds() as f64 / 1000.0
    })
}

async fn one_restore(world: &World, operator: &Operator, name: &str) -> Run {
    let started = Instant::now();
    let created = world
        .create_restore(name, json!({"source": {"latest": true}}))
        .await;
    let created_at = created
        .metadata
        .creation_timestamp
        .map(|t| DateTime::<Utc>::from_timestamp_micros(t.0.as_microsecond()).unwrap())
        .unwrap_or_else(Utc::now);
    let done: OpenBaoRestore = eventually(
        &format!("{name} completes"),
        DEADLINE,
        operator.log_path(),
        || async {
            let request = world.restores().get(name).await.ok()?;
            let phase = request.status.as_ref()?.phase?;
            assert_ne!(phase, RestorePhase::Failed, "{:?}", request.status);
            (phase == RestorePhase::Completed).then_some(request)
        },
    )
    .await;
    let end_to_end = started.elapsed().as_secs_f64();
    let status = done.status.expect("status");
    let transition = |type_: &str| {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| c.last_transition_time.0)
            .map(|t| DateTime::<Utc>::from_timestamp_micros(t.as_microsecond()).unwrap())
    };
    let preflight_job = world
        .restore_jobs_of(name)
        .await
        .into_iter()
        .filter_map(|job| job.metadata.name)
        .find(|job| job.contains("restore-check"));
    let preflight = match preflight_job {
        Some(job) => report_of(world, &job).await,
        None => serde_json::Value::Null,
    };
    let restore = report_of(world, status.job_name.as_deref().unwrap_or_default()).await;
    Run {
        end_to_end,
        validated: since(created_at, transition("Validated")),
        locked: since(created_at, transition("LockAcquired")),
        preflight_executor: preflight["durationSeconds"].as_f64().unwrap_or(f64::NAN),
        restore_executor: restore["durationSeconds"].as_f64().unwrap_or(f64::NAN),
        accepted: restore["restoreAcceptedSeconds"]
            .as_f64()
            .unwrap_or(f64::NAN),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs = arg("--runs", 5);
    let mib = arg("--mib", 64);
    let world = World::start(WorldOptions {
        kv_secrets: 0,
        ..WorldOptions::default()
    })
    .await;
    world
        .bao
        .write_secrets("bulk", mib * (1 << 20) / VALUE_BYTES, VALUE_BYTES)
        .await
        .expect("data written");
    let operator = Operator::start(&world.kubeconfig, &world.path("operator.log"));
    wait_ready(&operator).await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    world.trigger_backup("bench").await;
    let size = eventually("the backup", DEADLINE, operator.log_path(), || async {
        let backup = world.status().await?.backup?;
        backup.last_backup_key.as_ref()?;
        backup.recovery_points.first().map(|point| point.size)
    })
    .await;
    println!(
        "restore overhead: {runs} runs of a {:.0} MiB snapshot (OpenBao 1 node, S3, simulator, release build)",
        size as f64 / (1 << 20) as f64
    );
    println!(
        "| run | end to end | validated at | lock at | preflight executor | restore executor | accepted | operator share |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for run in 0..runs {
        world.bao.wait_healthy().await.expect("OpenBao healthy");
        let result = one_restore(&world, &operator, &format!("bench-{run}")).await;
        let share = result.end_to_end - result.preflight_executor - result.restore_executor;
        println!(
            "| {run} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {share:.2} s |",
            result.end_to_end,
            result.validated,
            result.locked,
            result.preflight_executor,
            result.restore_executor,
            result.accepted
        );
        results.push(result);
    }
    let pick = |f: fn(&Run) -> f64| median(results.iter().map(f).collect());
    let end_to_end = pick(|r| r.end_to_end);
    let executors = pick(|r| r.preflight_executor + r.restore_executor);
    println!(
        "median: end to end {end_to_end:.2} s, executors {executors:.2} s (preflight {:.2} s + restore {:.2} s), \
         operator share {:.2} s",
        pick(|r| r.preflight_executor),
        pick(|r| r.restore_executor),
        pick(|r| r.end_to_end - r.preflight_executor - r.restore_executor),
    );
}

//! The operator's write mix during a shared backup window, without controllers: per cluster a lock grant (status
//! merge patch with a resourceVersion precondition), a backup Job create, an Event create and a backup-status patch
//! (read, patch with precondition, retry on 409), with watchers on clusters, labelled Jobs, Pods and Events open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube_sim::Sim;
use serde_json::json;

use crate::figures::summary;
use crate::fixtures::{self, JOB_SELECTOR, NAMESPACE};
use crate::watchers::Recorder;

const CREATE_CONCURRENCY: usize = 16;
/// Concurrent backup rounds: the operator's supervisors run in parallel.
const ROUND_CONCURRENCY: usize = 64;
const WRITES_PER_ROUND: usize = 4;
const MAX_CONFLICT_RETRIES: usize = 10;

#[derive(Clone)]
struct Apis {
    clusters: Api<DynamicObject>,
    jobs: Api<Job>,
    events: Api<Event>,
}

#[derive(Default)]
struct RoundFigures {
    write_latencies: Vec<Duration>,
    conflicts: usize,
    reads: usize,
}

pub async fn run(clusters: usize) -> anyhow::Result<()> {
    let sim = Sim::builder().history_limit(500_000).start().await?;
    let client = sim.client().await?;
    fixtures::apply_project_crds(&client).await?;
    let apis = Apis {
        clusters: fixtures::clusters(&client),
        jobs: Api::namespaced(client.clone(), NAMESPACE),
        events: Api::namespaced(client.clone(), NAMESPACE),
    };

    let started = Instant::now();
    futures::stream::iter(0..clusters)
        .map(|index| {
            let api = apis.clusters.clone();
            async move {
                let cluster = fixtures::cluster(&format!("c{index:04}"))?;
                api.create(&PostParams::default(), &cluster).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "mix: created {clusters} OpenBaoClusters (CRD schema + CEL) in {secs:.2} s = {:.0} creates/s ({CREATE_CONCURRENCY} concurrent)",
        clusters as f64 / secs
    );

    let cluster_watch = Recorder::start(apis.clusters.clone(), watcher::Config::default());
    let job_watch = Recorder::start(
        apis.jobs.clone(),
        watcher::Config::default().labels(JOB_SELECTOR),
    );
    let _pod_watch = Recorder::start(Api::<Pod>::all(client.clone()), watcher::Config::default());
    let event_watch = Recorder::start(apis.events.clone(), watcher::Config::default());
    if !cluster_watch
        .wait_for(clusters, Duration::from_secs(60))
        .await
    {
        anyhow::bail!("the cluster watcher did not list every cluster");
    }

    let job_sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let figures: Arc<Mutex<RoundFigures>> = Arc::default();
    let started = Instant::now();
    futures::stream::iter(0..clusters)
        .map(|index| {
            let apis = apis.clone();
            let job_sent = job_sent.clone();
            let figures = figures.clone();
            async move { backup_round(&apis, &format!("c{index:04}"), &job_sent, &figures).await }
        })
        .buffer_unordered(ROUND_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    let secs = started.elapsed().as_secs_f64();
    let figures = std::mem::take(&mut *figures.lock().unwrap());
    let writes = clusters * WRITES_PER_ROUND + figures.conflicts;
    println!(
        "mix: {writes} writes ({clusters} x lock patch, Job create, Event create, status patch; {} 409s) and {} reads in {secs:.2} s = {:.0} writes/s, {:.0} requests/s ({ROUND_CONCURRENCY} concurrent rounds)",
        figures.conflicts,
        figures.reads,
        writes as f64 / secs,
        (writes + figures.reads) as f64 / secs,
    );
    println!(
        "mix: write latency {}",
        summary(figures.write_latencies, false)
    );

    let all_jobs_seen = job_watch.wait_for(clusters, Duration::from_secs(60)).await;
    let job_sent = job_sent.lock().unwrap().clone();
    println!(
        "mix: Job watcher (label selector) saw {}/{clusters} Jobs{}; Job create sent -> watch event {}",
        job_watch.distinct(),
        if all_jobs_seen { "" } else { " (MISSING JOBS)" },
        summary(job_watch.delays_after(&job_sent), false)
    );
    // Listed once, then modified twice per round.
    let cluster_events = 3 * clusters;
    let clusters_complete = cluster_watch
        .wait_for_events(cluster_events, Duration::from_secs(60))
        .await;
    let events_complete = event_watch
        .wait_for(clusters, Duration::from_secs(60))
        .await;
    println!(
        "mix: cluster watcher got {}/{cluster_events} events{}, Event watcher saw {}/{clusters} Events{}",
        cluster_watch.seen.lock().unwrap().events,
        if clusters_complete { "" } else { " (MISSING)" },
        event_watch.distinct(),
        if events_complete { "" } else { " (MISSING)" },
    );
    Ok(())
}

async fn backup_round(
    apis: &Apis,
    name: &str,
    job_sent: &Mutex<HashMap<String, Instant>>,
    figures: &Mutex<RoundFigures>,
) -> anyhow::Result<()> {
    let params = PatchParams {
        field_manager: Some("openbao-operator".to_string()),
        ..PatchParams::default()
    };
    let timed = |at: Instant| figures.lock().unwrap().write_latencies.push(at.elapsed());

    let current = apis.clusters.get(name).await?;
    figures.lock().unwrap().reads += 1;
    let uid = current.metadata.uid.clone().unwrap_or_default();
    let now = fixtures::now();
    let lock = json!({
        "metadata": {"resourceVersion": current.metadata.resource_version},
        "status": {
            "operationLock": {"operation": "Backup", "holder": "backup/scheduled", "message": "scheduled backup",
                "acquiredAt": now, "renewedAt": now, "epoch": 1},
            "lastLockEpoch": 1,
        },
    });
    let at = Instant::now();
    apis.clusters
        .patch_status(name, &params, &Patch::Merge(&lock))
        .await?;
    timed(at);

    let job = fixtures::backup_job(name, Some(&uid))?;
    let at = Instant::now();
    job_sent
        .lock()
        .unwrap()
        .insert(job.metadata.name.clone().unwrap_or_default(), at);
    apis.jobs.create(&PostParams::default(), &job).await?;
    timed(at);

    let at = Instant::now();
    apis.events
        .create(&PostParams::default(), &fixtures::backup_event(name, &uid)?)
        .await?;
    timed(at);

    for _ in 0..MAX_CONFLICT_RETRIES {
        let current = apis.clusters.get(name).await?;
        figures.lock().unwrap().reads += 1;
        let patch = json!({
            "metadata": {"resourceVersion": current.metadata.resource_version},
            "status": {
                "backup": {"lastAttemptTime": now, "lastAttemptScheduledTime": now},
                "conditions": [{"type": "BackingUp", "status": "True", "reason": "JobCreated",
                    "message": "backup Job created", "lastTransitionTime": now}],
            },
        });
        let at = Instant::now();
        match apis
            .clusters
            .patch_status(name, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                timed(at);
                return Ok(());
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                figures.lock().unwrap().conflicts += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
    anyhow::bail!("{name}: status kept conflicting")
}

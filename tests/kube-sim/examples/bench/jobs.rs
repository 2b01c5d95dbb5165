//! N operator-like backup Jobs run to completion by the Job controller and the kubelet, the image mapped to a no-op
//! program: how long after its create each Job is Complete.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use kube_sim::Sim;
use kube_sim::controllers::ControllersConfig;

use crate::figures::summary;
use crate::fixtures::{self, JOB_SELECTOR, NAMESPACE, NO_OP_IMAGE};

const CREATE_CONCURRENCY: usize = 16;
const DEADLINE: Duration = Duration::from_secs(900);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub async fn run(count: usize) -> anyhow::Result<()> {
    let no_op = which_true()?;
    let work = tempfile::tempdir()?;
    let controllers = ControllersConfig::new(work.path().join("pods"), work.path().join("logs"))
        .image(NO_OP_IMAGE, &no_op);
    let sim = Sim::builder()
        .history_limit(500_000)
        .controllers(controllers)
        .start()
        .await?;
    let client = sim.client().await?;
    fixtures::job_prerequisites(&client).await?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);

    let completions = watcher(
        jobs.clone(),
        watcher::Config::default().labels(JOB_SELECTOR),
    );
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let completion_task = tokio::spawn(async move {
        futures::pin_mut!(completions);
        while let Some(event) = completions.next().await {
            if let Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) = event
                && finished(&job)
            {
                let _ = done_tx.send((job.metadata.name.unwrap_or_default(), Instant::now()));
            }
        }
    });

    let started = Instant::now();
    let created: HashMap<String, Instant> = futures::stream::iter(0..count)
        .map(|index| {
            let jobs = jobs.clone();
            async move {
                let job = fixtures::backup_job(&format!("c{index:04}"), None)?;
                jobs.create(&PostParams::default(), &job).await?;
                anyhow::Ok((job.metadata.name.unwrap_or_default(), Instant::now()))
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect()
        .await?;
    let last_create = Instant::now();
    println!(
        "jobs: created {count} Jobs in {:.2} s ({CREATE_CONCURRENCY} concurrent)",
        started.elapsed().as_secs_f64()
    );

    let mut done: HashMap<String, Instant> = HashMap::new();
    let mut progress = tokio::time::interval(PROGRESS_EVERY);
    progress.tick().await;
    while done.len() < count {
        tokio::select! {
            finished = done_rx.recv() => match finished {
                Some((name, at)) => { done.entry(name).or_insert(at); }
                None => anyhow::bail!("the Job watcher ended"),
            },
            _ = progress.tick() => {
                println!("jobs: {}/{count} finished {:.0} s after the last create", done.len(), last_create.elapsed().as_secs_f64());
                anyhow::ensure!(started.elapsed() < DEADLINE, "Jobs did not finish within {DEADLINE:?}");
            }
        }
    }
    completion_task.abort();
    let all_done = done.values().max().copied().unwrap_or(last_create);
    let delays: Vec<Duration> = created
        .iter()
        .filter_map(|(name, at)| done.get(name).map(|d| d.saturating_duration_since(*at)))
        .collect();
    println!(
        "jobs: all {count} Jobs finished {:.1} s after the last create ({:.1} s after the first); create -> finished {}",
        all_done
            .saturating_duration_since(last_create)
            .as_secs_f64(),
        all_done.saturating_duration_since(started).as_secs_f64(),
        summary(delays, true)
    );
    Ok(())
}

fn finished(job: &Job) -> bool {
    job.status.as_ref().is_some_and(|status| {
        status.conditions.iter().flatten().any(|condition| {
            (condition.type_ == "Complete" || condition.type_ == "Failed")
                && condition.status == "True"
        })
    })
}

fn which_true() -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("true"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| anyhow::anyhow!("no `true` program on PATH"))
}

//! Request throughput with 1,000 ConfigMaps and watch-event latency (p50/p99) across 100 watchers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube_sim::Sim;
use serde_json::json;

const OBJECTS: usize = 1_000;
const WATCHERS: usize = 100;
const UPDATES: usize = 200;

use crate::figures::percentile;

pub async fn run() -> anyhow::Result<()> {
    let sim = Sim::builder().start().await?;
    let client = sim.client().await?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let started = Instant::now();
    let mut creates = futures::stream::iter(0..OBJECTS)
        .map(|i| {
            let api = api.clone();
            async move {
                let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("cm-{i:04}")}, "data": {"i": i.to_string()}}))?;
                api.create(&PostParams::default(), &cm).await.map(|_| ()).map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(16);
    while let Some(result) = creates.next().await {
        result?;
    }
    let create_secs = started.elapsed().as_secs_f64();
    println!(
        "create: {OBJECTS} objects in {create_secs:.2}s = {:.0} req/s (16 concurrent)",
        OBJECTS as f64 / create_secs
    );

    let started = Instant::now();
    for _ in 0..20 {
        let listed = api.list(&ListParams::default()).await?;
        assert!(listed.items.len() >= OBJECTS);
    }
    println!(
        "list: 20 full lists of {OBJECTS} objects in {:.2}s = {:.1} ms/list",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1000.0 / 20.0
    );

    let rv = api
        .list(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; UPDATES]));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut stream = api
            .watch(&WatchParams::default().timeout(290), &rv)
            .await?
            .boxed();
        let sent = sent.clone();
        let latencies = latencies.clone();
        watchers.push(tokio::spawn(async move {
            let mut received = 0;
            while received < UPDATES {
                let Some(Ok(WatchEvent::Modified(cm))) = stream.next().await else {
                    continue;
                };
                let index: usize = cm
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("bench/seq"))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(usize::MAX);
                if let Some(Some(at)) = sent.lock().unwrap().get(index) {
                    latencies.lock().unwrap().push(at.elapsed());
                }
                received += 1;
            }
        }));
    }
    let started = Instant::now();
    for i in 0..UPDATES {
        sent.lock().unwrap()[i] = Some(Instant::now());
        let patch =
            Patch::Merge(json!({"metadata": {"annotations": {"bench/seq": i.to_string()}}}));
        api.patch(
            &format!("cm-{:04}", i % OBJECTS),
            &PatchParams::default(),
            &patch,
        )
        .await?;
    }
    let patch_secs = started.elapsed().as_secs_f64();
    for watcher in watchers {
        tokio::time::timeout(Duration::from_secs(120), watcher).await??;
    }
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    println!(
        "patch: {UPDATES} sequential patches with {WATCHERS} watchers open in {patch_secs:.2}s = {:.0} req/s",
        UPDATES as f64 / patch_secs
    );
    println!(
        "watch latency over {} deliveries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    Ok(())
}

//! Watch delivery under load: every object created concurrently reaches every watcher (kube-runtime and raw), also
//! when the watch starts mid-stream from a paged list, with a label selector, and across bookmarks.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kube_sim::Sim;
use serde_json::json;
use tokio::task::JoinHandle;

const JOBS: usize = 1_000;
const CREATORS: usize = 8;
const SELECTED: &str = "delivery=selected";
/// Generous: the machine running the tests is busy.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(120);

/// Names in an order scattered over the key space, so creates land before and after any list page boundary.
fn job_name(index: usize) -> String {
    format!("job-{:04}", (index * 7919) % JOBS)
}

fn is_selected(index: usize) -> bool {
    !index.is_multiple_of(3)
}

fn job(index: usize) -> Job {
    let selected = if is_selected(index) {
        "selected"
    } else {
        "other"
    };
    serde_json::from_value(json!({
        "metadata": {"name": job_name(index), "labels": {"delivery": selected}},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "example.org/no-op"}]}}},
    }))
    .unwrap()
}

/// Names a watcher has seen; the task stops when dropped.
struct Seen {
    names: Arc<Mutex<BTreeSet<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Seen {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Seen {
    fn runtime_watcher(api: Api<Job>, config: watcher::Config) -> Self {
        let names = Arc::new(Mutex::new(BTreeSet::new()));
        let record = names.clone();
        let task = tokio::spawn(async move {
            let stream = watcher(api, config);
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                if let Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) = event {
                    record.lock().unwrap().insert(job.metadata.name.unwrap());
                }
            }
        });
        Self { names, task }
    }

    /// A plain watch from a list's resourceVersion: the list's items plus every ADDED event.
    async fn raw_watch_from_list(api: Api<Job>) -> Self {
        let list = api.list(&ListParams::default()).await.unwrap();
        let listed: BTreeSet<String> = list
            .items
            .into_iter()
            .map(|job| job.metadata.name.unwrap())
            .collect();
        let names = Arc::new(Mutex::new(listed));
        let record = names.clone();
        let rv = list.metadata.resource_version.unwrap();
        let mut stream = api
            .watch(&WatchParams::default().timeout(290), &rv)
            .await
            .unwrap()
            .boxed();
        let task = tokio::spawn(async move {
            while let Some(event) = stream.next().await {
                match event.expect("watch event") {
                    WatchEvent::Added(job) | WatchEvent::Modified(job) => {
                        record.lock().unwrap().insert(job.metadata.name.unwrap());
                    }
                    WatchEvent::Error(error) => panic!("watch error {error:?}"),
                    _ => {}
                }
            }
        });
        Self { names, task }
    }

    fn count(&self) -> usize {
        self.names.lock().unwrap().len()
    }
}

async fn create_jobs(api: &Api<Job>, indexes: std::ops::Range<usize>) {
    futures::stream::iter(indexes)
        .map(|index| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &job(index)).await }
        })
        .buffer_unordered(CREATORS)
        .try_collect::<Vec<_>>()
        .await
        .expect("every create succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_reach_every_watcher() {
    let (_sim, client) =
        start_with(Sim::builder().bookmark_interval(Duration::from_millis(50))).await;
    let api: Api<Job> = Api::namespaced(client, "default");
    // Bookmarks are on by default: with a 50 ms interval, watchers resume across many of them.
    let config = watcher::Config::default();
    let from_start = Seen::runtime_watcher(api.clone(), config.clone());
    let selected_from_start = Seen::runtime_watcher(api.clone(), config.clone().labels(SELECTED));

    let first_part = JOBS * 3 / 5;
    create_jobs(&api, 0..first_part).await;
    // Started while the rest is being created: their paged lists (500 per page) interleave with the creates.
    let rest = tokio::spawn({
        let api = api.clone();
        async move { create_jobs(&api, first_part..JOBS).await }
    });
    let mid_stream = Seen::runtime_watcher(api.clone(), config.clone());
    let selected_mid_stream = Seen::runtime_watcher(api.clone(), config.labels(SELECTED));
    let raw_mid_stream = Seen::raw_watch_from_list(api.clone()).await;
    rest.await.unwrap();

    let all: BTreeSet<String> = (0..JOBS).map(job_name).collect();
    let selected: BTreeSet<String> = (0..JOBS)
        .filter(|i| is_selected(*i))
        .map(job_name)
        .collect();
    let expectations = [
        ("watcher from the start", &from_start, &all),
        (
            "selector watcher from the start",
            &selected_from_start,
            &selected,
        ),
        ("watcher started mid-stream", &mid_stream, &all),
        (
            "selector watcher started mid-stream",
            &selected_mid_stream,
            &selected,
        ),
        ("raw watch from a list version", &raw_mid_stream, &all),
    ];
    let deadline = tokio::time::Instant::now() + DELIVERY_DEADLINE;
    for (what, seen, expected) in expectations {
        while seen.count() < expected.len() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let names = seen.names.lock().unwrap().clone();
        let missing: Vec<&String> = expected.difference(&names).take(5).collect();
        assert!(
            missing.is_empty(),
            "{what}: saw {}/{} objects; missing e.g. {missing:?}",
            names.len(),
            expected.len()
        );
        assert_eq!(&names, expected, "{what}: nothing unexpected");
    }
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

fn names(items: &[ConfigMap]) -> Vec<String> {
    items
        .iter()
        .map(|o| o.metadata.name.clone().unwrap())
        .collect()
}

/// What kube-runtime does: list page by page, then watch from the last page's version. Objects created between
/// pages are either on a later page or in the watch, never lost.
#[tokio::test]
async fn paged_lists_are_served_from_the_first_pages_snapshot() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for name in ["a", "c", "e"] {
        api.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(names(&first.items), ["a", "c"]);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let snapshot_rv = first.metadata.resource_version.clone().unwrap();

    // Between the pages: one create before the continue key, one after, one delete of a not yet listed object.
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    api.create(&PostParams::default(), &cm("d")).await.unwrap();
    api.delete("e", &Default::default()).await.unwrap();

    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(
        names(&second.items),
        ["e"],
        "the rest of the list as it was at the first page"
    );
    assert_eq!(
        second.metadata.resource_version.as_deref(),
        Some(snapshot_rv.as_str()),
        "every page carries the snapshot's version"
    );
    assert!(second.metadata.continue_.is_none());

    let mut stream = api
        .watch(&WatchParams::default(), &snapshot_rv)
        .await
        .unwrap()
        .boxed();
    let mut events = Vec::new();
    for _ in 0..3 {
        let event = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("event");
        events.push(match event {
            WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name.unwrap()),
            WatchEvent::Deleted(o) => format!("DELETED {}", o.metadata.name.unwrap()),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(events, ["ADDED b", "ADDED d", "DELETED e"]);
}

#[tokio::test]
async fn a_continue_token_older_than_the_history_is_expired() {
    let (_sim, client) = start_with(Sim::builder().history_limit(3)).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    let first = api.list(&ListParams::default().limit(1)).await.unwrap();
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("later-{i}")))
            .await
            .unwrap();
    }
    let error = api
        .list(
            &ListParams::default()
                .limit(1)
                .continue_token(&first.metadata.continue_.unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(&error), 410);
}

//! Watches: resume from a resourceVersion, bookmarks, 410 Gone → re-list, cut connections, selector transitions.

mod common;

use std::time::Duration;

use common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kube_sim::Sim;
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "x"}}})).unwrap()
}

async fn next_event(
    stream: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin),
) -> WatchEvent<ConfigMap> {
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("event in time")
        .expect("stream open")
        .expect("event")
}

#[tokio::test]
async fn watch_resumes_from_resource_version() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    let rv = first.metadata.resource_version.unwrap();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let names: Vec<String> = {
        let mut names = Vec::new();
        for _ in 0..2 {
            match next_event(&mut stream).await {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                    names.push(o.metadata.name.unwrap())
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        names
    };
    assert_eq!(
        names,
        ["b", "a"],
        "replays exactly the changes after the version, in order"
    );
}

#[tokio::test]
async fn label_selector_transitions_become_added_and_deleted() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api.create(&PostParams::default(), &cm("s")).await.unwrap();
    let params = WatchParams::default().labels("app=x");
    let mut stream = api
        .watch(&params, &created.metadata.resource_version.unwrap())
        .await
        .unwrap()
        .boxed();
    api.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "y"}}})),
    )
    .await
    .unwrap();
    assert!(matches!(
        next_event(&mut stream).await,
        WatchEvent::Deleted(_)
    ));
    api.patch(
        "s",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await
    .unwrap();
    assert!(matches!(
        next_event(&mut stream).await,
        WatchEvent::Added(_)
    ));
}

#[tokio::test]
async fn bookmarks_carry_the_latest_version() {
    let (_sim, client) =
        start_with(Sim::builder().bookmark_interval(Duration::from_millis(100))).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api.create(&PostParams::default(), &cm("bm")).await.unwrap();
    let mut stream = api
        .watch(
            &WatchParams::default(),
            &created.metadata.resource_version.unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    match next_event(&mut stream).await {
        WatchEvent::Bookmark(bookmark) => assert!(!bookmark.metadata.resource_version.is_empty()),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn too_old_version_is_gone_and_watcher_relists() {
    let (sim, client) = start_with(Sim::builder().history_limit(5)).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = api
        .create(&PostParams::default(), &cm("old"))
        .await
        .unwrap();
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("n{i}")))
            .await
            .unwrap();
    }
    let mut stream = api
        .watch(
            &WatchParams::default(),
            &first.metadata.resource_version.unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(DEADLINE, stream.next()).await.unwrap() {
        Some(Ok(WatchEvent::Error(status))) => assert_eq!(status.code, 410),
        Some(Err(kube::Error::Api(status))) => assert_eq!(status.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }

    // kube-runtime's watcher: after a cut, it resumes from a version that is by then compacted, gets 410 and
    // re-lists, and still ends up seeing the object created in between.
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    let init_done = |e: &watcher::Event<ConfigMap>| matches!(e, watcher::Event::InitDone);
    loop {
        let event = tokio::time::timeout(DEADLINE, events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if init_done(&event) {
            break;
        }
    }
    sim.cut_watches();
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("late{i}")))
            .await
            .unwrap();
    }
    let mut relisted = false;
    let mut saw_gone = false;
    loop {
        match tokio::time::timeout(DEADLINE, events.next())
            .await
            .unwrap()
            .unwrap()
        {
            // The watcher surfaces the 410 once, then re-lists on the next poll.
            Err(watcher::Error::WatchError(status)) if status.code == 410 => saw_gone = true,
            Err(other) => panic!("unexpected watcher error {other:?}"),
            Ok(watcher::Event::Init) => relisted = true,
            Ok(watcher::Event::InitApply(o) | watcher::Event::Apply(o))
                if o.metadata.name.as_deref() == Some("late9") =>
            {
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(saw_gone, "the resumed watch was answered with 410 Gone");
    assert!(relisted, "the watcher re-listed after 410 Gone");
}

#[tokio::test]
async fn cut_watch_resumes_without_losing_events() {
    let (sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    loop {
        let event = tokio::time::timeout(DEADLINE, events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if matches!(event, watcher::Event::InitDone) {
            break;
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..20 {
        api.create(&PostParams::default(), &cm(&format!("c{i:02}")))
            .await
            .unwrap();
        if i % 5 == 0 {
            sim.cut_watches();
        }
    }
    while seen.len() < 20 {
        let event = tokio::time::timeout(DEADLINE, events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let watcher::Event::Apply(o) | watcher::Event::InitApply(o) = event {
            seen.insert(o.metadata.name.unwrap());
        }
    }
    assert_eq!(seen.len(), 20);
}

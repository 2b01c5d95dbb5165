//! A kube-runtime `Controller` reconciling a custom resource settles: it writes status once and stops, without
//! error loops (no-op writes must not produce watch events).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

struct Context {
    api: kube::Api<DynamicObject>,
    reconciles: AtomicUsize,
    errors: AtomicUsize,
}

async fn reconcile(
    widget: Arc<DynamicObject>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    ctx.reconciles.fetch_add(1, Ordering::SeqCst);
    let name = widget.metadata.name.clone().unwrap_or_default();
    let status =
        json!({"status": {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}});
    ctx.api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await?;
    Ok(Action::await_change())
}

fn error_policy(_: Arc<DynamicObject>, _: &ReconcileError, ctx: Arc<Context>) -> Action {
    ctx.errors.fetch_add(1, Ordering::SeqCst);
    Action::requeue(Duration::from_millis(50))
}

#[tokio::test]
async fn controller_settles_without_error_loops() {
    let (_sim, client) = start().await;
    let api = widgets(&client, "default").await;
    let ctx = Arc::new(Context {
        api: api.clone(),
        reconciles: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
    });
    let controller =
        Controller::new_with(api.clone(), watcher::Config::default(), widget_resource())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    for i in 0..3 {
        api.create(
            &PostParams::default(),
            &widget(&format!("w{i}"), json!({"size": 1})),
        )
        .await
        .unwrap();
    }
    eventually("all widgets ready", || async {
        let list = api.list(&Default::default()).await.unwrap();
        list.items
            .iter()
            .all(|w| w.data["status"]["phase"] == "Ready")
            .then_some(())
    })
    .await;
    let settled = ctx.reconciles.load(Ordering::SeqCst);
    // Let a burst of spurious events (if any) show up before counting again.
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(500);
    tokio::time::sleep_until(quiet_until).await;
    handle.abort();
    assert_eq!(ctx.errors.load(Ordering::SeqCst), 0);
    // One reconcile per create plus at most one per status change it caused itself.
    assert!(
        ctx.reconciles.load(Ordering::SeqCst) <= settled + 3,
        "reconcile loop: {} after {settled}",
        ctx.reconciles.load(Ordering::SeqCst)
    );
    assert!(settled <= 6, "{settled} reconciles for 3 objects");
}

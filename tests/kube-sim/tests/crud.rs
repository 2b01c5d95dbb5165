//! CRUD, conflicts, generation, status subresource, patches, finalizers and garbage collection over HTTP.

mod common;

use common::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test]
async fn create_get_replace_with_conflicts() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    assert_eq!(
        status_code(
            &api.create(&PostParams::default(), &cm("a"))
                .await
                .unwrap_err()
        ),
        409
    );

    let mut fresh = api.get("a").await.unwrap();
    fresh.data.as_mut().unwrap().insert("k".into(), "w".into());
    let replaced = api
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        created.metadata.resource_version
    );
    // The stale copy still carries the old resourceVersion.
    let err = api
        .replace("a", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 409);

    assert_eq!(status_code(&api.get("missing").await.unwrap_err()), 404);
    let ghost: Api<ConfigMap> = Api::namespaced(client, "nope");
    assert_eq!(
        status_code(
            &ghost
                .create(&PostParams::default(), &cm("x"))
                .await
                .unwrap_err()
        ),
        404
    );

    let generated: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).unwrap();
    let generated = api
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    assert!(generated.metadata.name.unwrap().starts_with("gen-"));

    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    api.create(&dry, &cm("dry")).await.unwrap();
    assert_eq!(status_code(&api.get("dry").await.unwrap_err()), 404);
}

#[tokio::test]
async fn generation_bumps_on_spec_changes_only() {
    let (_sim, client) = start().await;
    let jobs: Api<Job> = Api::namespaced(client, "default");
    let job: Job = serde_json::from_value(
        json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
    )
    .unwrap();
    let created = jobs.create(&PostParams::default(), &job).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let params = PatchParams::default();
    let labelled = jobs
        .patch(
            "j",
            &params,
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    let status = jobs
        .patch_status(
            "j",
            &params,
            &Patch::Merge(json!({"status": {"active": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(status.metadata.generation, Some(1));
    let spec = jobs
        .patch(
            "j",
            &params,
            &Patch::Merge(json!({"spec": {"backoffLimit": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(spec.metadata.generation, Some(2));
    // The main endpoint ignores status; /status ignores everything else.
    let ignored = jobs
        .patch(
            "j",
            &params,
            &Patch::Merge(json!({"status": {"active": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.status.unwrap().active, Some(1));
    let ignored = jobs
        .patch_status(
            "j",
            &params,
            &Patch::Merge(json!({"spec": {"backoffLimit": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.spec.unwrap().backoff_limit, Some(2));
}

#[tokio::test]
async fn patch_types() {
    let (_sim, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]}, {"name": "b", "image": "b:1"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let params = PatchParams::default();

    let strategic = Patch::Strategic(
        json!({"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}),
    );
    let patched = pods.patch("p", &params, &strategic).await.unwrap();
    let containers = patched.spec.unwrap().containers;
    assert_eq!(
        containers.len(),
        2,
        "strategic merge keeps the other container"
    );
    assert_eq!(
        containers[0].env.as_ref().unwrap().len(),
        2,
        "env merged by name"
    );

    let merge = Patch::Merge(json!({"metadata": {"labels": {"tier": "db"}}}));
    assert_eq!(
        pods.patch("p", &params, &merge)
            .await
            .unwrap()
            .metadata
            .labels
            .unwrap()["tier"],
        "db"
    );

    let json_patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/labels/tier", "value": "db"},
        {"op": "replace", "path": "/metadata/labels/tier", "value": "web"}]))
    .unwrap();
    let patched = pods
        .patch("p", &params, &Patch::<()>::Json(json_patch))
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["tier"], "web");
    let failing: json_patch::Patch = serde_json::from_value(
        json!([{"op": "test", "path": "/metadata/labels/tier", "value": "db"}]),
    )
    .unwrap();
    assert_eq!(
        status_code(
            &pods
                .patch("p", &params, &Patch::<()>::Json(failing))
                .await
                .unwrap_err()
        ),
        422
    );

    // Server-side apply: a second manager changing an owned field conflicts unless forced.
    let cms: Api<ConfigMap> = Api::namespaced(pods.clone().into(), "default");
    let apply = |value: &str| {
        Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"k": value}}),
        )
    };
    cms.patch("ssa", &PatchParams::apply("alice"), &apply("1"))
        .await
        .unwrap();
    cms.patch("ssa", &PatchParams::apply("alice"), &apply("2"))
        .await
        .unwrap();
    let err = cms
        .patch("ssa", &PatchParams::apply("bob"), &apply("3"))
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 409);
    assert!(err.to_string().contains("conflict with \"alice\""), "{err}");
    // Same value: shared ownership, no conflict.
    cms.patch("ssa", &PatchParams::apply("bob"), &apply("2"))
        .await
        .unwrap();
    let forced = cms
        .patch("ssa", &PatchParams::apply("bob").force(), &apply("4"))
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["k"], "4");
    // A field the manager stops applying is removed.
    let two = Patch::Apply(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa2"}, "data": {"a": "1", "b": "2"}}),
    );
    cms.patch("ssa2", &PatchParams::apply("carol"), &two)
        .await
        .unwrap();
    let one = Patch::Apply(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa2"}, "data": {"a": "1"}}),
    );
    let shrunk = cms
        .patch("ssa2", &PatchParams::apply("carol"), &one)
        .await
        .unwrap();
    assert_eq!(shrunk.data.unwrap().len(), 1);
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "f", "finalizers": ["example.org/hold"]}}),
    )
    .unwrap();
    api.create(&PostParams::default(), &held).await.unwrap();
    api.delete("f", &DeleteParams::default()).await.unwrap();
    let marked = api.get("f").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    let add =
        Patch::Merge(json!({"metadata": {"finalizers": ["example.org/hold", "example.org/new"]}}));
    assert_eq!(
        status_code(
            &api.patch("f", &PatchParams::default(), &add)
                .await
                .unwrap_err()
        ),
        422
    );
    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(status_code(&api.get("f").await.unwrap_err()), 404);

    let precondition = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("wrong".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    api.create(&PostParams::default(), &cm("g")).await.unwrap();
    assert_eq!(
        status_code(&api.delete("g", &precondition).await.unwrap_err()),
        409
    );
}

fn owned_secret(name: &str, owner: &ConfigMap, block: bool) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid,
        "blockOwnerDeletion": block}]}})).unwrap()
}

#[tokio::test]
async fn garbage_collection_background_foreground_orphan() {
    let (_sim, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client, "default");

    let owner = cms.create(&PostParams::default(), &cm("bg")).await.unwrap();
    secrets
        .create(
            &PostParams::default(),
            &owned_secret("bg-dep", &owner, false),
        )
        .await
        .unwrap();
    cms.delete("bg", &DeleteParams::background()).await.unwrap();
    eventually("background dependent deleted", || async {
        secrets
            .get_opt("bg-dep")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    let owner = cms.create(&PostParams::default(), &cm("fg")).await.unwrap();
    let mut dependent = owned_secret("fg-dep", &owner, true);
    dependent.metadata.finalizers = Some(vec!["example.org/hold".into()]);
    secrets
        .create(&PostParams::default(), &dependent)
        .await
        .unwrap();
    cms.delete("fg", &DeleteParams::foreground()).await.unwrap();
    eventually("dependent marked for deletion", || async {
        secrets
            .get("fg-dep")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    let waiting = cms.get("fg").await.unwrap();
    assert!(
        waiting
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    secrets
        .patch(
            "fg-dep",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    eventually("owner gone after its blocking dependent", || async {
        cms.get_opt("fg").await.unwrap().is_none().then_some(())
    })
    .await;

    let owner = cms.create(&PostParams::default(), &cm("or")).await.unwrap();
    secrets
        .create(
            &PostParams::default(),
            &owned_secret("or-dep", &owner, false),
        )
        .await
        .unwrap();
    cms.delete("or", &DeleteParams::orphan()).await.unwrap();
    eventually("owner gone", || async {
        cms.get_opt("or").await.unwrap().is_none().then_some(())
    })
    .await;
    let orphan = secrets.get("or-dep").await.unwrap();
    assert!(
        orphan
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn selectors_and_pagination() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..7 {
        let mut c = cm(&format!("c{i}"));
        c.metadata.labels = Some(
            [(
                "parity".to_string(),
                if i % 2 == 0 { "even" } else { "odd" }.to_string(),
            )]
            .into(),
        );
        api.create(&PostParams::default(), &c).await.unwrap();
    }
    let even = api
        .list(&ListParams::default().labels("parity=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 4);
    let notin = api
        .list(&ListParams::default().labels("parity notin (even),parity"))
        .await
        .unwrap();
    assert_eq!(notin.items.len(), 3);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=c3"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    assert_eq!(
        status_code(
            &api.list(&ListParams::default().fields("data.k=v"))
                .await
                .unwrap_err()
        ),
        400
    );

    let mut names = Vec::new();
    let mut params = ListParams::default().limit(3);
    loop {
        let page = api.list(&params).await.unwrap();
        assert!(page.items.len() <= 3);
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(names.iter().filter(|n| n.starts_with('c')).count(), 7);
}

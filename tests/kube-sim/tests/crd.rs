//! CustomResourceDefinitions: serving, validation, defaulting, pruning, CEL (incl. transition rules), status.

mod common;

use common::*;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn validation_defaulting_pruning_and_cel() {
    let (_sim, client) = start().await;
    let widgets = widgets(&client, "default").await;

    let created = widgets
        .create(
            &PostParams::default(),
            &widget(
                "w",
                json!({"size": 2, "bogus": true, "extra": {"free": {"form": 1}}, "port": "http"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        created.data["spec"]["color"], "red",
        "schema default applied"
    );
    assert!(
        created.data["spec"].get("bogus").is_none(),
        "unknown field pruned"
    );
    assert_eq!(
        created.data["spec"]["extra"]["free"]["form"], 1,
        "preserve-unknown-fields kept"
    );
    assert_eq!(created.metadata.generation, Some(1));

    for (spec, needle) in [
        (json!({}), "Required value"),
        (json!({"size": 0}), "greater than or equal to 1"),
        (json!({"size": 1, "color": "green"}), "Unsupported value"),
        (json!({"size": 1, "name": "UPPER"}), "should match"),
        (json!({"size": 1, "name": "waytoolongname"}), "Too long"),
        (json!({"size": 1, "tags": ["a", "b", "c"]}), "Too many"),
        (json!({"size": "big"}), "must be of type integer"),
        (json!({"size": 1, "port": true}), "integer,string"),
    ] {
        let err = widgets
            .create(&PostParams::default(), &widget("bad", spec.clone()))
            .await
            .unwrap_err();
        assert_eq!(status_code(&err), 422, "{spec}");
        assert!(err.to_string().contains(needle), "{spec}: {err}");
    }

    let grown = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(grown.metadata.generation, Some(2));
    let err = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 3}})),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 422);
    assert!(err.to_string().contains("size may not shrink"), "{err}");

    let status = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}, "spec": {"size": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["phase"], "Ready");
    assert_eq!(
        status.data["spec"]["size"], 5,
        "status endpoint ignores spec"
    );
    let main = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Lost"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        main.data["status"]["phase"], "Ready",
        "main endpoint ignores status"
    );
    let smp = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 6}})),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(&smp), 415);
}

#[tokio::test]
async fn invalid_crd_is_rejected_and_deleting_a_crd_stops_serving() {
    let (_sim, client) = start().await;
    let crds: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        client.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    let mut broken = widget_crd();
    broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"] =
        json!([{"rule": "self.("}]);
    let err = crds
        .create(
            &PostParams::default(),
            &serde_json::from_value(broken).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 422);

    let widgets = widgets(&client, "default").await;
    widgets
        .create(&PostParams::default(), &widget("w", json!({"size": 1})))
        .await
        .unwrap();
    crds.delete("widgets.example.org", &Default::default())
        .await
        .unwrap();
    assert_eq!(status_code(&widgets.get("w").await.unwrap_err()), 404);
}

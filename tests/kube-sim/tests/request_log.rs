//! The request log over HTTP: every write (refused ones too) is recorded with its verb, resource, name, status and
//! client; reads only while switched on; `GET /sim/requests` filters; the bound keeps the newest entries and counts
//! the rest.

mod common;

use common::*;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube_sim::{RequestFilter, Verb, WriteRequest};
use serde_json::{Value, json};

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

fn job(name: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap()
}

/// A client that shows failures as they come (kube's default client retries some).
async fn client_without_retries(sim: &kube_sim::Sim) -> kube::Client {
    let mut config = sim.kube_config().await.unwrap();
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

/// `verb resource[/sub] name status` of each entry after `since`, for comparing whole sequences at once.
fn summary(sim: &kube_sim::Sim, since: u64) -> Vec<String> {
    sim.request_log()
        .matching(&RequestFilter {
            since: Some(since),
            ..RequestFilter::default()
        })
        .iter()
        .map(line)
        .collect()
}

fn line(entry: &WriteRequest) -> String {
    format!(
        "{} {} {} {}",
        entry.verb.as_str(),
        entry.full_resource(),
        entry
            .name
            .as_deref()
            .or(entry.generate_name.as_deref())
            .unwrap_or("-"),
        entry.status
    )
}

async fn get_log(client: &kube::Client, query: &str) -> Result<Value, kube::Error> {
    let request = http::Request::builder()
        .method("GET")
        .uri(format!("/sim/requests{query}"))
        .body(Vec::new())
        .unwrap();
    let text = client.request_text(request).await?;
    Ok(serde_json::from_str(&text).unwrap())
}

fn lines_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| line(&parse_entry(item)))
        .collect()
}

/// An entry as the endpoint serves it, back in the library's shape (checks the field names at the same time).
fn parse_entry(item: &Value) -> WriteRequest {
    let text = |key: &str| item[key].as_str().map(str::to_string);
    WriteRequest {
        seq: item["seq"].as_u64().unwrap(),
        time: item["time"].as_str().unwrap().parse().unwrap(),
        verb: Verb::parse(item["verb"].as_str().unwrap()).unwrap(),
        patch_type: None,
        group: text("group").unwrap(),
        version: text("version").unwrap(),
        resource: text("resource").unwrap(),
        subresource: text("subresource"),
        namespace: text("namespace"),
        name: text("name"),
        generate_name: text("generateName"),
        status: item["status"].as_u64().unwrap() as u16,
        dry_run: item["dryRun"].as_bool().unwrap(),
        user: text("user"),
        user_agent: text("userAgent"),
    }
}

#[tokio::test]
async fn every_write_is_recorded_with_its_answer_and_reads_are_not() {
    let (sim, _) = start().await;
    let client = client_without_retries(&sim).await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let start = sim.request_log().last_seq();

    let created = configmaps
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap();
    // The duplicate an operator would adopt: counting objects by name shows one, the log shows two creates.
    let duplicate = configmaps
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err();
    assert_eq!(status_code(&duplicate), 409);
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "w".to_string())].into());
    configmaps
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    // `created` still carries the first resourceVersion.
    let stale = configmaps
        .replace("a", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert_eq!(status_code(&stale), 409);

    jobs.create(&PostParams::default(), &job("j"))
        .await
        .unwrap();
    jobs.patch_status(
        "j",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"active": 1}})),
    )
    .await
    .unwrap();

    // Refused before and by the handler: an injected fault (the name still comes from the body) and a 422.
    sim.fail_next(Verb::Create, "configmaps", 500, 1);
    let injected = configmaps
        .create(&PostParams::default(), &cm("b"))
        .await
        .unwrap_err();
    assert_eq!(status_code(&injected), 500);
    let widgets = widgets(&client, "default").await;
    let invalid = widgets
        .create(&PostParams::default(), &widget("w", json!({"size": 0})))
        .await
        .unwrap_err();
    assert_eq!(status_code(&invalid), 422);

    configmaps
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    let missing = configmaps
        .delete("a", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(status_code(&missing), 404);

    // Reads of every kind, none of which may appear.
    jobs.get("j").await.unwrap();
    jobs.list(&ListParams::default()).await.unwrap();
    let mut events = jobs
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    while events.next().await.is_some() {}

    assert_eq!(
        summary(&sim, start),
        [
            "create configmaps a 201",
            "create configmaps a 409",
            "update configmaps a 200",
            "update configmaps a 409",
            "create jobs j 201",
            "patch jobs/status j 200",
            "create configmaps b 500",
            "create customresourcedefinitions widgets.example.org 201",
            "create widgets w 422",
            "delete configmaps a 200",
            "delete configmaps a 404",
        ]
    );
    let entries = sim.request_log().matching(&RequestFilter {
        since: Some(start),
        ..RequestFilter::default()
    });
    assert!(
        entries.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "sequence numbers increase by one: {entries:?}"
    );
    assert!(entries.iter().all(|e| e.user.as_deref() == Some("admin")));
    let status_patch = &sim.requests_matching(Verb::Patch, "jobs/status")[0];
    assert_eq!(
        status_patch.patch_type,
        Some(kube_sim::patch::PatchType::Merge)
    );
    assert_eq!(
        (status_patch.group.as_str(), status_patch.version.as_str()),
        ("batch", "v1")
    );
    assert_eq!(status_patch.namespace.as_deref(), Some("default"));
    assert_eq!(
        sim.requests_matching(Verb::Create, "widgets")[0].group,
        "example.org"
    );
    // `jobs` is the object itself: the status patch is not counted with it.
    assert_eq!(sim.requests_matching(Verb::Patch, "jobs").len(), 0);
}

#[tokio::test]
async fn subresources_generated_names_dry_runs_and_callers_are_recorded() {
    let (sim, client) = start().await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "backup"}})).unwrap(),
        )
        .await
        .unwrap();
    let token = sim
        .mint_token(
            "default",
            "backup",
            &["x"],
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let request = serde_json::from_value(json!({"spec": {"audiences": ["x"]}})).unwrap();
    accounts
        .create_token_request("backup", &PostParams::default(), &request)
        .await
        .unwrap();

    let mut config = sim.kube_config().await.unwrap();
    config.auth_info.token = Some(token.into());
    let as_account: Api<ConfigMap> =
        Api::namespaced(kube::Client::try_from(config.clone()).unwrap(), "default");
    let generated: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).unwrap();
    as_account
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    as_account
        .create(&PostParams::default(), &cm("c"))
        .await
        .unwrap();
    as_account
        .delete("c", &DeleteParams::default().dry_run())
        .await
        .unwrap();

    config.auth_info.token = Some("not-a-token".to_string().into());
    let anonymous: Api<ConfigMap> =
        Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
    let refused = anonymous
        .create(&PostParams::default(), &cm("d"))
        .await
        .unwrap_err();
    assert_eq!(status_code(&refused), 401);

    let token_request = &sim.requests_matching(Verb::Create, "serviceaccounts/token")[0];
    assert_eq!(
        (token_request.name.as_deref(), token_request.status),
        (Some("backup"), 201)
    );
    let creates = sim.requests_matching(Verb::Create, "configmaps");
    let account = Some("system:serviceaccount:default:backup");
    assert_eq!(
        creates
            .iter()
            .map(|e| (
                e.name.as_deref(),
                e.generate_name.as_deref(),
                e.user.as_deref(),
                e.status
            ))
            .collect::<Vec<_>>(),
        [
            (None, Some("gen-"), account, 201),
            (Some("c"), None, account, 201),
            (Some("d"), None, None, 401),
        ]
    );
    let deletes = sim.requests_matching(Verb::Delete, "configmaps");
    assert!(deletes[0].dry_run, "{deletes:?}");
    assert!(creates.iter().all(|e| !e.dry_run));
}

#[tokio::test]
async fn the_endpoint_filters_by_verb_resource_namespace_name_status_and_sequence() {
    let (sim, client) = start().await;
    let client_plain = client_without_retries(&sim).await;
    for namespace in ["one", "two"] {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap(),
            )
            .await
            .unwrap();
        let configmaps: Api<ConfigMap> = Api::namespaced(client_plain.clone(), namespace);
        configmaps
            .create(&PostParams::default(), &cm("a"))
            .await
            .unwrap();
        configmaps
            .create(&PostParams::default(), &cm("a"))
            .await
            .unwrap_err();
        configmaps
            .create(&PostParams::default(), &cm("b"))
            .await
            .unwrap();
    }

    let all = get_log(&client, "").await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 8);
    assert_eq!(all["dropped"], 0);
    assert_eq!(all["limit"], 100_000);
    assert_eq!(all["lastSeq"], 8);
    assert_eq!(
        parse_entry(&all["items"][1]).namespace.as_deref(),
        Some("one")
    );

    let one = get_log(&client, "?verb=create&resource=configmaps&namespace=one")
        .await
        .unwrap();
    assert_eq!(
        lines_of(&one),
        [
            "create configmaps a 201",
            "create configmaps a 409",
            "create configmaps b 201"
        ]
    );
    let conflicts = get_log(&client, "?status=409&name=a").await.unwrap();
    assert_eq!(
        conflicts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["namespace"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );
    let namespaces = get_log(&client, "?resource=namespaces").await.unwrap();
    assert_eq!(
        lines_of(&namespaces),
        ["create namespaces one 201", "create namespaces two 201"]
    );
    let since = get_log(&client, "?since=6").await.unwrap();
    assert_eq!(
        since["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [7, 8]
    );
    assert_eq!(
        get_log(&client, "?verb=get").await.unwrap()["items"],
        json!([])
    );
    // Reading the log is not a write either.
    assert_eq!(get_log(&client, "").await.unwrap()["lastSeq"], 8);

    for bad in ["?verb=frobnicate", "?since=x", "?namespaces=one"] {
        let error = get_log(&client_plain, bad).await.unwrap_err();
        assert_eq!(status_code(&error), 400, "{bad}: {error}");
    }
}

#[tokio::test]
async fn the_log_keeps_the_newest_entries_and_counts_what_it_dropped() {
    let (sim, client) = start_with(kube_sim::Sim::builder().request_log_limit(3)).await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b", "c", "d", "e"] {
        configmaps
            .create(&PostParams::default(), &cm(name))
            .await
            .unwrap();
    }
    let kept = sim.requests();
    assert_eq!(
        kept.iter()
            .map(|e| (e.seq, e.name.as_deref().unwrap()))
            .collect::<Vec<_>>(),
        [(3, "c"), (4, "d"), (5, "e")]
    );
    assert_eq!(sim.request_log().dropped(), 2);
    let page = get_log(&client, "").await.unwrap();
    assert_eq!(
        (&page["limit"], &page["dropped"], &page["lastSeq"]),
        (&json!(3), &json!(2), &json!(5))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn reads_are_recorded_while_switched_on_with_the_callers_identity() {
    let (sim, client) = start_with(kube_sim::Sim::builder().record_reads(true)).await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "operator"}})).unwrap(),
        )
        .await
        .unwrap();
    let kubeconfig = tempfile::tempdir().unwrap();
    let path = kubeconfig.path().join("kubeconfig");
    assert_eq!(
        sim.write_service_account_kubeconfig(&path, "default", "nobody")
            .unwrap_err()
            .kind(),
        std::io::ErrorKind::NotFound
    );
    sim.write_service_account_kubeconfig(&path, "default", "operator")
        .unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&path).unwrap(),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(config.default_namespace, "default");
    let as_account = kube::Client::try_from(config).unwrap();
    let start = sim.request_log().last_seq();

    let jobs: Api<Job> = Api::default_namespaced(as_account.clone());
    jobs.create(&PostParams::default(), &job("j"))
        .await
        .unwrap();
    jobs.get("j").await.unwrap();
    jobs.get("missing").await.unwrap_err();
    jobs.list(&ListParams::default()).await.unwrap();
    let mut events = jobs
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    while events.next().await.is_some() {}
    get_log(&client, "").await.unwrap();

    let entries = sim.request_log().matching(&RequestFilter {
        since: Some(start),
        ..RequestFilter::default()
    });
    assert_eq!(
        entries.iter().map(line).collect::<Vec<_>>(),
        [
            "create jobs j 201",
            "get jobs j 200",
            "get jobs missing 404",
            "list jobs - 200",
            "watch jobs - 200",
        ],
        "reading /sim/requests is not a resource request"
    );
    assert!(entries.iter().all(|e| e.user.as_deref()
        == Some("system:serviceaccount:default:operator")
        && e.group == "batch"));

    let page = get_log(&client, "?verb=watch").await.unwrap();
    assert_eq!(page["reads"], true);
    assert_eq!(lines_of(&page), ["watch jobs - 200"]);

    sim.request_log().record_reads(false);
    let before = sim.request_log().last_seq();
    jobs.get("j").await.unwrap();
    assert_eq!(sim.request_log().last_seq(), before, "reads switched off");
    assert_eq!(get_log(&client, "").await.unwrap()["reads"], false);
}

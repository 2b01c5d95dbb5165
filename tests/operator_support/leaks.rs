//! The sweep for secrets after an operator test: everything a person or a log shipper can read (the operator's
//! logs, the executor Pods' logs and termination messages, Events, Jobs and both custom resources with their
//! status) must hold no OpenBao token, by shape or by exact value, and no store key.

use std::path::Path;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore};
use openbao_test_harness::leaks::findings;

use super::NAMESPACE;
use super::world::World;

/// Every text file under `dir` (logs), read as text.
fn files_under(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "log")
            && let Ok(bytes) = std::fs::read(&path)
        {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

async fn listed<K>(api: Api<K>, what: &str, out: &mut Vec<(String, String)>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let list = api
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|error| panic!("listing {what}: {error}"));
    out.push((
        what.to_string(),
        serde_json::to_string(&list.items).expect("JSON"),
    ));
}

/// Panics naming each place that holds a secret: `exact` values (e.g. the tokens a recording proxy saw OpenBao
/// issue), the root token, the store's secret key, or anything shaped like an OpenBao token. Returns how many
/// texts and bytes it read, so a caller can show the sweep looked at something.
pub async fn assert_no_secret_leaked(world: &World, exact: &[String]) -> (usize, usize) {
    let mut texts = Vec::new();
    files_under(world.dir.path(), &mut texts);
    let client = world.client.clone();
    listed(
        Api::<OpenBaoCluster>::namespaced(client.clone(), NAMESPACE),
        "OpenBaoClusters",
        &mut texts,
    )
    .await;
    listed(
        Api::<OpenBaoRestore>::namespaced(client.clone(), NAMESPACE),
        "OpenBaoRestores",
        &mut texts,
    )
    .await;
    listed(
        Api::<Job>::namespaced(client.clone(), NAMESPACE),
        "Jobs",
        &mut texts,
    )
    .await;
    listed(
        Api::<Pod>::namespaced(client.clone(), NAMESPACE),
        "Pods (termination messages)",
        &mut texts,
    )
    .await;
    texts.push((
        "Events".to_string(),
        serde_json::to_string(&world.events().await).expect("JSON"),
    ));

    let mut secrets = exact.to_vec();
    secrets.push(world.bao.root_token().to_string());
    secrets.push(world.store.secret_key().to_string());
    let found: Vec<String> = texts
        .iter()
        .flat_map(|(what, text)| findings(what, text, &secrets))
        .collect();
    assert!(
        found.is_empty(),
        "secrets where anyone can read them:\n{}",
        found.join("\n")
    );
    (texts.len(), texts.iter().map(|(_, text)| text.len()).sum())
}

//! Reading the plugin's objects with errors a person can act on: a missing cluster by name, a missing CRD as
//! such (both answer 404: a list of the resource tells them apart).

use k8s_openapi::api::batch::v1::Job;
use kube::api::ListParams;
use kube::{Api, Resource};
use openbao_crds::{OpenBaoCluster, OpenBaoRestore};
use serde::de::DeserializeOwned;

use super::connect::{Context, Scope};
use super::error::PluginError;

use crate::jobs::{CLUSTER_LABEL, OPERATION_LABEL};

pub async fn cluster(context: &Context, name: &str) -> Result<OpenBaoCluster, PluginError> {
    get_named(context, "OpenBaoCluster", name).await
}

pub async fn restore(context: &Context, name: &str) -> Result<OpenBaoRestore, PluginError> {
    get_named(context, "OpenBaoRestore", name).await
}

/// Every OpenBaoCluster in scope.
pub async fn clusters(context: &Context) -> Result<Vec<OpenBaoCluster>, PluginError> {
    list(context, "OpenBaoCluster", &ListParams::default()).await
}

/// Every OpenBaoRestore in scope (restores of every cluster).
pub async fn restores(context: &Context) -> Result<Vec<OpenBaoRestore>, PluginError> {
    list(context, "OpenBaoRestore", &ListParams::default()).await
}

/// The OpenBaoRestores of one cluster in the namespace.
pub async fn restores_of(
    context: &Context,
    cluster: &str,
) -> Result<Vec<OpenBaoRestore>, PluginError> {
    Ok(restores(context)
        .await?
        .into_iter()
        .filter(|request| request.spec.cluster == cluster)
        .collect())
}

/// The operator's Jobs of `operation` (`backup`, `restore`) for `cluster`.
pub async fn jobs_of(
    context: &Context,
    cluster: &str,
    operation: &str,
) -> Result<Vec<Job>, PluginError> {
    let selector = format!("{CLUSTER_LABEL}={cluster},{OPERATION_LABEL}={operation}");
    let api: Api<Job> = Api::namespaced(context.client.clone(), context.namespace()?);
    api.list(&ListParams::default().labels(&selector))
        .await
        .map(|list| list.items)
        .map_err(|error| context.error(error, &format!("listing Jobs {selector}")))
}

async fn get_named<K>(context: &Context, kind: &'static str, name: &str) -> Result<K, PluginError>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let namespace = context.namespace()?;
    let api: Api<K> = Api::namespaced(context.client.clone(), namespace);
    match api.get(name).await {
        Ok(object) => Ok(object),
        Err(error) => {
            let error = context.error(error, &format!("reading {kind} {name}"));
            if !error.is_not_found() {
                return Err(error);
            }
            // 404 for the object or for the whole resource: a list answers 404 only in the second case.
            list::<K>(context, kind, &ListParams::default().limit(1)).await?;
            Err(PluginError::NotFound {
                kind,
                name: name.to_string(),
                namespace: namespace.to_string(),
            })
        }
    }
}

async fn list<K>(
    context: &Context,
    kind: &'static str,
    params: &ListParams,
) -> Result<Vec<K>, PluginError>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = match &context.scope {
        Scope::Namespace(namespace) => Api::namespaced(context.client.clone(), namespace),
        Scope::All => Api::all(context.client.clone()),
    };
    match api.list(params).await {
        Ok(list) => Ok(list.items),
        Err(error) => {
            let error = context.error(error, &format!("listing {kind}s"));
            if error.is_not_found() {
                Err(PluginError::CrdMissing {
                    url: context.url.clone(),
                    resource: plural(kind),
                })
            } else {
                Err(error)
            }
        }
    }
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "OpenBaoRestore" => "openbaorestores",
        _ => "openbaoclusters",
    }
}

//! Makes a cluster's executor NetworkPolicy true: created when missing, its spec brought in line when the
//! endpoints' ports changed. One the operator did not create for this cluster is left alone (and logged).

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{Patch, PostParams};
use openbao_actors::effects::EffectError;
use serde_json::json;

use super::api_error::ApiFailure;
use super::{FIELD_MANAGER, patch_params};

fn controller_uid(policy: &NetworkPolicy) -> Option<String> {
    policy
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.uid.clone())
}

pub async fn ensure_network_policy(
    client: &kube::Client,
    wanted: NetworkPolicy,
) -> Result<(), EffectError> {
    let namespace = wanted.metadata.namespace.clone().unwrap_or_default();
    let name = wanted.metadata.name.clone().unwrap_or_default();
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &namespace);
    let failed = |error: kube::Error, what: &str| {
        ApiFailure::from(error)
            .into_effect_error(format!("cannot {what} NetworkPolicy {namespace}/{name}"))
    };
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    match api.create(&params, &wanted).await {
        Ok(_) => return Ok(()),
        Err(error) => match ApiFailure::from(error) {
            ApiFailure::AlreadyExists => {}
            other => {
                return Err(other
                    .into_effect_error(format!("cannot create NetworkPolicy {namespace}/{name}")));
            }
        },
    }
    let existing = api
        .get(&name)
        .await
        .map_err(|error| failed(error, "read"))?;
    if controller_uid(&existing).is_none() || controller_uid(&existing) != controller_uid(&wanted) {
        tracing::warn!(%namespace, %name,
            "a NetworkPolicy of this name exists but the operator did not create it for this cluster; left as is");
        return Ok(());
    }
    if existing.spec == wanted.spec {
        return Ok(());
    }
    let patch = json!({"spec": wanted.spec});
    api.patch(&name, &patch_params(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|error| failed(error, "update"))
}

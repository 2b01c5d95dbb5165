//! Deletion with kube-apiserver semantics: preconditions, finalizers, graceful deletion of bound Pods and the
//! garbage-collector finalizers that a propagation policy implies.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::error::{ApiError, ApiResult};
use crate::api::meta::{self, finalizers, is_terminating, name_of, set_finalizers};
use crate::api::resources::{GroupResource, Propagation};
use crate::api::state::{Scope, State};

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Option<Propagation>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

pub enum Deleted {
    /// Gone from the store.
    Now(Value),
    /// Marked with `deletionTimestamp`; finalizers or a grace period still hold it.
    Pending(Value),
}

pub fn delete(
    state: &mut State,
    scope: &Scope,
    name: &str,
    options: &DeleteOptions,
) -> ApiResult<Deleted> {
    let resource = scope.resource.clone();
    let old = scope.get(state, name)?;
    if let Some(uid) = &options.precondition_uid
        && uid != meta::uid_of(&old)
    {
        return Err(ApiError::conflict(
            &resource.group,
            &resource.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid_of(&old)
            ),
        ));
    }
    let current_rv = old["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    if let Some(rv) = &options.precondition_resource_version
        && rv != current_rv
    {
        return Err(ApiError::conflict(
            &resource.group,
            &resource.plural,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current_rv}"
            ),
        ));
    }
    let gr = scope.group_resource();
    let namespace = scope.object_namespace().to_string();
    let graceful_pod = resource.kind == "Pod"
        && old["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
        && old["status"]["phase"]
            .as_str()
            .is_none_or(|p| p != "Succeeded" && p != "Failed");
    if is_terminating(&old) {
        if graceful_pod && options.grace_period_seconds == Some(0) && finalizers(&old).is_empty() {
            if options.dry_run {
                return Ok(Deleted::Now(scope.present(&old)));
            }
            let removed = remove_object(state, &gr, &namespace, name).expect("object exists");
            return Ok(Deleted::Now(scope.present(&removed)));
        }
        return Ok(Deleted::Pending(scope.present(&old)));
    }
    let propagation = options.propagation.unwrap_or(resource.default_propagation);
    let mut pending = finalizers(&old);
    let gc_finalizer = match propagation {
        Propagation::Foreground => Some(FOREGROUND_FINALIZER),
        Propagation::Orphan => Some(ORPHAN_FINALIZER),
        Propagation::Background => None,
    };
    if let Some(f) = gc_finalizer
        && !pending.iter().any(|p| p == f)
    {
        pending.push(f.to_string());
    }
    let grace = if graceful_pod {
        options
            .grace_period_seconds
            .or_else(|| old["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30)
    } else {
        0
    };
    let namespace_finalizer = resource.plural == "namespaces" && resource.group.is_empty();
    if pending.is_empty() && grace <= 0 && !namespace_finalizer {
        if options.dry_run {
            return Ok(Deleted::Now(scope.present(&old)));
        }
        let removed = remove_object(state, &gr, &namespace, name).expect("object exists");
        return Ok(Deleted::Now(scope.present(&removed)));
    }
    let mut marked = (*old).clone();
    let deadline = chrono::Utc::now() + chrono::Duration::seconds(grace.max(0));
    marked["metadata"]["deletionTimestamp"] =
        Value::String(deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace.max(0));
    set_finalizers(&mut marked, &pending);
    if let Some(generation) = marked["metadata"]["generation"].as_i64() {
        marked["metadata"]["generation"] = json!(generation + 1);
    }
    if namespace_finalizer {
        marked["status"]["phase"] = json!("Terminating");
    }
    if options.dry_run {
        return Ok(Deleted::Pending(scope.present(&marked)));
    }
    let stored = state.store.put(&gr, marked);
    Ok(Deleted::Pending(scope.present(&stored)))
}

/// Removes an object for good, with what removal implies for CRDs (their resources stop being served).
pub fn remove_object(
    state: &mut State,
    gr: &GroupResource,
    namespace: &str,
    name: &str,
) -> Option<Arc<Value>> {
    let removed = state.store.remove(gr, namespace, name)?;
    if gr.group == "apiextensions.k8s.io" && gr.resource == "customresourcedefinitions" {
        let group = removed["spec"]["group"].as_str().unwrap_or_default();
        let plural = removed["spec"]["names"]["plural"]
            .as_str()
            .unwrap_or_default();
        let served = GroupResource::new(group, plural);
        let keys: Vec<(String, String)> = state
            .store
            .list(&served, None)
            .iter()
            .map(|o| (meta::namespace_of(o).to_string(), name_of(o).to_string()))
            .collect();
        for (ns, n) in keys {
            state.store.remove(&served, &ns, &n);
        }
        state.store.drop_resource(&served);
        state.registry.remove(&served);
    }
    Some(removed)
}

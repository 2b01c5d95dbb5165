//! The control loops that live next to a real apiserver: the garbage collector (ownerReferences, foreground and
//! orphan deletion), the namespace lifecycle controller and the default ServiceAccount in every namespace.
//!
//! They are level-triggered: after any write, one scan compares the whole store against what should be and
//! makes one round of changes, repeating until nothing is left to do.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use super::Cluster;
use super::meta::{finalizers, is_terminating, name_of, namespace_of, set_finalizers, uid_of};
use super::resources::{GroupResource, Propagation};
use super::state::{Scope, State};
use super::write::{
    self, DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Part, WriteOptions,
};

const MANAGER: &str = "kube-sim-controllers";

pub async fn run(cluster: Arc<Cluster>) {
    loop {
        cluster.changed.notified().await;
        // Bounded so a bug that keeps changing things cannot spin forever.
        for _ in 0..1000 {
            let changed = scan(&mut cluster.lock());
            if !changed {
                break;
            }
        }
    }
}

struct Located {
    resource: GroupResource,
    namespace: String,
    name: String,
    object: Arc<Value>,
}

/// One pass over the store; true if anything was changed.
pub fn scan(state: &mut State) -> bool {
    let objects: Vec<Located> = state
        .store
        .all_objects()
        .map(|(resource, object)| Located {
            resource: resource.clone(),
            namespace: namespace_of(object).to_string(),
            name: name_of(object).to_string(),
            object: object.clone(),
        })
        .collect();
    let live_uids: HashSet<&str> = objects.iter().map(|o| uid_of(&o.object)).collect();
    let mut dependents: HashMap<&str, Vec<&Located>> = HashMap::new();
    for located in &objects {
        for reference in owner_refs(&located.object) {
            if let Some(uid) = reference["uid"].as_str() {
                dependents.entry(uid).or_default().push(located);
            }
        }
    }
    let mut changed = false;
    for located in &objects {
        changed |= collect_orphaned_dependent(state, located, &live_uids);
        if is_terminating(&located.object) {
            let uid = uid_of(&located.object);
            let children = dependents.get(uid).map(Vec::as_slice).unwrap_or_default();
            let pending = finalizers(&located.object);
            if pending.iter().any(|f| f == FOREGROUND_FINALIZER) {
                changed |= delete_in_foreground(state, located, children);
            } else if pending.iter().any(|f| f == ORPHAN_FINALIZER) {
                changed |= orphan(state, located, children);
            }
        }
        if located.resource == GroupResource::new("", "namespaces") {
            changed |= namespace_lifecycle(state, located, &objects);
        }
    }
    changed
}

fn owner_refs(object: &Value) -> impl Iterator<Item = &Value> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
}

fn scope_for(state: &State, located: &Located) -> Option<Scope> {
    let resource = state.registry.get(&located.resource)?;
    let version = resource.preferred_version().name.clone();
    let namespace = resource.namespaced.then(|| located.namespace.clone());
    Some(Scope {
        resource,
        version,
        namespace,
    })
}

fn options() -> WriteOptions {
    WriteOptions {
        field_manager: MANAGER.to_string(),
        ..WriteOptions::default()
    }
}

fn delete(state: &mut State, located: &Located, propagation: Propagation) -> bool {
    let Some(scope) = scope_for(state, located) else {
        return false;
    };
    let options = DeleteOptions {
        propagation: Some(propagation),
        ..DeleteOptions::default()
    };
    write::delete(state, &scope, &located.name, &options).is_ok()
}

/// Writes `object` back through the main endpoint (finalizer and ownerReference edits).
fn rewrite(state: &mut State, located: &Located, object: Value) -> bool {
    let Some(scope) = scope_for(state, located) else {
        return false;
    };
    write::update(state, &scope, &located.name, object, Part::Main, &options()).is_ok()
}

/// A dependent whose owners are all gone is deleted; references to owners that are gone are dropped.
fn collect_orphaned_dependent(
    state: &mut State,
    located: &Located,
    live_uids: &HashSet<&str>,
) -> bool {
    let references: Vec<&Value> = owner_refs(&located.object).collect();
    if references.is_empty() || is_terminating(&located.object) {
        return false;
    }
    let dangling = |r: &Value| !live_uids.contains(r["uid"].as_str().unwrap_or_default());
    let gone = references.iter().filter(|r| dangling(r)).count();
    if gone == 0 {
        return false;
    }
    if gone == references.len() {
        return delete(state, located, Propagation::Background);
    }
    let mut object = (*located.object).clone();
    let kept: Vec<Value> = references
        .into_iter()
        .filter(|r| !dangling(r))
        .cloned()
        .collect();
    object["metadata"]["ownerReferences"] = Value::Array(kept);
    rewrite(state, located, object)
}

/// Deletes the dependents, and lets the owner go once no dependent blocks it.
fn delete_in_foreground(state: &mut State, owner: &Located, children: &[&Located]) -> bool {
    let uid = uid_of(&owner.object);
    let mut changed = false;
    let mut blocking = 0;
    for child in children {
        if !is_terminating(&child.object) {
            changed |= delete(state, child, Propagation::Foreground);
        }
        let blocks =
            owner_refs(&child.object).any(|r| r["uid"] == uid && r["blockOwnerDeletion"] == true);
        if blocks {
            blocking += 1;
        }
    }
    if blocking == 0 {
        changed |= drop_finalizer(state, owner, FOREGROUND_FINALIZER);
    }
    changed
}

/// Removes the owner's reference from every dependent, then the `orphan` finalizer.
fn orphan(state: &mut State, owner: &Located, children: &[&Located]) -> bool {
    let uid = uid_of(&owner.object);
    let mut changed = false;
    for child in children {
        let mut object = (*child.object).clone();
        let kept: Vec<Value> = owner_refs(&child.object)
            .filter(|r| r["uid"] != uid)
            .cloned()
            .collect();
        if kept.is_empty() {
            object["metadata"]
                .as_object_mut()
                .map(|m| m.remove("ownerReferences"));
        } else {
            object["metadata"]["ownerReferences"] = Value::Array(kept);
        }
        changed |= rewrite(state, child, object);
    }
    changed | drop_finalizer(state, owner, ORPHAN_FINALIZER)
}

fn drop_finalizer(state: &mut State, located: &Located, finalizer: &str) -> bool {
    let mut object = (*located.object).clone();
    let remaining: Vec<String> = finalizers(&object)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    set_finalizers(&mut object, &remaining);
    rewrite(state, located, object)
}

/// A terminating namespace is emptied, then removed; an active one always has a `default` ServiceAccount.
fn namespace_lifecycle(state: &mut State, namespace: &Located, objects: &[Located]) -> bool {
    let contents: Vec<&Located> = objects
        .iter()
        .filter(|o| o.namespace == namespace.name)
        .collect();
    if is_terminating(&namespace.object) {
        let mut changed = false;
        for object in &contents {
            if !is_terminating(&object.object) {
                changed |= delete(state, object, Propagation::Background);
            }
        }
        if contents.is_empty() {
            write::remove_object(state, &namespace.resource, "", &namespace.name);
            return true;
        }
        return changed;
    }
    let service_accounts = GroupResource::new("", "serviceaccounts");
    let has_default = contents
        .iter()
        .any(|o| o.resource == service_accounts && o.name == "default");
    if has_default {
        return false;
    }
    let Some(resource) = state.registry.get(&service_accounts) else {
        return false;
    };
    let scope = Scope {
        resource,
        version: "v1".into(),
        namespace: Some(namespace.name.clone()),
    };
    let account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
    write::create(state, &scope, account, &options()).is_ok()
}

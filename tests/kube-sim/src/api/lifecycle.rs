//! The control loops that live next to a real apiserver: the garbage collector (ownerReferences, foreground and
//! orphan deletion), the namespace lifecycle controller and the default ServiceAccount in every namespace.
//!
//! They are level-triggered but incremental: after writes, the changes since the last round say which objects and
//! namespaces to look at (the changed objects, their owners and dependents, their namespaces), so a write costs the
//! same with 10 or 10,000 objects stored. Each round makes one set of changes, repeating until nothing is left to do;
//! the store asks for a full scan when it could not record the changes.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::Cluster;
use super::meta::{finalizers, is_terminating, namespace_of, set_finalizers, uid_of};
use super::resources::{GroupResource, Propagation};
use super::state::{Scope, State};
use super::store::{Changes, EventType, Location, StoreEvent, object_key, owner_uids};
use super::write::{
    self, DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Part, WriteOptions,
};

const MANAGER: &str = "kube-sim-controllers";

pub async fn run(cluster: Arc<Cluster>) {
    loop {
        cluster.changed.notified().await;
        // Bounded so a bug that keeps changing things cannot spin forever.
        for _ in 0..1000 {
            let changed = reconcile_changes(&mut cluster.lock());
            if !changed {
                break;
            }
        }
    }
}

/// Looks at whatever the changes since the last round affect; true if anything was changed.
pub fn reconcile_changes(state: &mut State) -> bool {
    match state.store.take_changes() {
        Changes::Everything => scan(state),
        Changes::Events(events) if events.is_empty() => false,
        Changes::Events(events) => {
            let work = Work::affected_by(state, &events);
            examine(state, &work)
        }
    }
}

/// One pass over the whole store; true if anything was changed.
pub fn scan(state: &mut State) -> bool {
    let work = Work::everything(state);
    examine(state, &work)
}

fn namespaces() -> GroupResource {
    GroupResource::new("", "namespaces")
}

/// What a round looks at.
#[derive(Default)]
struct Work {
    objects: BTreeSet<Location>,
    namespaces: BTreeSet<String>,
}

impl Work {
    fn everything(state: &State) -> Self {
        let mut work = Self::default();
        for (resource, object) in state.store.all_objects() {
            work.objects.insert((resource.clone(), object_key(object)));
            if *resource == namespaces() {
                work.namespaces
                    .insert(super::meta::name_of(object).to_string());
            }
        }
        work
    }

    fn affected_by(state: &State, events: &[Arc<StoreEvent>]) -> Self {
        let mut work = Self::default();
        let ownership = state.store.ownership();
        for event in events {
            let object = &event.object;
            // The object itself: a dependent whose owners may be gone, or an owner being deleted.
            work.objects
                .insert((event.resource.clone(), object_key(object)));
            // Its dependents, once it is gone or going.
            if event.event_type == EventType::Deleted || is_terminating(object) {
                work.objects
                    .extend(ownership.dependents_of(uid_of(object)).cloned());
            }
            // Its owners, before and after the change: one deleted in the foreground may wait for it.
            let previous_owners = event.previous.iter().flat_map(|p| owner_uids(p));
            for owner in owner_uids(object).chain(previous_owners) {
                if let Some(location) = ownership.location_of(owner) {
                    work.objects.insert(location.clone());
                }
            }
            if event.resource == namespaces() {
                work.namespaces
                    .insert(super::meta::name_of(object).to_string());
            } else if !namespace_of(object).is_empty() {
                work.namespaces.insert(namespace_of(object).to_string());
            }
        }
        work
    }
}

struct Located {
    resource: GroupResource,
    namespace: String,
    name: String,
    object: Arc<Value>,
}

impl Located {
    fn at(state: &State, location: &Location) -> Option<Self> {
        let object = state.store.get_at(location)?;
        Some(Self {
            resource: location.0.clone(),
            namespace: location.1.0.clone(),
            name: location.1.1.clone(),
            object,
        })
    }

    fn of(resource: &GroupResource, object: &Arc<Value>) -> Self {
        let (namespace, name) = object_key(object);
        Self {
            resource: resource.clone(),
            namespace,
            name,
            object: object.clone(),
        }
    }
}

fn examine(state: &mut State, work: &Work) -> bool {
    let mut changed = false;
    for location in &work.objects {
        let Some(located) = Located::at(state, location) else {
            continue;
        };
        changed |= collect_orphaned_dependent(state, &located);
        if is_terminating(&located.object) {
            let uid = uid_of(&located.object);
            let children: Vec<Located> = state
                .store
                .ownership()
                .dependents_of(uid)
                .filter_map(|child| Located::at(state, child))
                .collect();
            let children: Vec<&Located> = children.iter().collect();
            let pending = finalizers(&located.object);
            if pending.iter().any(|f| f == FOREGROUND_FINALIZER) {
                changed |= delete_in_foreground(state, &located, &children);
            } else if pending.iter().any(|f| f == ORPHAN_FINALIZER) {
                changed |= orphan(state, &located, &children);
            }
        }
    }
    for name in &work.namespaces {
        if let Some(namespace) = Located::at(state, &(namespaces(), (String::new(), name.clone())))
        {
            changed |= namespace_lifecycle(state, &namespace);
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
fn collect_orphaned_dependent(state: &mut State, located: &Located) -> bool {
    let references: Vec<&Value> = owner_refs(&located.object).collect();
    if references.is_empty() || is_terminating(&located.object) {
        return false;
    }
    let ownership = state.store.ownership();
    let dangling: Vec<bool> = references
        .iter()
        .map(|r| {
            ownership
                .location_of(r["uid"].as_str().unwrap_or_default())
                .is_none()
        })
        .collect();
    let gone = dangling.iter().filter(|d| **d).count();
    if gone == 0 {
        return false;
    }
    if gone == references.len() {
        return delete(state, located, Propagation::Background);
    }
    let mut object = (*located.object).clone();
    let kept: Vec<Value> = references
        .into_iter()
        .zip(dangling)
        .filter(|(_, dangling)| !dangling)
        .map(|(r, _)| r.clone())
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
fn namespace_lifecycle(state: &mut State, namespace: &Located) -> bool {
    if is_terminating(&namespace.object) {
        let contents: Vec<Located> = state
            .store
            .namespace_contents(&namespace.name)
            .map(|(resource, object)| Located::of(resource, object))
            .collect();
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
    let has_default = state
        .store
        .get(&service_accounts, &namespace.name, "default")
        .is_some();
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

//! Create, update and delete with kube-apiserver semantics: server-owned metadata, optimistic concurrency,
//! generation, status subresource, finalizers and graceful deletion.

use serde_json::{Map, Value, json};

use super::admission::{FieldValidation, admit};
use super::error::{ApiError, ApiResult, Cause, StatusReason};
use super::managed;
use super::meta::{self, finalizers, is_terminating};
use super::resources::GroupResource;
use super::state::{Scope, State};

mod crd_registration;
mod defaults;
mod delete;

use crd_registration::{is_crd, register_crd};
pub use delete::{
    DeleteOptions, Deleted, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, delete, remove_object,
};

#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: String,
}

/// The result of a write: the object as stored (or as it would be, for dry runs) and warnings for the client.
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main endpoint: everything except `status` when the resource has a status subresource.
    Main,
    /// The `/status` subresource: only `status`.
    Status,
}

pub fn create(
    state: &mut State,
    scope: &Scope,
    body: Value,
    options: &WriteOptions,
) -> ApiResult<Written> {
    let resource = scope.resource.clone();
    let Value::Object(mut object) = body else {
        return Err(ApiError::bad_request(
            "the body of the request was not an object",
        ));
    };
    check_type(scope, &object)?;
    object.insert("apiVersion".into(), Value::String(scope.api_version()));
    object.insert("kind".into(), Value::String(resource.kind.clone()));
    let metadata = object.entry("metadata").or_insert_with(|| json!({}));
    let Value::Object(metadata) = metadata else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    if resource.namespaced {
        let namespace = scope.namespace.clone().unwrap_or_default();
        match metadata.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
        metadata.insert("namespace".into(), Value::String(namespace));
    } else {
        metadata.remove("namespace");
    }
    if metadata
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|rv| !rv.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let name = match metadata
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => name.to_string(),
        None => match metadata
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(prefix) => format!("{prefix}{}", meta::name_suffix()),
            None => {
                return Err(ApiError::invalid(
                    &resource.group,
                    &resource.kind,
                    "",
                    vec![Cause::new(
                        "FieldValueRequired",
                        "metadata.name",
                        "metadata.name: Required value: name or generateName is required",
                    )],
                ));
            }
        },
    };
    let label_only = matches!(resource.plural.as_str(), "namespaces" | "services");
    if let Some(cause) = meta::validate_name(&name, label_only) {
        return Err(ApiError::invalid(
            &resource.group,
            &resource.kind,
            &name,
            vec![cause],
        ));
    }
    metadata.insert("name".into(), Value::String(name.clone()));
    metadata.insert("uid".into(), Value::String(meta::new_uid()));
    metadata.insert("creationTimestamp".into(), Value::String(meta::now()));
    for server_owned in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
        "selfLink",
    ] {
        metadata.remove(server_owned);
    }
    if resource.has_generation {
        metadata.insert("generation".into(), json!(1));
    } else {
        metadata.remove("generation");
    }
    if resource.namespaced {
        check_namespace_accepts(state, scope.object_namespace())?;
    }
    if state
        .store
        .get(&scope.group_resource(), scope.object_namespace(), &name)
        .is_some()
    {
        return Err(ApiError::already_exists(
            &resource.group,
            &resource.plural,
            &name,
        ));
    }
    reset_status_on_create(scope, &mut object);
    defaults::on_create(scope, &mut object);
    let admitted = admit(
        &resource,
        &scope.version,
        Value::Object(object),
        None,
        options.field_validation,
    )?;
    let mut object = admitted.object;
    managed::record_update(&mut object, None, &options.field_manager, scope);
    if is_crd(scope) {
        register_crd(state, &mut object, None, options.dry_run)?;
    }
    if options.dry_run {
        return Ok(Written {
            object: scope.present(&object),
            warnings: admitted.warnings,
        });
    }
    let stored = state.store.put(&scope.group_resource(), object);
    Ok(Written {
        object: scope.present(&stored),
        warnings: admitted.warnings,
    })
}

/// A full replacement (`PUT`), or the final step of a patch.
pub fn update(
    state: &mut State,
    scope: &Scope,
    name: &str,
    body: Value,
    part: Part,
    options: &WriteOptions,
) -> ApiResult<Written> {
    let resource = scope.resource.clone();
    let Value::Object(mut incoming) = body else {
        return Err(ApiError::bad_request(
            "the body of the request was not an object",
        ));
    };
    check_type(scope, &incoming)?;
    let incoming_meta = incoming
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(body_name) = incoming_meta["name"].as_str()
        && body_name != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if resource.namespaced
        && let Some(ns) = incoming_meta["namespace"].as_str()
        && !ns.is_empty()
        && ns != scope.object_namespace()
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let old = scope.get(state, name)?;
    if let Some(rv) = incoming_meta["resourceVersion"].as_str()
        && !rv.is_empty()
        && rv
            != old["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
    {
        return Err(ApiError::stale(&resource.group, &resource.plural, name));
    }
    if let Some(uid) = incoming_meta["uid"].as_str()
        && !uid.is_empty()
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
    incoming.insert("apiVersion".into(), Value::String(scope.api_version()));
    incoming.insert("kind".into(), Value::String(resource.kind.clone()));
    let mut new = match part {
        Part::Status => {
            let mut new = (*old).clone();
            match incoming.remove("status") {
                Some(status) => new["status"] = status,
                None => {
                    new.as_object_mut().map(|o| o.remove("status"));
                }
            }
            new
        }
        Part::Main => {
            let mut new = Value::Object(incoming);
            if resource.has_status(&scope.version) {
                match old.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        new.as_object_mut().map(|o| o.remove("status"));
                    }
                }
            }
            keep_server_metadata(&mut new, &old);
            new
        }
    };
    if is_terminating(&old) {
        let before = finalizers(&old);
        let added: Vec<String> = finalizers(&new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(ApiError::invalid(
                &resource.group,
                &resource.kind,
                name,
                vec![Cause::new(
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    format!(
                        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                )],
            ));
        }
    }
    let admitted = admit(
        &resource,
        &scope.version,
        new,
        Some(&old),
        options.field_validation,
    )?;
    new = admitted.object;
    if resource.has_generation && spec_changed(&old, &new, resource.has_status(&scope.version)) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        new["metadata"]["generation"] = json!(generation + 1);
    }
    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
    managed::record_update(&mut new, Some(&old), &options.field_manager, scope);
    if new == *old {
        // A no-op write neither bumps the resourceVersion nor wakes watchers.
        return Ok(Written {
            object: scope.present(&old),
            warnings: admitted.warnings,
        });
    }
    if is_crd(scope) {
        register_crd(state, &mut new, Some(&old), options.dry_run)?;
    }
    if options.dry_run {
        return Ok(Written {
            object: scope.present(&new),
            warnings: admitted.warnings,
        });
    }
    if is_terminating(&new)
        && finalizers(&new).is_empty()
        && !namespace_finalizer_pending(scope, &new)
    {
        let gr = scope.group_resource();
        state.store.put(&gr, new);
        let removed = remove_object(state, &gr, scope.object_namespace(), name)
            .expect("object was just stored");
        return Ok(Written {
            object: scope.present(&removed),
            warnings: admitted.warnings,
        });
    }
    let stored = state.store.put(&scope.group_resource(), new);
    Ok(Written {
        object: scope.present(&stored),
        warnings: admitted.warnings,
    })
}

fn check_type(scope: &Scope, object: &Map<String, Value>) -> ApiResult<()> {
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != scope.resource.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            scope.resource.kind
        )));
    }
    if let Some(api_version) = object.get("apiVersion").and_then(Value::as_str)
        && !api_version.is_empty()
        && api_version != scope.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            scope.api_version()
        )));
    }
    Ok(())
}

fn check_namespace_accepts(state: &State, namespace: &str) -> ApiResult<()> {
    match state
        .store
        .get(&GroupResource::new("", "namespaces"), "", namespace)
    {
        None => Err(ApiError::not_found("", "namespaces", namespace)),
        Some(ns) if is_terminating(&ns) => Err(ApiError::new(
            StatusReason::Forbidden,
            format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// What a create may say about `status`, per resource.
fn reset_status_on_create(scope: &Scope, object: &mut Map<String, Value>) {
    let resource = &scope.resource;
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => {
            object.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": "BestEffort"}),
            );
        }
        ("", "namespaces") => {
            object.insert("status".into(), json!({"phase": "Active"}));
            object.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
        }
        _ if resource.has_status(&scope.version) => {
            object.remove("status");
        }
        _ => {}
    }
}

/// Fields clients cannot change through the main endpoint.
fn keep_server_metadata(new: &mut Value, old: &Value) {
    let new_meta = new
        .as_object_mut()
        .expect("object")
        .entry("metadata")
        .or_insert_with(|| json!({}));
    let Value::Object(new_meta) = new_meta else {
        return;
    };
    for key in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match old["metadata"].get(key) {
            Some(value) => {
                new_meta.insert(key.into(), value.clone());
            }
            None => {
                new_meta.remove(key);
            }
        }
    }
}

fn spec_changed(old: &Value, new: &Value, status_separate: bool) -> bool {
    let strip = |o: &Value| {
        let mut o = o.clone();
        if let Value::Object(map) = &mut o {
            map.remove("metadata");
            if status_separate {
                map.remove("status");
            }
        }
        o
    };
    strip(old) != strip(new)
}

/// A Namespace keeps existing until the namespace lifecycle controller has emptied it.
fn namespace_finalizer_pending(scope: &Scope, object: &Value) -> bool {
    scope.resource.plural == "namespaces"
        && scope.resource.group.is_empty()
        && object["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
}

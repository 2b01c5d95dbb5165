//! Verbs on resource paths: get, list, watch, create, update, patch, delete, deletecollection.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Method;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};

use super::response::{error_response, json_bytes_response, json_response};
use super::{App, Incoming, logs, token};
use crate::api::admission::FieldValidation;
use crate::api::error::{ApiError, ApiResult, StatusReason};
use crate::api::events;
use crate::api::list::{list, list_body, list_json};
use crate::api::request::ResourcePath;
use crate::api::resources::GroupResource;
use crate::api::resources::Propagation;
use crate::api::selectors::{FieldSelector, LabelSelector, Selectors};
use crate::api::state::Scope;
use crate::api::table::{IncludeObject, table};
use crate::api::watch::{self, WatchRequest};
use crate::api::write::{self, DeleteOptions, Deleted, Part, WriteOptions};
use crate::faults::{FaultAction, Verb, injected_error};
use crate::patch::{self, PatchType};

pub async fn handle(app: &Arc<App>, path: ResourcePath, request: Incoming) -> Response {
    match route(app, path, request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

fn verb_of(method: &Method, path: &ResourcePath, request: &Incoming) -> ApiResult<Verb> {
    Ok(match (method.as_str(), path.name.is_some()) {
        ("GET", false) if request.query.flag("watch") => Verb::Watch,
        ("GET", false) => Verb::List,
        ("GET", true) => Verb::Get,
        ("POST", _) => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::Deletecollection,
        _ => {
            return Err(ApiError::new(
                StatusReason::MethodNotAllowed,
                "the server does not allow this method on the requested resource",
            ));
        }
    })
}

/// How the client wants objects rendered (from `Accept`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rendering {
    Objects,
    Table(IncludeObject),
    Metadata,
}

fn rendering(request: &Incoming) -> Rendering {
    let accept = request.header("accept").unwrap_or_default();
    // The first acceptable media type wins, as in the apiserver's negotiation.
    for media in accept.split(',') {
        if media.contains("as=Table") {
            return Rendering::Table(IncludeObject::parse(request.query.get("includeObject")));
        }
        if media.contains("as=PartialObjectMetadata") {
            return Rendering::Metadata;
        }
        if media.trim().starts_with("application/json") || media.trim() == "*/*" {
            return Rendering::Objects;
        }
    }
    Rendering::Objects
}

async fn route(app: &Arc<App>, path: ResourcePath, request: Incoming) -> ApiResult<Response> {
    let not_served = || {
        // Said in the log too: a kubectl command failing on a resource the simulator does not serve is otherwise
        // hard to tell from a missing object.
        tracing::warn!(method = %request.method, group = path.group, version = path.version,
            resource = path.resource, subresource = ?path.subresource, "resource not served by kube-sim");
        ApiError::new(
            StatusReason::NotFound,
            "the server could not find the requested resource",
        )
    };
    let resource = app
        .cluster
        .lock()
        .registry
        .lookup(&path.group, &path.version, &path.resource)
        .ok_or_else(not_served)?;
    if path.namespace.is_some() && !resource.namespaced {
        return Err(not_served());
    }
    if let Some(sub) = &path.subresource
        && !resource.has_subresource(&path.version, sub)
    {
        return Err(not_served());
    }
    let scope = Scope {
        resource,
        version: path.version.clone(),
        namespace: path.namespace.clone(),
    };
    let verb = verb_of(&request.method, &path, &request)?;
    match app
        .faults
        .take(verb, &path.resource, path.subresource.as_deref())
    {
        Some(FaultAction::Fail(code)) => return Err(injected_error(code, &path.resource)),
        Some(FaultAction::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let name = path.name.clone().unwrap_or_default();
    let sub = path.subresource.as_deref();
    let response = match (verb, sub) {
        (Verb::Get, Some("log")) => {
            return Ok(logs::serve(app, &scope, &name, &request.query).await);
        }
        (Verb::Create, Some("token")) => token::create(app, &scope, &name, &request)?,
        (Verb::Get, _) => {
            let object = scope.get(&app.cluster.lock(), &name)?;
            render_one(&scope, &object, rendering(&request))
        }
        (Verb::List, _) => list_response(app, &scope, &request)?,
        (Verb::Watch, _) => watch_response(app, scope, &request)?,
        (Verb::Create, None) => {
            let body = events::to_stored(&scope, decode_body(&scope, &request)?);
            let mut state = app.cluster.lock();
            let stored_scope = events::stored_scope(&state, &scope);
            let written = write::create(
                &mut state,
                &stored_scope,
                body,
                &write_options(&request, "")?,
            )?;
            drop(state);
            app.cluster.changed.notify_one();
            json_response(201, &scope.present(&written.object), &written.warnings)
        }
        (Verb::Update, _) => {
            let body = events::to_stored(&scope, decode_body(&scope, &request)?);
            let part = if sub == Some("status") {
                Part::Status
            } else {
                Part::Main
            };
            let mut state = app.cluster.lock();
            let stored_scope = events::stored_scope(&state, &scope);
            let written = write::update(
                &mut state,
                &stored_scope,
                &name,
                body,
                part,
                &write_options(&request, "")?,
            )?;
            drop(state);
            app.cluster.changed.notify_one();
            json_response(200, &scope.present(&written.object), &written.warnings)
        }
        (Verb::Patch, _) => {
            let (code, written) = patch_object(app, &scope, &name, sub, &request)?;
            app.cluster.changed.notify_one();
            json_response(code, &scope.present(&written.object), &written.warnings)
        }
        (Verb::Delete, None) => {
            let options = delete_options(&request)?;
            let deleted = write::delete(&mut app.cluster.lock(), &scope, &name, &options)?;
            app.cluster.changed.notify_one();
            match deleted {
                Deleted::Now(object) => json_response(200, &scope.present(&object), &[]),
                Deleted::Pending(object) => json_response(202, &scope.present(&object), &[]),
            }
        }
        (Verb::Deletecollection, None) => {
            let options = delete_options(&request)?;
            let selectors = selectors(&scope, &request)?;
            let mut state = app.cluster.lock();
            let page = list(&state, &scope, &selectors, None, None)?;
            let mut deleted = Vec::new();
            for object in &page.items {
                let name = crate::api::meta::name_of(object).to_string();
                match write::delete(&mut state, &scope, &name, &options)? {
                    Deleted::Now(o) | Deleted::Pending(o) => deleted.push(scope.present(&o)),
                }
            }
            drop(state);
            app.cluster.changed.notify_one();
            let body = json!({"kind": scope.resource.list_kind, "apiVersion": scope.api_version(), "metadata": {}, "items": deleted});
            json_response(200, &body, &[])
        }
        _ => return Err(not_served()),
    };
    Ok(response)
}

/// The request body as JSON: JSON, YAML, or (for built-in kinds) Kubernetes protobuf.
pub(super) fn decode_body(scope: &Scope, request: &Incoming) -> ApiResult<Value> {
    let content_type = request.header("content-type").unwrap_or("application/json");
    if content_type.contains("protobuf") {
        // As kube-apiserver: custom resources have no protobuf form.
        if scope.resource.is_custom() {
            return Err(unsupported_media_type(content_type));
        }
        return crate::protobuf::decode(&request.body).map_err(|e| {
            tracing::warn!(error = %e, content_type, "protobuf request body not decoded");
            ApiError::bad_request(format!("error decoding protobuf request body: {e}"))
        });
    }
    if content_type.contains("cbor") {
        return Err(unsupported_media_type(content_type));
    }
    if content_type.contains("yaml") {
        return serde_norway::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    serde_json::from_slice(&request.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

fn unsupported_media_type(content_type: &str) -> ApiError {
    ApiError::new(
        StatusReason::UnsupportedMediaType,
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml; got {content_type:?}"
        ),
    )
}

fn write_options(request: &Incoming, default_manager: &str) -> ApiResult<WriteOptions> {
    let dry_run = match request.query.get("dryRun") {
        None => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported dry run value {other:?}"
            )));
        }
    };
    let field_manager = request
        .query
        .get("fieldManager")
        .map(str::to_string)
        .or_else(|| (!default_manager.is_empty()).then(|| default_manager.to_string()))
        .unwrap_or_else(|| {
            // The apiserver names an unnamed manager after the client's User-Agent prefix.
            request
                .header("user-agent")
                .and_then(|ua| ua.split('/').next())
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string()
        });
    Ok(WriteOptions {
        dry_run,
        field_validation: FieldValidation::parse(request.query.get("fieldValidation"))?,
        field_manager,
    })
}

fn selectors(scope: &Scope, request: &Incoming) -> ApiResult<Selectors> {
    Ok(Selectors {
        labels: LabelSelector::parse(request.query.get("labelSelector").unwrap_or_default())?,
        fields: {
            let fields = FieldSelector::parse(
                request.query.get("fieldSelector").unwrap_or_default(),
                &scope.resource.field_labels,
            )?;
            if scope.group_resource() == GroupResource::new("", "events") {
                fields.map_fields(events::stored_field)
            } else {
                fields
            }
        },
    })
}

fn render_one(scope: &Scope, object: &Value, rendering: Rendering) -> Response {
    let rv = object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    let body = match rendering {
        Rendering::Objects => scope.present(object),
        Rendering::Table(include) => table(scope, std::slice::from_ref(object), include, rv, None),
        Rendering::Metadata => partial_metadata(object),
    };
    json_response(200, &body, &[])
}

fn partial_metadata(object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]})
}

fn list_response(app: &App, scope: &Scope, request: &Incoming) -> ApiResult<Response> {
    let selectors = selectors(scope, request)?;
    let limit = request.query.get("limit").and_then(|l| l.parse().ok());
    let page = list(
        &app.cluster.lock(),
        scope,
        &selectors,
        limit,
        request.query.get("continue"),
    )?;
    let body = match rendering(request) {
        Rendering::Objects => return Ok(json_bytes_response(200, list_json(scope, &page))),
        Rendering::Table(include) => table(
            scope,
            &page.items,
            include,
            &page.resource_version,
            page.continue_token.as_deref(),
        ),
        Rendering::Metadata => {
            let mut body = list_body(scope, &page);
            body["kind"] = json!("PartialObjectMetadataList");
            body["apiVersion"] = json!("meta.k8s.io/v1");
            body["items"] = Value::Array(page.items.iter().map(|o| partial_metadata(o)).collect());
            body
        }
    };
    Ok(json_response(200, &body, &[]))
}

fn watch_response(app: &App, scope: Scope, request: &Incoming) -> ApiResult<Response> {
    let selectors = selectors(&scope, request)?;
    let resource_version = match request.query.get("resourceVersion") {
        None | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        ),
    };
    let timeout = request
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rendering = rendering(request);
    let watch = WatchRequest {
        scope,
        selectors,
        resource_version,
        bookmarks: request.query.flag("allowWatchBookmarks"),
        send_initial_events: request.query.flag("sendInitialEvents"),
        timeout,
        as_table: match rendering {
            Rendering::Table(include) => Some(include),
            _ => None,
        },
    };
    let metadata_only = rendering == Rendering::Metadata;
    let receiver = watch::start(&app.cluster, watch);
    let stream = futures::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    })
    .map(move |line| {
        if metadata_only {
            Ok::<_, std::io::Error>(to_metadata_event(&line))
        } else {
            Ok(line)
        }
    });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("transfer-encoding", "chunked")
        .body(Body::from_stream(stream))
        .expect("valid response"))
}

fn to_metadata_event(line: &bytes::Bytes) -> bytes::Bytes {
    let Ok(mut event) = serde_json::from_slice::<Value>(line) else {
        return line.clone();
    };
    if event["type"] != "ERROR" {
        event["object"] = partial_metadata(&event["object"]);
    }
    let mut bytes = serde_json::to_vec(&event).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes.into()
}

fn patch_object(
    app: &App,
    scope: &Scope,
    name: &str,
    sub: Option<&str>,
    request: &Incoming,
) -> ApiResult<(u16, write::Written)> {
    let patch_type =
        PatchType::from_content_type(request.header("content-type").unwrap_or_default())?;
    let part = if sub == Some("status") {
        Part::Status
    } else {
        Part::Main
    };
    let mut options = write_options(request, "")?;
    let mut state = app.cluster.lock();
    if patch_type == PatchType::Apply {
        let manager = request.query.get("fieldManager").ok_or_else(|| {
            ApiError::new(
                StatusReason::Invalid,
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            )
        })?;
        let applied = patch::apply::decode(&request.body)?;
        let current = match scope.get(&state, name) {
            Ok(current) => Some(Arc::new(scope.present(&current))),
            Err(e) if e.reason == StatusReason::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(applied_name) = applied["metadata"]["name"].as_str()
            && applied_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({applied_name}) does not match the name on the URL ({name})"
            )));
        }
        let merged = patch::apply::apply(
            scope,
            current.as_deref(),
            &applied,
            manager,
            request.query.flag("force"),
        )?;
        // Ownership was computed by the apply itself.
        options.field_manager = String::new();
        let merged = events::to_stored(scope, merged);
        let scope = &events::stored_scope(&state, scope);
        return match current {
            None if part == Part::Main => {
                Ok((201, write::create(&mut state, scope, merged, &options)?))
            }
            None => Err(ApiError::not_found(
                &scope.resource.group,
                &scope.resource.plural,
                name,
            )),
            Some(_) => Ok((
                200,
                write::update(&mut state, scope, name, merged, part, &options)?,
            )),
        };
    }
    let current = scope.present(&*scope.get(&state, name)?);
    let patched = patch::patch_object(
        patch_type,
        &current,
        &request.body,
        scope.resource.is_custom(),
    )?;
    let patched = events::to_stored(scope, patched);
    let stored_scope = events::stored_scope(&state, scope);
    Ok((
        200,
        write::update(&mut state, &stored_scope, name, patched, part, &options)?,
    ))
}

fn delete_options(request: &Incoming) -> ApiResult<DeleteOptions> {
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let policy = request
        .query
        .get("propagationPolicy")
        .map(str::to_string)
        .or_else(|| body["propagationPolicy"].as_str().map(str::to_string));
    let mut propagation = match policy {
        Some(p) => Some(Propagation::parse(&p).ok_or_else(|| {
            ApiError::bad_request(format!("unsupported propagationPolicy {p:?}"))
        })?),
        None => None,
    };
    if propagation.is_none() {
        propagation = match body["orphanDependents"]
            .as_bool()
            .or_else(|| request.query.get("orphanDependents").map(|v| v == "true"))
        {
            Some(true) => Some(Propagation::Orphan),
            Some(false) => Some(Propagation::Background),
            None => None,
        };
    }
    let dry_run = request.query.get("dryRun") == Some("All")
        || body["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        dry_run,
        propagation,
        grace_period_seconds: request
            .query
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| body["gracePeriodSeconds"].as_i64()),
        precondition_uid: body["preconditions"]["uid"].as_str().map(str::to_string),
        precondition_resource_version: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_string),
    })
}

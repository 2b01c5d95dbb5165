//! `meta.k8s.io/v1` Table responses (`Accept: application/json;as=Table;...`), as `kubectl get` requests them.

use serde_json::{Value, json};

use super::age::human_age;
use super::state::Scope;

/// The `includeObject` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

struct Column {
    name: &'static str,
    column_type: &'static str,
    format: &'static str,
    priority: i64,
}

const fn col(name: &'static str, column_type: &'static str) -> Column {
    Column {
        name,
        column_type,
        format: "",
        priority: 0,
    }
}

pub fn table<O: std::borrow::Borrow<Value>>(
    scope: &Scope,
    objects: &[O],
    include: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let (definitions, cells) = columns(scope);
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let object: &Value = object.borrow();
            let mut row = json!({"cells": cells(object)});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": object["metadata"],
                    });
                }
                IncludeObject::Object => row["object"] = scope.present(object),
            }
            row
        })
        .collect();
    let mut metadata = json!({"resourceVersion": resource_version});
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

type CellFn = Box<dyn Fn(&Value) -> Vec<Value>>;
type BuiltinCells = fn(&Value) -> Vec<Value>;

fn columns(scope: &Scope) -> (Vec<Value>, CellFn) {
    let name_definition = json!({"name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace."});
    if scope.resource.is_custom() {
        let printer = scope
            .resource
            .version(&scope.version)
            .map(|v| v.printer_columns.clone())
            .unwrap_or_default();
        if !printer.is_empty() {
            let mut definitions = vec![name_definition];
            definitions.extend(printer.iter().map(|c| c.definition()));
            return (
                definitions,
                Box::new(move |o: &Value| {
                    let mut cells = vec![json!(o["metadata"]["name"])];
                    cells.extend(printer.iter().map(|c| c.cell(o)));
                    cells
                }),
            );
        }
    }
    let (extra, cells): (Vec<Column>, BuiltinCells) = match (
        scope.resource.group.as_str(),
        scope.resource.plural.as_str(),
    ) {
        ("", "pods") => (
            vec![
                col("Ready", "string"),
                col("Status", "string"),
                col("Restarts", "string"),
                col("Age", "string"),
                Column {
                    name: "IP",
                    column_type: "string",
                    format: "",
                    priority: 1,
                },
                Column {
                    name: "Node",
                    column_type: "string",
                    format: "",
                    priority: 1,
                },
            ],
            pod_cells,
        ),
        ("", "namespaces") => (vec![col("Status", "string"), col("Age", "string")], |o| {
            vec![o["status"]["phase"].clone(), age(o)]
        }),
        ("", "secrets") => (
            vec![
                col("Type", "string"),
                col("Data", "string"),
                col("Age", "string"),
            ],
            |o| {
                vec![
                    o["type"].clone(),
                    json!(o["data"].as_object().map_or(0, |d| d.len())),
                    age(o),
                ]
            },
        ),
        ("", "configmaps") => (vec![col("Data", "string"), col("Age", "string")], |o| {
            vec![
                json!(
                    o["data"].as_object().map_or(0, |d| d.len())
                        + o["binaryData"].as_object().map_or(0, |d| d.len())
                ),
                age(o),
            ]
        }),
        ("batch", "jobs") => (
            vec![
                col("Status", "string"),
                col("Completions", "string"),
                col("Duration", "string"),
                col("Age", "string"),
            ],
            job_cells,
        ),
        ("apps", "statefulsets") => (vec![col("Ready", "string"), col("Age", "string")], |o| {
            vec![
                json!(format!(
                    "{}/{}",
                    o["status"]["readyReplicas"].as_i64().unwrap_or(0),
                    o["spec"]["replicas"].as_i64().unwrap_or(1)
                )),
                age(o),
            ]
        }),
        ("apps", "deployments") => (
            vec![
                col("Ready", "string"),
                col("Up-to-date", "string"),
                col("Available", "string"),
                col("Age", "string"),
            ],
            |o| {
                let s = &o["status"];
                vec![
                    json!(format!(
                        "{}/{}",
                        s["readyReplicas"].as_i64().unwrap_or(0),
                        o["spec"]["replicas"].as_i64().unwrap_or(1)
                    )),
                    json!(s["updatedReplicas"].as_i64().unwrap_or(0)),
                    json!(s["availableReplicas"].as_i64().unwrap_or(0)),
                    age(o),
                ]
            },
        ),
        ("", "events") | ("events.k8s.io", "events") => (
            super::events::COLUMNS
                .iter()
                .map(|(name, column_type, priority)| Column {
                    name,
                    column_type,
                    format: "",
                    priority: *priority,
                })
                .collect(),
            super::events::cells,
        ),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            (vec![col("Created At", "date")], |o| {
                vec![o["metadata"]["creationTimestamp"].clone()]
            })
        }
        _ => (vec![col("Age", "string")], |o| vec![age(o)]),
    };
    // The Events printer has no leading Name column (its Name is a wide column of its own).
    let leading_name = super::events::storage_of(&scope.resource)
        != super::resources::GroupResource::new("", "events");
    let mut definitions = if leading_name {
        vec![name_definition]
    } else {
        Vec::new()
    };
    definitions.extend(extra.iter().map(|c| {
        json!({"name": c.name, "type": c.column_type, "format": c.format, "priority": c.priority, "description": ""})
    }));
    (
        definitions,
        Box::new(move |o: &Value| {
            if !leading_name {
                return cells(o);
            }
            let mut row = vec![json!(o["metadata"]["name"])];
            row.extend(cells(o));
            row
        }),
    )
}

fn age(object: &Value) -> Value {
    match object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    {
        Some(time) => json!(human_age(time.into())),
        None => json!("<unknown>"),
    }
}

fn pod_cells(pod: &Value) -> Vec<Value> {
    let statuses = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = statuses.iter().filter(|s| s["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .map(|s| s["restartCount"].as_i64().unwrap_or(0))
        .sum();
    let waiting_reason = statuses
        .iter()
        .find_map(|s| s["state"]["waiting"]["reason"].as_str());
    let terminated_reason = statuses
        .iter()
        .find_map(|s| s["state"]["terminated"]["reason"].as_str());
    let status = if super::meta::is_terminating(pod) {
        "Terminating".to_string()
    } else {
        waiting_reason
            .or(terminated_reason)
            .or(pod["status"]["reason"].as_str())
            .or(pod["status"]["phase"].as_str())
            .unwrap_or("Unknown")
            .to_string()
    };
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("<none>");
    let ip = pod["status"]["podIP"].as_str().unwrap_or("<none>");
    vec![
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts.to_string()),
        age(pod),
        json!(ip),
        json!(node),
    ]
}

fn job_cells(job: &Value) -> Vec<Value> {
    let status = &job["status"];
    let condition = |kind: &str| {
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == kind && c["status"] == "True")
    };
    let state = if condition("Complete") {
        "Complete"
    } else if condition("Failed") {
        "Failed"
    } else if condition("Suspended") {
        "Suspended"
    } else {
        "Running"
    };
    let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
    let succeeded = status["succeeded"].as_i64().unwrap_or(0);
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    };
    let duration = match (
        parse(&status["startTime"]),
        parse(&status["completionTime"]),
    ) {
        (Some(start), Some(end)) => super::age::human_duration((end - start).num_seconds()),
        (Some(start), None) => super::age::human_duration(
            (chrono::Utc::now() - start.with_timezone(&chrono::Utc)).num_seconds(),
        ),
        _ => String::new(),
    };
    vec![
        json!(state),
        json!(format!("{succeeded}/{completions}")),
        json!(duration),
        age(job),
    ]
}

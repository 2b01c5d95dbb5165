//! One Events resource behind two APIs, as in kube-apiserver: objects are stored in the core `v1` form and
//! `events.k8s.io/v1` is a view converted field by field (`regarding` ↔ `involvedObject`, `note` ↔ `message`,
//! `deprecated*` ↔ the core timestamps, count and source). Writers (the operator's `events.k8s.io` recorder) and
//! readers (`kubectl describe`, `kubectl get events`, which use the core API) thereby see the same objects.

use serde_json::{Map, Value, json};

use super::age::human_age;
use super::resources::{GroupResource, ResourceType};
use super::state::{Scope, State};

const VIEW_GROUP: &str = "events.k8s.io";

/// `events.k8s.io/v1` field ↔ core `v1` field; the rest of the object (metadata, `eventTime`, `series`, `action`,
/// `reason`, `related`, `type`, `reportingInstance`) has the same name in both.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Whether this is the `events.k8s.io` view of the core Events.
pub fn is_view(resource: &ResourceType) -> bool {
    resource.group == VIEW_GROUP && resource.plural == "events"
}

/// Where objects of a resource are stored: both Events APIs share the core resource.
pub fn storage_of(resource: &ResourceType) -> GroupResource {
    if is_view(resource) {
        GroupResource::new("", "events")
    } else {
        resource.group_resource()
    }
}

/// The scope writes go through: the core Events for the view, the request's scope otherwise.
pub fn stored_scope(state: &State, scope: &Scope) -> Scope {
    if !is_view(&scope.resource) {
        return scope.clone();
    }
    let core = state
        .registry
        .get(&GroupResource::new("", "events"))
        .expect("core events are always served");
    Scope {
        resource: core,
        version: "v1".into(),
        namespace: scope.namespace.clone(),
    }
}

/// A body sent to the view, in the stored (core) form. A body of another kind is left for the type check to
/// reject.
pub fn to_stored(scope: &Scope, body: Value) -> Value {
    if !is_view(&scope.resource) {
        return body;
    }
    let matches_view = body["kind"].as_str().is_none_or(|k| k == "Event")
        && body["apiVersion"]
            .as_str()
            .is_none_or(|v| v == scope.api_version());
    if !matches_view {
        return body;
    }
    let Value::Object(fields) = body else {
        return body;
    };
    let mut core = rename(fields, |name| {
        RENAMED
            .iter()
            .find(|(view, _)| *view == name)
            .map(|(_, core)| *core)
    });
    core.insert("apiVersion".into(), json!("v1"));
    core.insert("kind".into(), json!("Event"));
    Value::Object(core)
}

/// A stored (core) Event as the view presents it.
pub fn to_view(object: &Value, api_version: &str) -> Value {
    let Value::Object(fields) = object.clone() else {
        return object.clone();
    };
    let mut view = rename(fields, |name| {
        RENAMED
            .iter()
            .find(|(_, core)| *core == name)
            .map(|(view, _)| *view)
    });
    view.insert("apiVersion".into(), json!(api_version));
    view.insert("kind".into(), json!("Event"));
    Value::Object(view)
}

fn rename(
    fields: Map<String, Value>,
    renamed: impl Fn(&str) -> Option<&'static str>,
) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| match renamed(&name) {
            Some(other) => (other.to_string(), value),
            None => (name, value),
        })
        .collect()
}

/// Field selector labels of both APIs, for both views (so `regarding.name` works on the core API too); see
/// [`stored_field`].
pub const FIELD_LABELS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingComponent",
    "reportingController",
    "source",
    "type",
];

/// The stored (core) field a selector label of either API compares.
pub fn stored_field(label: &str) -> Option<String> {
    if let Some(rest) = label.strip_prefix("regarding.") {
        return Some(format!("involvedObject.{rest}"));
    }
    match label {
        "reportingController" => Some("reportingComponent".into()),
        // `source` compares the source component, as the apiserver's field set does.
        "source" => Some("source.component".into()),
        _ => None,
    }
}

/// Column definitions (name, type, priority) of the Events Table, as kube-apiserver prints them.
pub const COLUMNS: &[(&str, &str, i64)] = &[
    ("Last Seen", "string", 0),
    ("Type", "string", 0),
    ("Reason", "string", 0),
    ("Object", "string", 0),
    ("Subobject", "string", 1),
    ("Source", "string", 1),
    ("Message", "string", 0),
    ("First Seen", "string", 1),
    ("Count", "integer", 1),
    ("Name", "string", 1),
];

/// One Table row of a stored (core) Event, as kube-apiserver's event printer fills it.
pub fn cells(event: &Value) -> Vec<Value> {
    let since = |value: &Value| {
        value
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| human_age(t.into()))
    };
    let first = since(&event["firstTimestamp"])
        .or_else(|| since(&event["eventTime"]))
        .unwrap_or_else(|| "<unknown>".into());
    let mut last = since(&event["lastTimestamp"]).unwrap_or_else(|| first.clone());
    let mut count = event["count"].as_i64().unwrap_or(0);
    if event["series"].is_object() {
        last = since(&event["series"]["lastObservedTime"]).unwrap_or_else(|| "<unknown>".into());
        count = event["series"]["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        // Events written through events.k8s.io carry no count when they happened once.
        count = 1;
    }
    let involved = &event["involvedObject"];
    let kind = involved["kind"].as_str().unwrap_or_default().to_lowercase();
    let target = match involved["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let source = {
        let component = event["source"]["component"]
            .as_str()
            .filter(|c| !c.is_empty())
            .or(event["reportingComponent"].as_str())
            .unwrap_or_default();
        let host = event["source"]["host"]
            .as_str()
            .filter(|h| !h.is_empty())
            .or(event["reportingInstance"].as_str())
            .unwrap_or_default();
        if host.is_empty() {
            component.to_string()
        } else {
            format!("{component}, {host}")
        }
    };
    vec![
        json!(last),
        event["type"].clone(),
        event["reason"].clone(),
        json!(target),
        json!(involved["fieldPath"].as_str().unwrap_or_default()),
        json!(source),
        json!(event["message"].as_str().unwrap_or_default().trim()),
        json!(first),
        json!(count),
        event["metadata"]["name"].clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_and_the_core_form_convert_field_by_field() {
        let view = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "ns"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 3, "lastObservedTime": "2026-01-01T00:01:00.000000Z"},
            "reportingController": "openbao-operator", "reportingInstance": "pod-1",
            "action": "Backup", "reason": "BackupSucceeded", "type": "Normal",
            "regarding": {"kind": "OpenBaoCluster", "name": "c", "namespace": "ns", "uid": "u"},
            "related": {"kind": "Job", "name": "j"},
            "note": "backup done",
            "deprecatedSource": {"component": "old"},
            "deprecatedFirstTimestamp": "2026-01-01T00:00:00Z",
            "deprecatedLastTimestamp": "2026-01-01T00:01:00Z",
            "deprecatedCount": 3,
        });
        let events = crate::api::builtin::all();
        let view_type = events.iter().find(|r| is_view(r)).unwrap().clone();
        let scope = Scope {
            resource: std::sync::Arc::new(view_type),
            version: "v1".into(),
            namespace: Some("ns".into()),
        };
        let core = to_stored(&scope, view.clone());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "c");
        assert_eq!(core["message"], "backup done");
        assert_eq!(core["reportingComponent"], "openbao-operator");
        assert_eq!(core["source"], json!({"component": "old"}));
        assert_eq!(core["firstTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(core["lastTimestamp"], "2026-01-01T00:01:00Z");
        assert_eq!(core["count"], 3);
        assert_eq!(core["series"]["count"], 3);
        assert_eq!(core["related"]["kind"], "Job");
        assert!(core.get("note").is_none() && core.get("regarding").is_none());
        assert_eq!(to_view(&core, "events.k8s.io/v1"), view);
    }

    #[test]
    fn selector_labels_of_the_view_compare_core_fields() {
        assert_eq!(
            stored_field("regarding.uid").as_deref(),
            Some("involvedObject.uid")
        );
        assert_eq!(
            stored_field("reportingController").as_deref(),
            Some("reportingComponent")
        );
        assert_eq!(stored_field("involvedObject.name"), None);
    }

    #[test]
    fn table_cells_follow_the_apiserver_printer() {
        let once = json!({"metadata": {"name": "e"}, "type": "Normal", "reason": "Created",
            "eventTime": chrono::Utc::now().to_rfc3339(), "message": " hi \n",
            "involvedObject": {"kind": "OpenBaoCluster", "name": "c"}, "reportingComponent": "op"});
        let cells = cells(&once);
        assert_eq!(cells[1], "Normal");
        assert_eq!(cells[3], "openbaocluster/c");
        assert_eq!(cells[5], "op");
        assert_eq!(cells[6], "hi");
        assert_eq!(cells[8], 1);
        assert_ne!(cells[0], "<unknown>");
        let series = json!({"metadata": {"name": "e"}, "series": {"count": 4, "lastObservedTime": "2020-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Node"}});
        let cells = super::cells(&series);
        assert_eq!(cells[3], "node");
        assert_eq!(cells[8], 4);
    }
}

//! Protobuf bodies built the way client-go builds them, decoded back into JSON.

use std::collections::HashMap;

use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, Value as PbValue};
use serde_json::{Value, json};

use super::{ProtobufError, decode, encode, message_for};

/// Builds a message from a JSON description in *protobuf* form (`Time` as `{"seconds": ..}` and so on).
fn build(descriptor: MessageDescriptor, spec: &Value) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for (name, value) in spec.as_object().expect("an object") {
        let field = descriptor
            .get_field_by_name(name)
            .unwrap_or_else(|| panic!("{} has no field {name}", descriptor.full_name()));
        let kind = field.kind();
        let converted = if field.is_map() {
            let entry = kind.as_message().expect("map entry").clone();
            let value_kind = entry.map_entry_value_field().kind();
            let map: HashMap<MapKey, PbValue> = value
                .as_object()
                .expect("a map")
                .iter()
                .map(|(k, v)| (MapKey::String(k.clone()), scalar(&value_kind, v)))
                .collect();
            PbValue::Map(map)
        } else if field.is_list() {
            PbValue::List(
                value
                    .as_array()
                    .expect("a list")
                    .iter()
                    .map(|v| scalar(&kind, v))
                    .collect(),
            )
        } else {
            scalar(&kind, value)
        };
        message.set_field(&field, converted);
    }
    message
}

fn scalar(kind: &Kind, value: &Value) -> PbValue {
    match kind {
        Kind::Message(descriptor) => PbValue::Message(build(descriptor.clone(), value)),
        Kind::String => PbValue::String(value.as_str().expect("a string").into()),
        Kind::Bytes => PbValue::Bytes(value.as_str().expect("a string").as_bytes().to_vec().into()),
        Kind::Bool => PbValue::Bool(value.as_bool().expect("a bool")),
        Kind::Int32 => PbValue::I32(value.as_i64().expect("a number") as i32),
        Kind::Int64 => PbValue::I64(value.as_i64().expect("a number")),
        other => panic!("unsupported kind {other:?}"),
    }
}

fn roundtrip(api_version: &str, kind: &str, spec: Value) -> Value {
    let descriptor = message_for(api_version, kind).expect("known kind");
    decode(&encode(api_version, kind, &build(descriptor, &spec))).expect("decodes")
}

/// What `kubectl create namespace x` sends: every non-pointer field written, zero or not.
#[test]
fn zero_values_written_by_go_are_left_out() {
    let object = roundtrip(
        "v1",
        "Namespace",
        json!({
            "metadata": {"name": "x", "generateName": "", "namespace": "", "uid": "", "resourceVersion": "",
                         "generation": 0, "creationTimestamp": {"seconds": 0, "nanos": 0}},
            "spec": {},
            "status": {"phase": ""},
        }),
    );
    assert_eq!(
        object,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {}, "status": {}})
    );
}

#[test]
fn time_is_rfc3339_seconds() {
    let object = roundtrip(
        "v1",
        "ConfigMap",
        json!({"metadata": {"name": "c", "creationTimestamp": {"seconds": 1_700_000_000, "nanos": 0}}}),
    );
    assert_eq!(
        object["metadata"]["creationTimestamp"],
        "2023-11-14T22:13:20Z"
    );
}

#[test]
fn micro_time_keeps_microseconds() {
    let object = roundtrip(
        "events.k8s.io/v1",
        "Event",
        json!({"metadata": {"name": "e"}, "eventTime": {"seconds": 1_700_000_000, "nanos": 123_456_000},
               "note": "hello", "regarding": {"kind": "Pod", "name": "p"}}),
    );
    assert_eq!(object["eventTime"], "2023-11-14T22:13:20.123456Z");
    assert_eq!(object["regarding"], json!({"kind": "Pod", "name": "p"}));
}

#[test]
fn int_or_string_takes_the_form_its_type_says() {
    let object = roundtrip(
        "v1",
        "Service",
        json!({"metadata": {"name": "s"}, "spec": {"ports": [
            {"name": "a", "port": 80, "targetPort": {"type": 0, "intVal": 8080, "strVal": ""}},
            {"name": "b", "port": 81, "targetPort": {"type": 1, "intVal": 0, "strVal": "http"}},
        ]}}),
    );
    assert_eq!(object["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(object["spec"]["ports"][1]["targetPort"], "http");
}

#[test]
fn quantity_is_its_string() {
    let object = roundtrip(
        "v1",
        "Pod",
        json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "image": "busybox", "resources": {"limits": {"cpu": {"string": "500m"}}}},
        ]}}),
    );
    assert_eq!(
        object["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "500m"
    );
}

#[test]
fn raw_extension_is_the_embedded_json() {
    let object = roundtrip(
        "apps/v1",
        "ControllerRevision",
        json!({"metadata": {"name": "r"}, "revision": 2, "data": {"raw": "{\"spec\":{\"replicas\":3}}"}}),
    );
    assert_eq!(object["data"], json!({"spec": {"replicas": 3}}));
    assert_eq!(object["revision"], 2);
}

#[test]
fn bytes_are_base64_and_maps_stay_maps() {
    let object = roundtrip(
        "v1",
        "Secret",
        json!({"metadata": {"name": "s3-creds", "labels": {"app": "x"}}, "type": "Opaque",
               "data": {"access-key": "AKIA", "empty": ""}}),
    );
    assert_eq!(
        object["data"],
        json!({"access-key": "QUtJQQ==", "empty": ""})
    );
    assert_eq!(object["metadata"]["labels"], json!({"app": "x"}));
    assert_eq!(object["type"], "Opaque");
}

#[test]
fn slice_types_are_json_lists() {
    let object = roundtrip(
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        json!({"metadata": {}, "spec": {"user": "u", "extra": {}, "resourceAttributes": {"verb": "get", "resource": "pods"}}}),
    );
    assert_eq!(
        object["spec"]["resourceAttributes"],
        json!({"verb": "get", "resource": "pods"})
    );
    let descriptor = message_for("authorization.k8s.io/v1", "SubjectAccessReviewSpec").unwrap();
    let extra_kind = descriptor.get_field_by_name("extra").unwrap().kind();
    let entry = extra_kind.as_message().unwrap();
    let value_descriptor = entry
        .map_entry_value_field()
        .kind()
        .as_message()
        .unwrap()
        .clone();
    let extra = build(value_descriptor, &json!({"items": ["a", "b"]}));
    assert_eq!(super::to_json(&extra), json!(["a", "b"]));
}

#[test]
fn what_cannot_be_decoded_is_an_error() {
    assert!(matches!(decode(b"{}"), Err(ProtobufError::MissingMagic)));
    let pod = message_for("v1", "Pod").unwrap();
    let body = encode("example.com/v1", "Widget", &DynamicMessage::new(pod));
    assert!(matches!(
        decode(&body),
        Err(ProtobufError::UnknownKind { .. })
    ));
}

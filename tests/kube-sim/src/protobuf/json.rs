//! Transcoding decoded Kubernetes protobuf messages into the API's JSON form.
//!
//! Generic rules follow what the apiserver's JSON encoding of the same Go struct produces: Kubernetes protos are
//! proto2 and Go writes every non-pointer field, so a zero scalar on the wire is (almost always) a Go zero value
//! that `omitempty` drops from JSON; messages, lists and maps that were sent are kept (`emptyDir: {}` matters).
//! Types with a custom JSON form in Go get their own rule, keyed by message name.

use base64::Engine;
use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage, Value as PbValue};
use serde_json::{Map, Value, json};

/// The object's JSON form; see the module docs for the rules.
pub fn to_json(message: &DynamicMessage) -> Value {
    let descriptor = message.descriptor();
    let name = descriptor.full_name();
    if let Some(special) = special(name, message) {
        return special;
    }
    if let Some(items) = list_wrapper(message) {
        return items;
    }
    let mut out = Map::new();
    for (field, value) in message.fields() {
        let converted = if field.is_map() {
            let Some(map) = value.as_map() else { continue };
            let mut object = Map::new();
            for (key, value) in map {
                object.insert(map_key(key), element(value));
            }
            Value::Object(object)
        } else if field.is_list() {
            let Some(list) = value.as_list() else {
                continue;
            };
            Value::Array(list.iter().map(element).collect())
        } else {
            if is_zero_scalar(value) && !matches!(field.kind(), Kind::Message(_)) {
                continue;
            }
            element(value)
        };
        if converted.is_null() {
            continue;
        }
        out.insert(field.name().to_string(), converted);
    }
    Value::Object(out)
}

fn element(value: &PbValue) -> Value {
    match value {
        PbValue::Bool(b) => json!(b),
        PbValue::I32(n) => json!(n),
        PbValue::I64(n) => json!(n),
        PbValue::U32(n) => json!(n),
        PbValue::U64(n) => json!(n),
        PbValue::F32(n) => json!(n),
        PbValue::F64(n) => json!(n),
        PbValue::String(s) => json!(s),
        // Go encodes []byte as standard base64 in JSON (Secret data).
        PbValue::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        PbValue::EnumNumber(n) => json!(n),
        PbValue::Message(m) => to_json(m),
        PbValue::List(items) => Value::Array(items.iter().map(element).collect()),
        PbValue::Map(map) => {
            Value::Object(map.iter().map(|(k, v)| (map_key(k), element(v))).collect())
        }
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn is_zero_scalar(value: &PbValue) -> bool {
    match value {
        PbValue::Bool(b) => !b,
        PbValue::I32(n) => *n == 0,
        PbValue::I64(n) => *n == 0,
        PbValue::U32(n) => *n == 0,
        PbValue::U64(n) => *n == 0,
        PbValue::F32(n) => *n == 0.0,
        PbValue::F64(n) => *n == 0.0,
        PbValue::String(s) => s.is_empty(),
        PbValue::Bytes(b) => b.is_empty(),
        PbValue::EnumNumber(n) => *n == 0,
        PbValue::Message(_) | PbValue::List(_) | PbValue::Map(_) => false,
    }
}

fn int(message: &DynamicMessage, field: &str) -> i64 {
    match message.get_field_by_name(field).as_deref() {
        Some(PbValue::I64(n)) => *n,
        Some(PbValue::I32(n)) => i64::from(*n),
        _ => 0,
    }
}

fn string(message: &DynamicMessage, field: &str) -> String {
    match message.get_field_by_name(field).as_deref() {
        Some(PbValue::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn raw_json(message: &DynamicMessage, field: &str) -> Value {
    match message.get_field_by_name(field).as_deref() {
        Some(PbValue::Bytes(raw)) if !raw.is_empty() => {
            serde_json::from_slice(raw).unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

/// Go types whose JSON is not their struct's fields.
fn special(name: &str, message: &DynamicMessage) -> Option<Value> {
    let short = name.rsplit('.').next().unwrap_or(name);
    let package = name.strip_suffix(short).unwrap_or_default();
    let meta = package.ends_with("apis.meta.v1.");
    Some(match short {
        // `metav1.Time`: RFC 3339 in seconds; the zero time is `null` (and so left out).
        "Time" if meta => timestamp(int(message, "seconds"), int(message, "nanos"), false),
        // `metav1.MicroTime`: RFC 3339 with microseconds.
        "MicroTime" if meta => timestamp(int(message, "seconds"), int(message, "nanos"), true),
        "Duration" if meta => json!(go_duration(int(message, "duration"))),
        // `FieldsV1` (managedFields) carries its JSON as bytes.
        "FieldsV1" if meta => raw_json(message, "Raw"),
        "IntOrString" if package.ends_with("util.intstr.") => {
            if int(message, "type") == 1 {
                json!(string(message, "strVal"))
            } else {
                json!(int(message, "intVal"))
            }
        }
        "Quantity" if package.ends_with("api.resource.") => json!(string(message, "string")),
        "RawExtension" if package.ends_with("pkg.runtime.") => raw_json(message, "raw"),
        // apiextensions' `JSON` (CRD schema defaults, examples, enums) is raw JSON too.
        "JSON" if package.ends_with("apiextensions.v1.") => raw_json(message, "raw"),
        _ => return None,
    })
}

/// Go slice types (`ExtraValue`, `Verbs`) are messages with a single repeated `items` field; JSON has the list.
fn list_wrapper(message: &DynamicMessage) -> Option<Value> {
    let descriptor = message.descriptor();
    let mut fields = descriptor.fields();
    let only = fields.next()?;
    if fields.next().is_some() || only.name() != "items" || !only.is_list() {
        return None;
    }
    let items = message.get_field(&only);
    Some(Value::Array(
        items
            .as_list()
            .map(|l| l.iter().map(element).collect())
            .unwrap_or_default(),
    ))
}

fn timestamp(seconds: i64, nanos: i64, micro: bool) -> Value {
    if seconds == 0 && nanos == 0 {
        return Value::Null;
    }
    let Some(time) = chrono::DateTime::from_timestamp(seconds, nanos.clamp(0, 999_999_999) as u32)
    else {
        return Value::Null;
    };
    if micro {
        json!(time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    } else {
        json!(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let fraction = |value: u64, unit: u64| {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let digits = unit.to_string().len() - 1;
            let text = format!("{whole}.{rest:0digits$}");
            text.trim_end_matches('0').to_string()
        }
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", fraction(n, 1_000));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", fraction(n, 1_000_000));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = (n / 60_000_000_000) % 60;
    let seconds = fraction(n % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

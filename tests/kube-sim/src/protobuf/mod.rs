//! `application/vnd.kubernetes.protobuf` request bodies, decoded into the JSON objects the store keeps.
//!
//! kubectl's typed clients (`kubectl create namespace|secret|job|token`, `auth can-i`) send built-in kinds as
//! protobuf and do not fall back to JSON on 415, so the simulator has to read them. The body is the `k8s\0` magic
//! followed by a `runtime.Unknown` whose `raw` field holds the object; the object is decoded with the Kubernetes
//! 1.33 descriptors in `protobuf/kubernetes.binpb` (extracted from the `k8s-rs-pb` crate by
//! `protobuf/extract_descriptors.py`) and transcoded by [`json`] into the API's JSON form.

mod json;

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value as PbValue};
use serde_json::Value;

pub use json::to_json;

const MAGIC: &[u8] = b"k8s\0";
const DESCRIPTORS: &[u8] = include_bytes!("../../protobuf/kubernetes.binpb");

#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("the body does not start with the Kubernetes protobuf envelope (\"k8s\\x00\")")]
    MissingMagic,
    #[error("decoding the runtime.Unknown envelope: {0}")]
    Envelope(prost::DecodeError),
    #[error("the envelope's contentEncoding {0:?} is not supported")]
    ContentEncoding(String),
    #[error("no protobuf type is known for apiVersion {api_version:?} kind {kind:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("decoding {kind}: {source}")]
    Object {
        kind: String,
        source: prost::DecodeError,
    },
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(DESCRIPTORS).expect("the checked-in descriptor set is valid")
    })
}

/// The message for a kind: `apps/v1` `StatefulSet` is `<...>.apps.v1.StatefulSet` (core is `api.core.v1`,
/// `rbac.authorization.k8s.io/v1` is `api.rbac.v1`, as in the upstream proto packages).
pub fn message_for(api_version: &str, kind: &str) -> Option<MessageDescriptor> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let label = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    let suffix = format!(".{label}.{version}");
    pool()
        .all_messages()
        .find(|m| m.name() == kind && m.package_name().ends_with(&suffix))
}

/// Decodes an enveloped protobuf body into the object's JSON, with `apiVersion` and `kind` from the envelope.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let payload = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let unknown_type = pool()
        .get_message_by_name("apimachinery.pkg.runtime.Unknown")
        .expect("runtime.Unknown is in the descriptor set");
    let envelope =
        DynamicMessage::decode(unknown_type, payload).map_err(ProtobufError::Envelope)?;
    let text = |message: &DynamicMessage, field: &str| match message.get_field_by_name(field) {
        Some(value) => value.as_str().unwrap_or_default().to_string(),
        None => String::new(),
    };
    let encoding = text(&envelope, "contentEncoding");
    if !encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(encoding));
    }
    let type_meta = envelope
        .get_field_by_name("typeMeta")
        .and_then(|v| v.as_message().cloned());
    let (api_version, kind) = match &type_meta {
        Some(meta) => (text(meta, "apiVersion"), text(meta, "kind")),
        None => (String::new(), String::new()),
    };
    let raw = match envelope.get_field_by_name("raw").as_deref() {
        Some(PbValue::Bytes(raw)) => raw.clone(),
        _ => bytes::Bytes::new(),
    };
    let descriptor =
        message_for(&api_version, &kind).ok_or_else(|| ProtobufError::UnknownKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
    let object =
        DynamicMessage::decode(descriptor, raw).map_err(|source| ProtobufError::Object {
            kind: kind.clone(),
            source,
        })?;
    let mut json = to_json(&object);
    if let Value::Object(map) = &mut json {
        map.insert("apiVersion".into(), Value::String(api_version));
        map.insert("kind".into(), Value::String(kind));
    }
    Ok(json)
}

/// Wraps an object in the envelope, as client-go does; tests use it to build bodies.
pub fn encode(api_version: &str, kind: &str, object: &DynamicMessage) -> Vec<u8> {
    use prost::Message;
    let unknown_type = pool()
        .get_message_by_name("apimachinery.pkg.runtime.Unknown")
        .expect("runtime.Unknown is in the descriptor set");
    let mut type_meta = DynamicMessage::new(
        unknown_type
            .get_field_by_name("typeMeta")
            .and_then(|f| f.kind().as_message().cloned())
            .expect("Unknown.typeMeta is a message"),
    );
    type_meta.set_field_by_name("apiVersion", PbValue::String(api_version.into()));
    type_meta.set_field_by_name("kind", PbValue::String(kind.into()));
    let mut envelope = DynamicMessage::new(unknown_type);
    envelope.set_field_by_name("typeMeta", PbValue::Message(type_meta));
    envelope.set_field_by_name("raw", PbValue::Bytes(object.encode_to_vec().into()));
    envelope.set_field_by_name("contentType", PbValue::String(String::new()));
    let mut out = MAGIC.to_vec();
    out.extend(envelope.encode_to_vec());
    out
}

#[cfg(test)]
mod tests;

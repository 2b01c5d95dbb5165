//! Decoding and validating an object body before it is stored: typed round-trips for built-ins (which drop unknown
//! fields like Go decoding does), pruning/defaulting/OpenAPI/CEL validation for custom resources.

use base64::Engine;
use kube_cel::RootContext;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::resources::{Origin, ResourceType};

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(value: Option<&str>) -> ApiResult<Self> {
        match value {
            None | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other:?}: must be one of Ignore, Warn or Strict"
            ))),
        }
    }
}

/// An object ready to store, and the warnings to send back (`Warning` headers).
pub struct Admitted {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// Normalises and validates `object` (the full object after the server set its metadata); `old` is the stored
/// object on update, for transition rules.
pub fn admit(
    resource: &ResourceType,
    version: &str,
    mut object: Value,
    old: Option<&Value>,
    field_validation: FieldValidation,
) -> ApiResult<Admitted> {
    let name = super::meta::name_of(&object).to_string();
    let unknown = match &resource.origin {
        Origin::Builtin { codec, .. } => {
            if resource.kind == "Secret" {
                fold_string_data(&mut object);
            }
            let decoded = codec(object.clone()).map_err(|e| {
                ApiError::bad_request(format!(
                    "{} in version \"{version}\" cannot be handled as a {}: {e}",
                    resource.kind, resource.kind
                ))
            })?;
            let mut unknown = Vec::new();
            unknown_fields(&object, &decoded, "", &mut unknown);
            object = decoded;
            unknown
        }
        Origin::Custom { .. } => {
            let schema = resource.version(version).and_then(|v| v.schema.clone());
            match schema {
                Some(schema) => {
                    let pruned = schema.prune(&mut object);
                    object = schema.apply_defaults(&object);
                    let root = RootContext {
                        api_version: resource.api_version(version),
                        api_group: resource.group.clone(),
                        kind: resource.kind.clone(),
                    };
                    let old = old.map(|o| schema.apply_defaults(o));
                    let causes = schema.validate(&object, old.as_ref(), &root);
                    if !causes.is_empty() {
                        return Err(ApiError::invalid(
                            &resource.group,
                            &resource.kind,
                            &name,
                            causes,
                        ));
                    }
                    pruned
                        .into_iter()
                        .map(|p| p.trim_start_matches('.').to_string())
                        .collect()
                }
                None => Vec::new(),
            }
        }
    };
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        match field_validation {
            FieldValidation::Strict => {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )));
            }
            FieldValidation::Warn => {
                warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")))
            }
            FieldValidation::Ignore => {}
        }
    }
    Ok(Admitted { object, warnings })
}

/// Paths present (and not null) in `input` but gone after decoding: fields the type does not have.
fn unknown_fields(input: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    match (input, decoded) {
        (Value::Object(input), Value::Object(decoded)) => {
            for (key, value) in input {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match decoded.get(key) {
                    Some(decoded_value) => unknown_fields(value, decoded_value, &child, out),
                    None if value.is_null() || is_empty_container(value) => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(input), Value::Array(decoded)) if input.len() == decoded.len() => {
            for (i, (a, b)) in input.iter().zip(decoded).enumerate() {
                unknown_fields(a, b, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty_container(value: &Value) -> bool {
    matches!(value, Value::Object(m) if m.is_empty())
        || matches!(value, Value::Array(a) if a.is_empty())
}

/// `stringData` is write-only: the apiserver merges it into `data` (base64) and never stores it.
fn fold_string_data(secret: &mut Value) {
    let Some(string_data) = secret.as_object_mut().and_then(|o| o.remove("stringData")) else {
        return;
    };
    let Value::Object(entries) = string_data else {
        return;
    };
    let data = secret["data"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut data = data;
    for (key, value) in entries {
        if let Some(text) = value.as_str() {
            data.insert(
                key,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
    secret["data"] = Value::Object(data);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::resources::Registry;

    fn admit_builtin(
        group: &str,
        plural: &str,
        object: Value,
        fv: FieldValidation,
    ) -> ApiResult<Admitted> {
        let registry = Registry::with_builtins();
        let resource = registry.lookup(group, "v1", plural).unwrap();
        admit(&resource, "v1", object, None, fv)
    }

    #[test]
    fn unknown_builtin_fields_warn_or_fail() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}, "bogus": 1});
        let admitted = admit_builtin("", "configmaps", cm.clone(), FieldValidation::Warn).unwrap();
        assert_eq!(
            admitted.warnings,
            vec!["unknown field \"bogus\"".to_string()]
        );
        assert!(admitted.object.get("bogus").is_none());
        let err = admit_builtin("", "configmaps", cm, FieldValidation::Strict)
            .err()
            .unwrap();
        assert_eq!(err.code(), 400);
        assert!(err.message.contains("unknown field \"bogus\""));
    }

    #[test]
    fn wrong_types_are_bad_requests() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "a"}, "spec": {"parallelism": "x"}});
        let err = admit_builtin("batch", "jobs", job, FieldValidation::Warn)
            .err()
            .unwrap();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn secret_string_data_folds_into_data() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"token": "abc"}});
        let admitted = admit_builtin("", "secrets", secret, FieldValidation::Strict).unwrap();
        assert_eq!(admitted.object["data"]["token"], "YWJj");
        assert!(admitted.object.get("stringData").is_none());
    }
}

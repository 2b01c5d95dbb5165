//! Validates objects against a CustomResourceDefinition the way the API server does on create and update, without
//! an API server: drop pruned nulls, apply schema defaults, check the structural schema (types, enums, patterns,
//! bounds, required and unknown fields), then evaluate the CEL `x-kubernetes-validations`, transition rules
//! included.
//!
//! Used by the sample tests and by the API simulator.

mod structural;

use std::fmt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_cel::{CompiledSchema, RootContext};
use serde_json::Value;

pub use structural::{structural_problems, to_json_schema};

/// Why a CRD cannot be turned into a validator.
#[derive(Debug, thiserror::Error)]
pub enum SchemaCheckError {
    #[error("CRD {crd} has no version {version:?} with an openAPIV3Schema")]
    NoSchema { crd: String, version: String },
    #[error("CRD {crd} has no storage version")]
    NoStorageVersion { crd: String },
    #[error("the openAPIV3Schema of CRD {crd} is not a usable JSON Schema: {message}")]
    InvalidSchema { crd: String, message: String },
    #[error("a CEL rule of CRD {crd} does not compile: {message}")]
    RuleDoesNotCompile { crd: String, message: String },
}

impl SchemaCheckError {
    /// Stable, low-cardinality name of the problem.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoSchema { .. } => "NoSchema",
            Self::NoStorageVersion { .. } => "NoStorageVersion",
            Self::InvalidSchema { .. } => "InvalidSchema",
            Self::RuleDoesNotCompile { .. } => "RuleDoesNotCompile",
        }
    }
}

/// Which check refused a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViolationOrigin {
    /// `apiVersion` or `kind` do not belong to this CRD.
    TypeMeta,
    /// The structural schema: type, enum, pattern, bounds, required or unknown field.
    Schema,
    /// A CEL `x-kubernetes-validations` rule.
    Rule,
}

/// One refused field, phrased like the API server's field errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field, e.g. `spec.backup.target.provider`; empty for the object itself.
    pub field: String,
    pub message: String,
    pub origin: ViolationOrigin,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// The object was refused; every violation found is listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} is invalid: {}", self.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Rejected {
    pub kind: String,
    pub violations: Vec<Violation>,
}

impl Rejected {
    /// Whether some violation's text (`field: message`) contains `needle`.
    pub fn mentions(&self, needle: &str) -> bool {
        self.violations
            .iter()
            .any(|violation| violation.to_string().contains(needle))
    }
}

/// The validation of one version of one CRD.
pub struct CrdValidator {
    group: String,
    version: String,
    kind: String,
    open_api_v3: Value,
    structural: jsonschema::Validator,
    rules: CompiledSchema,
    cel: kube_cel::Validator,
}

impl fmt::Debug for CrdValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrdValidator")
            .field("api_version", &self.api_version())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl CrdValidator {
    /// The validator of the CRD's storage version.
    pub fn new(crd: &CustomResourceDefinition) -> Result<Self, SchemaCheckError> {
        let crd_name = crd.metadata.name.clone().unwrap_or_default();
        let storage = crd
            .spec
            .versions
            .iter()
            .find(|version| version.storage)
            .ok_or(SchemaCheckError::NoStorageVersion { crd: crd_name })?;
        Self::for_version(crd, &storage.name)
    }

    /// The validator of one served version of the CRD.
    pub fn for_version(
        crd: &CustomResourceDefinition,
        version: &str,
    ) -> Result<Self, SchemaCheckError> {
        let crd_name = crd.metadata.name.clone().unwrap_or_default();
        let no_schema = || SchemaCheckError::NoSchema {
            crd: crd_name.clone(),
            version: version.to_owned(),
        };
        let schema = crd
            .spec
            .versions
            .iter()
            .find(|candidate| candidate.name == version)
            .and_then(|candidate| candidate.schema.as_ref())
            .and_then(|validation| validation.open_api_v3_schema.as_ref())
            .ok_or_else(no_schema)?;
        let open_api_v3 =
            serde_json::to_value(schema).map_err(|error| SchemaCheckError::InvalidSchema {
                crd: crd_name.clone(),
                message: error.to_string(),
            })?;
        let structural = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&to_json_schema(&open_api_v3))
            .map_err(|error| SchemaCheckError::InvalidSchema {
                crd: crd_name.clone(),
                message: error.to_string(),
            })?;
        let rules = kube_cel::compile_schema(&open_api_v3);
        if let Some(error) = first_compilation_error(&rules) {
            return Err(SchemaCheckError::RuleDoesNotCompile {
                crd: crd_name,
                message: error,
            });
        }
        Ok(Self {
            group: crd.spec.group.clone(),
            version: version.to_owned(),
            kind: crd.spec.names.kind.clone(),
            open_api_v3,
            structural,
            rules,
            cel: kube_cel::Validator::new(),
        })
    }

    /// `<group>/<version>`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The CRD's `openAPIV3Schema` as JSON.
    pub fn open_api_v3(&self) -> &Value {
        &self.open_api_v3
    }

    /// Drops the fields the schema does not know, as the API server does when a request does not ask for strict
    /// field validation (kube clients by default). Returns the dotted paths of the dropped fields. Root
    /// `apiVersion`, `kind` and `metadata` are kept.
    pub fn prune_unknown_fields(&self, object: &mut Value) -> Vec<String> {
        let mut schema = self.open_api_v3.clone();
        if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for implicit in ["apiVersion", "kind"] {
                properties.insert(implicit.into(), serde_json::json!({ "type": "string" }));
            }
            properties.insert(
                "metadata".into(),
                serde_json::json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true }),
            );
        }
        structural::prune_unknown_fields(&schema, object)
    }

    /// Whether `object` has this validator's `apiVersion` and `kind`.
    pub fn handles(&self, object: &Value) -> bool {
        object.get("apiVersion").and_then(Value::as_str) == Some(self.api_version().as_str())
            && object.get("kind").and_then(Value::as_str) == Some(self.kind.as_str())
    }

    /// Validates a new object. Returns it as the API server would store it: pruned nulls dropped, defaults applied.
    pub fn validate_create(&self, object: &Value) -> Result<Value, Rejected> {
        self.validate(object, None)
    }

    /// Validates a replacement of `old`, transition rules (`oldSelf`) included.
    pub fn validate_update(&self, object: &Value, old: &Value) -> Result<Value, Rejected> {
        let old = self.admit(old);
        self.validate(object, Some(&old))
    }

    fn validate(&self, object: &Value, old: Option<&Value>) -> Result<Value, Rejected> {
        let mut violations = self.type_meta_violations(object);
        let admitted = self.admit(object);
        violations.extend(
            self.structural
                .iter_errors(&admitted)
                .map(|error| schema_violation(&error)),
        );
        // CEL on a value of the wrong shape reports noise (no such key, type errors); the API server also stops
        // after schema errors.
        if violations.is_empty()
            && let Err(errors) = self.cel.validate_compiled_with_context(
                &self.rules,
                &admitted,
                old,
                Some(&RootContext {
                    api_version: self.api_version(),
                    api_group: self.group.clone(),
                    kind: self.kind.clone(),
                }),
            )
        {
            violations.extend(errors.into_vec().into_iter().map(|error| Violation {
                field: error.field_path,
                message: error.message,
                origin: ViolationOrigin::Rule,
            }));
        }
        if violations.is_empty() {
            Ok(admitted)
        } else {
            Err(Rejected {
                kind: self.kind.clone(),
                violations,
            })
        }
    }

    /// The object after the API server's admission mutations that precede validation.
    fn admit(&self, object: &Value) -> Value {
        let mut object = object.clone();
        structural::drop_pruned_nulls(&self.open_api_v3, &mut object);
        kube_cel::apply_defaults(&self.open_api_v3, &object)
    }

    fn type_meta_violations(&self, object: &Value) -> Vec<Violation> {
        let mut violations = Vec::new();
        let api_version = self.api_version();
        if object.get("apiVersion").and_then(Value::as_str) != Some(api_version.as_str()) {
            violations.push(Violation {
                field: "apiVersion".into(),
                message: format!("must be {api_version}"),
                origin: ViolationOrigin::TypeMeta,
            });
        }
        if object.get("kind").and_then(Value::as_str) != Some(self.kind.as_str()) {
            violations.push(Violation {
                field: "kind".into(),
                message: format!("must be {}", self.kind),
                origin: ViolationOrigin::TypeMeta,
            });
        }
        violations
    }
}

fn schema_violation(error: &jsonschema::ValidationError<'_>) -> Violation {
    let field = dotted_path(error.instance_path().as_str());
    let message = match error.kind() {
        jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
            let fields: Vec<String> = unexpected
                .iter()
                .map(|name| {
                    if field.is_empty() {
                        name.clone()
                    } else {
                        format!("{field}.{name}")
                    }
                })
                .collect();
            format!("unknown field {}", fields.join(", "))
        }
        _ => error.to_string(),
    };
    Violation {
        field,
        message,
        origin: ViolationOrigin::Schema,
    }
}

/// `/spec/backup/target` → `spec.backup.target`; array indices become `[n]`.
fn dotted_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    path
}

fn first_compilation_error(schema: &CompiledSchema) -> Option<String> {
    if let Some(error) = schema.compilation_errors().first() {
        return Some(error.to_string());
    }
    schema
        .properties
        .values()
        .chain(schema.items.as_deref())
        .chain(schema.additional_properties.as_deref())
        .chain(&schema.all_of)
        .chain(&schema.one_of)
        .chain(&schema.any_of)
        .find_map(first_compilation_error)
}

/// Validators for both OpenBao CRDs.
pub fn openbao_validators() -> Vec<CrdValidator> {
    crate::crds()
        .iter()
        .map(|crd| {
            CrdValidator::new(crd).expect("the generated OpenBao CRDs always yield validators")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(dotted_path(""), "");
        assert_eq!(dotted_path("/spec/backup/target"), "spec.backup.target");
        assert_eq!(
            dotted_path("/status/conditions/0/type"),
            "status.conditions[0].type"
        );
        assert_eq!(
            dotted_path("/metadata/annotations/openbao.org~1trigger-backup"),
            "metadata.annotations.openbao.org/trigger-backup"
        );
    }
}

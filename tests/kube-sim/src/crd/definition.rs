//! A CustomResourceDefinition object → the [`ResourceType`] it makes the server serve.

use std::sync::Arc;

use serde_json::{Value, json};

use super::columns::PrinterColumn;
use super::schema::StructuralSchema;
use crate::api::error::Cause;
use crate::api::resources::{Origin, Propagation, ResourceType, VersionInfo};

/// Checks a CRD the way the apiextensions apiserver validates it and builds the resource it defines.
pub fn resource_type(crd: &Value) -> Result<ResourceType, Vec<Cause>> {
    let spec = &crd["spec"];
    let mut causes = Vec::new();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let group = text(&spec["group"]);
    let names = &spec["names"];
    let plural = text(&names["plural"]);
    let kind = text(&names["kind"]);
    let name = text(&crd["metadata"]["name"]);
    if group.is_empty() || !group.contains('.') {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.group",
            format!(
                "spec.group: Invalid value: \"{group}\": should be a domain with at least one dot"
            ),
        ));
    }
    if plural.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.names.plural",
            "spec.names.plural: Required value",
        ));
    }
    if kind.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.names.kind",
            "spec.names.kind: Required value",
        ));
    }
    if name != format!("{plural}.{group}") {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let scope = text(&spec["scope"]);
    if scope != "Namespaced" && scope != "Cluster" {
        causes.push(Cause::new(
            "FieldValueNotSupported",
            "spec.scope",
            format!("spec.scope: Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""),
        ));
    }
    let mut versions = Vec::new();
    let declared = spec["versions"].as_array().cloned().unwrap_or_default();
    if declared.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.versions",
            "spec.versions: Required value",
        ));
    }
    if declared.iter().filter(|v| v["storage"] == true).count() != 1 && !declared.is_empty() {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.versions",
            "spec.versions: Invalid value: must have exactly one version marked as storage version",
        ));
    }
    for (i, version) in declared.iter().enumerate() {
        let field = format!("spec.versions[{i}].schema.openAPIV3Schema");
        let schema = match version["schema"].get("openAPIV3Schema") {
            Some(raw) => match StructuralSchema::compile(raw.clone(), &field) {
                Ok(schema) => Some(Arc::new(schema)),
                Err(mut errors) => {
                    causes.append(&mut errors);
                    None
                }
            },
            None => {
                causes.push(Cause::new(
                    "FieldValueRequired",
                    &field,
                    format!("{field}: Required value: schemas are required"),
                ));
                None
            }
        };
        if version["served"] != true {
            continue;
        }
        versions.push(VersionInfo {
            name: text(&version["name"]),
            storage: version["storage"] == true,
            status_subresource: version["subresources"].get("status").is_some(),
            schema,
            printer_columns: version["additionalPrinterColumns"]
                .as_array()
                .map(|columns| columns.iter().map(PrinterColumn::from_crd).collect())
                .unwrap_or_default(),
        });
    }
    if !causes.is_empty() {
        return Err(causes);
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(ResourceType {
        group,
        versions,
        list_kind: names["listKind"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{kind}List")),
        singular: names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase()),
        kind,
        plural,
        short_names: strings(&names["shortNames"]),
        categories: strings(&names["categories"]),
        namespaced: scope == "Namespaced",
        extra_subresources: Vec::new(),
        has_generation: true,
        default_propagation: Propagation::Background,
        field_labels: Vec::new(),
        origin: Origin::Custom { crd_name: name },
    })
}

/// The status the apiextensions controller reports once the names are accepted and the resource is served.
pub fn established_status(crd: &Value) -> Value {
    let now = crate::api::meta::now();
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    let stored: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == true)
        .map(|v| v["name"].clone())
        .collect();
    json!({
        "acceptedNames": crd["spec"]["names"],
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": stored,
    })
}

//! What the server serves: one [`ResourceType`] per group/resource, built-ins from k8s-openapi and custom resources
//! from their CustomResourceDefinitions.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::crd::columns::PrinterColumn;
use crate::crd::schema::StructuralSchema;

/// Storage identity of a resource: objects of all served versions of one group/resource share it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        Self {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

/// What deleting an owner does to its dependents when the request does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }
}

/// Converts a decoded JSON object into the stored form of a built-in type: decoding into the typed struct and
/// encoding it again drops unknown fields, as the apiserver's Go decoding does.
pub type Codec = fn(Value) -> Result<Value, serde_json::Error>;
/// JSON schema of a built-in type, for OpenAPI documents.
pub type SchemaFn = fn() -> Value;

/// How objects of a resource are checked and normalised on write.
#[derive(Clone)]
pub enum Origin {
    Builtin { codec: Codec, schema: SchemaFn },
    Custom { crd_name: String },
}

/// One served version of a resource.
#[derive(Clone)]
pub struct VersionInfo {
    pub name: String,
    pub storage: bool,
    pub status_subresource: bool,
    /// Structural schema (custom resources only).
    pub schema: Option<Arc<StructuralSchema>>,
    pub printer_columns: Vec<PrinterColumn>,
}

#[derive(Clone)]
pub struct ResourceType {
    pub group: String,
    pub versions: Vec<VersionInfo>,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    /// Subresources beyond `status` (e.g. `log`, `token`).
    pub extra_subresources: Vec<String>,
    /// Whether `metadata.generation` is maintained (spec-bearing kinds).
    pub has_generation: bool,
    pub default_propagation: Propagation,
    /// Field selector labels beyond `metadata.name`/`metadata.namespace`.
    pub field_labels: Vec<String>,
    pub origin: Origin,
}

impl ResourceType {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    pub fn version(&self, name: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|v| v.name == name)
    }

    pub fn preferred_version(&self) -> &VersionInfo {
        self.versions
            .iter()
            .find(|v| v.storage)
            .unwrap_or(&self.versions[0])
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn has_status(&self, version: &str) -> bool {
        self.version(version).is_some_and(|v| v.status_subresource)
    }

    pub fn is_custom(&self) -> bool {
        matches!(self.origin, Origin::Custom { .. })
    }

    pub fn has_subresource(&self, version: &str, name: &str) -> bool {
        (name == "status" && self.has_status(version))
            || self.extra_subresources.iter().any(|s| s == name)
    }
}

/// Every resource the server currently serves, keyed by group/resource.
#[derive(Clone, Default)]
pub struct Registry {
    types: BTreeMap<GroupResource, Arc<ResourceType>>,
}

impl Registry {
    pub fn with_builtins() -> Self {
        let mut registry = Self::default();
        for resource in crate::api::builtin::all() {
            registry.insert(resource);
        }
        registry
    }

    pub fn insert(&mut self, resource: ResourceType) {
        self.types
            .insert(resource.group_resource(), Arc::new(resource));
    }

    pub fn remove(&mut self, key: &GroupResource) {
        self.types.remove(key);
    }

    pub fn get(&self, key: &GroupResource) -> Option<Arc<ResourceType>> {
        self.types.get(key).cloned()
    }

    /// The resource served at `/<group>/<version>/<plural>`, if that version is served.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&GroupResource::new(group, plural))
            .filter(|r| r.version(version).is_some())
            .cloned()
    }

    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .values()
            .find(|r| r.group == group && r.kind == kind)
            .cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }

    /// Group → versions served in it (a version is listed if any resource of the group serves it), preferred first.
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for resource in self.types.values() {
            let versions = groups.entry(resource.group.clone()).or_default();
            let preferred = resource.preferred_version().name.clone();
            for version in &resource.versions {
                if !versions.contains(&version.name) {
                    if version.name == preferred {
                        versions.insert(0, version.name.clone());
                    } else {
                        versions.push(version.name.clone());
                    }
                }
            }
        }
        groups
    }
}

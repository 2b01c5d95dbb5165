//! The server's mutable state (objects + served resources) and the resolved scope of a request.

use std::sync::Arc;

use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::resources::{GroupResource, Registry, ResourceType};
use super::store::Store;

pub struct State {
    pub store: Store,
    pub registry: Registry,
}

impl State {
    pub fn new(history_limit: usize) -> Self {
        Self {
            store: Store::new(history_limit),
            registry: Registry::with_builtins(),
        }
    }
}

/// Which resource, version and namespace a request addresses.
#[derive(Clone)]
pub struct Scope {
    pub resource: Arc<ResourceType>,
    pub version: String,
    /// `None` for cluster-scoped resources and for all-namespace lists/watches.
    pub namespace: Option<String>,
}

impl Scope {
    /// Where this scope's objects are stored (both Events APIs share one resource).
    pub fn group_resource(&self) -> GroupResource {
        super::events::storage_of(&self.resource)
    }

    pub fn api_version(&self) -> String {
        self.resource.api_version(&self.version)
    }

    /// The object as this request's version presents it (kinds are version-independent here; no conversion).
    pub fn present(&self, object: &Value) -> Value {
        if super::events::is_view(&self.resource) {
            return super::events::to_view(object, &self.api_version());
        }
        let mut object = object.clone();
        if let Value::Object(map) = &mut object {
            map.insert("apiVersion".into(), Value::String(self.api_version()));
            map.insert("kind".into(), Value::String(self.resource.kind.clone()));
        }
        object
    }

    /// Namespace an object of this scope lives in ("" when cluster-scoped).
    pub fn object_namespace(&self) -> &str {
        if self.resource.namespaced {
            self.namespace.as_deref().unwrap_or_default()
        } else {
            ""
        }
    }

    pub fn get(&self, state: &State, name: &str) -> ApiResult<Arc<Value>> {
        state
            .store
            .get(&self.group_resource(), self.object_namespace(), name)
            .ok_or_else(|| ApiError::not_found(&self.resource.group, &self.resource.plural, name))
    }
}

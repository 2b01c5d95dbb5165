//! What writing a CustomResourceDefinition means beyond storing it: validation and starting to serve its resource.

use serde_json::Value;

use crate::api::error::{ApiError, ApiResult, Cause};
use crate::api::meta::name_of;
use crate::api::state::{Scope, State};
use crate::crd::definition;

pub(super) fn is_crd(scope: &Scope) -> bool {
    scope.resource.group == "apiextensions.k8s.io"
        && scope.resource.plural == "customresourcedefinitions"
}

/// Validates a CRD, starts (or updates) serving its resource and fills in its established status.
pub(super) fn register_crd(
    state: &mut State,
    crd: &mut Value,
    old: Option<&Value>,
    dry_run: bool,
) -> ApiResult<()> {
    let name = name_of(crd).to_string();
    let resource = definition::resource_type(crd).map_err(|causes| {
        ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &name,
            causes,
        )
    })?;
    if let Some(old) = old {
        let unchanged = |path: &[&str]| {
            let pick = |o: &Value| path.iter().fold(o.clone(), |v, k| v[*k].clone());
            pick(old) == pick(crd)
        };
        if !unchanged(&["spec", "group"]) || !unchanged(&["spec", "names", "plural"]) {
            return Err(ApiError::invalid(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                &name,
                vec![Cause::new(
                    "FieldValueInvalid",
                    "spec",
                    "spec: Invalid value: field is immutable",
                )],
            ));
        }
    }
    crd["status"] = definition::established_status(crd);
    if !dry_run {
        state.registry.insert(resource);
    }
    Ok(())
}

//! Controller ownership: which objects a controller created and therefore manages.

use kube::Resource;

/// True when `object` names `owner_uid` as its controlling owner (`controller: true`).
pub fn is_controlled_by(object: &impl Resource, owner_uid: &str) -> bool {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.controller == Some(true) && owner.uid == owner_uid)
}

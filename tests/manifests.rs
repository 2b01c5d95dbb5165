//! The install manifests under `deploy/`: every document loads strictly into its typed Kubernetes object, the
//! properties users rely on hold (single Recreate replica, restricted pod security, least-privilege RBAC without
//! secrets), kustomization.yaml lists exactly the manifests, and the real `kubectl kustomize` renders them.

mod support {
    pub mod install;
    pub mod json_diff;
    pub mod typed_manifest;
    pub mod yaml_documents;
}

mod manifest_checks {
    mod kustomize;
    mod rbac;
    mod strict_loading;
    mod workload;
}

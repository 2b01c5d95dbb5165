//! Label and annotation keys the real controllers put on the objects they create.

pub const JOB_NAME: &str = "job-name";
pub const BATCH_JOB_NAME: &str = "batch.kubernetes.io/job-name";
pub const CONTROLLER_UID: &str = "controller-uid";
pub const BATCH_CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";

pub const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";
pub const STATEFULSET_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX: &str = "apps.kubernetes.io/pod-index";

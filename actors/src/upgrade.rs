//! Upgrade as a child of the cluster supervisor. So far its pure decisions ([`plan`]): which version changes are
//! refused, which workloads the guard can drive, and which Pod the rollout replaces next. The actor that acts on
//! them under the `Upgrade` lock comes next.

pub mod plan;

//! The `openbao-operator` binary's edges: CLI, CRD generation, and (in later modules) the Kubernetes wiring and the
//! snapshot executor that runs inside Jobs.

pub mod cli;
pub mod crdgen;
pub mod executor;
pub mod jobs;
pub mod metrics;
pub mod openbao;
pub mod operator;
pub mod store;

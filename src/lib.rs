//! The `openbao-operator` binary's edges: CLI, CRD generation, and (in later modules) the Kubernetes wiring and the
//! snapshot executor that runs inside Jobs.

pub mod cli;

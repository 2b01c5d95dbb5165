//! The `openbao-operator` binary's edges: the CLI, CRD generation, the Kubernetes wiring of the actors
//! (`operator`), the Jobs it builds (`jobs`), metrics, and the snapshot executor that runs inside Jobs (`executor`,
//! with its OpenBao client and object store), and `plugin`, the `kubectl openbao` plugin.

pub mod cli;
pub mod crdgen;
pub mod executor;
pub mod executor_vars;
pub mod failure_reason;
pub mod jobs;
pub mod metrics;
pub mod openbao;
pub mod operator;
pub mod plugin;
pub mod store;

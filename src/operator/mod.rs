//! `openbao-operator run`: the operator process. Watches (kube-runtime reflectors) feed the actors'
//! `ClusterManager`; only the Lease holder runs actors; `/metrics`, `/healthz` and `/readyz` are served with axum.

pub mod effects;
pub mod health;
pub mod job_state;
pub mod leader;
mod logging;
pub mod manager_slot;
mod orphan_restores;
pub mod run;
pub mod settings;
pub mod status_patch;
pub mod time;
pub mod watchers;

pub use run::main;
pub use settings::RunArgs;

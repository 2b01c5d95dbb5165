//! `openbao-operator run`: the operator process. Watches (kube-runtime reflectors) feed the actors'
//! `ClusterManager`; only the Lease holder runs actors; `/metrics`, `/healthz` and `/readyz` are served with axum.

pub mod effects;
pub mod job_state;
pub mod status_patch;
pub mod time;

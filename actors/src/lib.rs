//! Actors and their pure decision logic: one supervisor per OpenBaoCluster owns the operation lock.
//!
//! `ClusterManager` → `ClusterSupervisor` (one per cluster) → `BackupActor`. The actors reach Kubernetes only
//! through the traits in [`effects`]; see `docs/architecture.md`.

pub mod backoff;
pub mod backup;
pub mod clock;
pub mod cluster_key;
pub mod effects;
pub mod holder;
pub mod lock;
pub mod manager;
pub mod metrics;
pub mod report;
pub mod supervisor;

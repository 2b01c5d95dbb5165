//! Actors and their pure decision logic: one supervisor per OpenBaoCluster owns the operation lock.
//!
//! `ClusterManager` → `ClusterSupervisor` (one per cluster) → one child per operation ([`child::ChildSpec`]):
//! `BackupActor` today. Children reach their supervisor only through a [`lock_client::LockClient`] and the world
//! only through the effects traits ([`effects`] and each child's own bundle); see `docs/architecture.md`.

pub mod backoff;
pub mod backup;
pub mod child;
pub mod clock;
pub mod cluster_key;
pub mod effects;
pub mod holder;
pub mod lock;
pub mod lock_client;
pub mod manager;
pub mod metrics;
pub mod restore;
pub mod supervisor;
pub mod upgrade;

//! Actors and their pure decision logic: one supervisor per OpenBaoCluster owns the operation lock.

pub mod lock;

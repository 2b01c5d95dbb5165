//! The operator's Prometheus metrics (prometheus-client; `/metrics` serves OpenMetrics to scrapers that ask for
//! it and the classic text format otherwise, see [`text_format`]).
//!
//! - `openbao_backup_*`: derived from each cluster's `status.backup` ([`backup`]);
//! - `openbao_operation_lock_*`: lock holder per operation, grants and denials ([`lock`]);
//! - `openbao_restore_*`: restore requests by outcome, duration, a restore in progress ([`restore`]);
//! - `openbao_actor_*`: per-cluster actor messages, mailbox depth, handler time and restarts ([`actors`]).
//!
//! Every per-cluster series is labelled `namespace` and `cluster` and removed when the cluster is deleted.
//! Counter names carry no `_total`: the encoder appends it.

pub mod actors;
pub mod backup;
pub mod labels;
pub mod lock;
pub mod restore;
pub mod text_format;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::metrics::{ActorKind, ActorMetrics};
use openbao_crds::conditions::{ClusterConditionType, ConditionStatus};
use openbao_crds::{BackupStatus, OpenBaoCluster};
use prometheus_client::registry::Registry;

use actors::PrometheusActorMetrics;
use backup::BackupMetrics;
use lock::LockMetrics;
use restore::PrometheusRestoreMetrics;

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub struct OperatorMetrics {
    registry: Registry,
    pub backup: BackupMetrics,
    pub lock: LockMetrics,
    pub restore: PrometheusRestoreMetrics,
    pub actors: PrometheusActorMetrics,
    /// The last `status.backup` seen per cluster, to count transitions once.
    last_backup_status: Mutex<HashMap<ClusterKey, BackupStatus>>,
}

impl Default for OperatorMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl OperatorMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let backup = BackupMetrics::register(&mut registry);
        let lock = LockMetrics::register(&mut registry);
        let restore = PrometheusRestoreMetrics::register(&mut registry);
        let actors = PrometheusActorMetrics::register(&mut registry);
        Self {
            registry,
            backup,
            lock,
            restore,
            actors,
            last_backup_status: Mutex::new(HashMap::new()),
        }
    }

    /// The OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// A cluster as the watch delivered it: updates backup and lock series from its status.
    pub fn observe_cluster(&self, cluster: &OpenBaoCluster) {
        let Some(key) = ClusterKey::of(cluster) else {
            return;
        };
        let status = cluster.status.as_ref();
        self.lock.observe(
            &key,
            status.and_then(|status| status.operation_lock.as_ref()),
        );
        let backing_up = status.is_some_and(|status| {
            status.conditions.iter().any(|condition| {
                condition.type_ == ClusterConditionType::BackingUp.as_str()
                    && condition.status == ConditionStatus::True.as_str()
            })
        });
        let current = status
            .and_then(|status| status.backup.clone())
            .unwrap_or_default();
        let mut last = self
            .last_backup_status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.backup
            .observe(&key, last.get(&key), &current, backing_up);
        last.insert(key, current);
    }

    /// Drops every series of a deleted cluster.
    pub fn forget_cluster(&self, key: &ClusterKey) {
        self.backup.remove(key);
        self.lock.remove(key);
        self.restore.remove(key);
        self.actors.remove(key);
        self.last_backup_status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

impl ActorMetrics for OperatorMetrics {
    fn message_handled(&self, cluster: &ClusterKey, actor: ActorKind, handler_time: Duration) {
        self.actors.message_handled(cluster, actor, handler_time);
    }

    fn mailbox_depth(&self, cluster: &ClusterKey, actor: ActorKind, depth: u64) {
        self.actors.mailbox_depth(cluster, actor, depth);
    }

    fn actor_restarted(&self, cluster: &ClusterKey, actor: ActorKind) {
        self.actors.actor_restarted(cluster, actor);
    }

    fn remove_cluster(&self, cluster: &ClusterKey) {
        self.forget_cluster(cluster);
    }
}

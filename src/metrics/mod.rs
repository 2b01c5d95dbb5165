//! The operator's Prometheus metrics (prometheus-client; `/metrics` serves OpenMetrics to scrapers that ask for
//! it and the classic text format otherwise, see [`text_format`]).
//!
//! - `openbao_backup_*`: derived from each cluster's `status.backup` ([`backup`]), and
//!   `openbao_cluster_created_timestamp_seconds` of clusters with `spec.backup`;
//! - `openbao_operation_lock_*`: lock holder per operation, grants and denials ([`lock`]);
//! - `openbao_restore_*`: restore requests by outcome, duration, a restore in progress ([`restore`]);
//! - `openbao_upgrade_*`: upgrades by outcome, one in progress, the last one's phase ([`upgrade`]);
//! - `openbao_actor_*`: per-cluster actor messages, mailbox depth, handler time and restarts ([`actors`]);
//! - `openbao_operator_leader` and `process_*`: exported by every replica ([`process`]).
//!
//! Every per-cluster series is labelled `namespace` and `cluster` and removed when the cluster is deleted. Only the
//! Lease holder exports per-cluster series: a follower's `/metrics` holds `openbao_operator_leader 0` and the
//! process series, so `sum()` over replicas never counts a cluster twice. State gauges are set from status on
//! every observation (a restarted or newly elected leader exports the truth at once); counters count what this
//! replica handled while it led.
//! Counter names carry no `_total`: the encoder appends it.

pub mod actors;
pub mod backup;
pub mod labels;
pub mod lock;
pub mod process;
pub mod restore;
pub mod text_format;
pub mod upgrade;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;

use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::metrics::{ActorKind, ActorMetrics, MailboxGauge};
use openbao_crds::conditions::{ClusterConditionType, ConditionStatus};
use openbao_crds::validation::validate_cluster_spec;
use openbao_crds::{BackupStatus, OpenBaoCluster, Operation};
use prometheus_client::registry::Registry;

use actors::PrometheusActorMetrics;
use backup::BackupMetrics;
use lock::LockMetrics;
use process::ProcessMetrics;
use restore::PrometheusRestoreMetrics;
use upgrade::PrometheusUpgradeMetrics;

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub struct OperatorMetrics {
    /// Per-cluster series: exported only while this replica leads.
    registry: Registry,
    /// `openbao_operator_leader` and `process_*`: exported always.
    process_registry: Registry,
    pub process: ProcessMetrics,
    leading: AtomicBool,
    pub backup: BackupMetrics,
    pub lock: LockMetrics,
    pub restore: PrometheusRestoreMetrics,
    pub upgrade: PrometheusUpgradeMetrics,
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
        let upgrade = PrometheusUpgradeMetrics::register(&mut registry);
        let actors = PrometheusActorMetrics::register(&mut registry);
        let mut process_registry = Registry::default();
        let process = ProcessMetrics::register(&mut process_registry);
        Self {
            registry,
            process_registry,
            process,
            leading: AtomicBool::new(false),
            backup,
            lock,
            restore,
            upgrade,
            actors,
            last_backup_status: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this replica holds the Lease: decides what `/metrics` exports and whether events are counted.
    pub fn set_leader(&self, leading: bool) {
        self.leading.store(leading, Ordering::Release);
        self.process.set_leader(leading);
    }

    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// The OpenMetrics text: process series always, per-cluster series only while leading.
    pub fn encode(&self) -> String {
        self.encode_as(self.is_leader())
    }

    /// The OpenMetrics text as a leader (`true`) or a follower would export it.
    pub fn encode_as(&self, leading: bool) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        self.process.refresh();
        let now = Utc::now();
        self.backup.refresh(now);
        self.lock.refresh(now);
        self.actors.refresh();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut text, &self.process_registry);
        if leading {
            let _ = encode_registry(&mut text, &self.registry);
        }
        let _ = encode_eof(&mut text);
        text
    }

    /// A cluster as the watch delivered it: updates backup and lock series from its status (and its spec and
    /// creation time).
    pub fn observe_cluster(&self, cluster: &OpenBaoCluster) {
        let Some(key) = ClusterKey::of(cluster) else {
            return;
        };
        self.upgrade.observe(&key, cluster);
        let status = cluster.status.as_ref();
        let backup_config = validate_cluster_spec(&cluster.spec).ok().flatten();
        // Only backed-up clusters: the stand-in for a last success that never was.
        self.backup.set_cluster_created(
            &key,
            cluster
                .spec
                .backup
                .as_ref()
                .and(cluster.metadata.creation_timestamp.as_ref())
                .map(|created| created.0.as_millisecond() as f64 / 1000.0),
        );
        self.backup.set_schedule_interval(
            &key,
            backup_config
                .as_ref()
                .and_then(|config| schedule_interval_seconds(&config.schedule)),
        );
        self.lock.set_timeout(
            &key,
            Operation::Backup,
            backup_config
                .as_ref()
                .map(|config| config.timeout.num_seconds()),
        );
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
            .observe(&key, last.get(&key), &current, backing_up, self.is_leader());
        last.insert(key, current);
    }

    /// Drops every series of a deleted cluster.
    pub fn forget_cluster(&self, key: &ClusterKey) {
        self.backup.remove(key);
        self.lock.remove(key);
        self.restore.remove(key);
        self.upgrade.remove(key);
        self.actors.remove(key);
        self.last_backup_status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

/// The longest gap between the next fire times of a schedule (a weekday schedule's weekend counts): what
/// "no backup within two intervals" alerts compare against.
pub fn schedule_interval_seconds(schedule: &openbao_crds::schedule::BackupSchedule) -> Option<f64> {
    let fires = schedule.upcoming(Utc::now(), 12);
    fires
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).num_seconds() as f64)
        .reduce(f64::max)
}

impl ActorMetrics for OperatorMetrics {
    fn message_handled(&self, cluster: &ClusterKey, actor: ActorKind, handler_time: Duration) {
        self.actors.message_handled(cluster, actor, handler_time);
    }

    fn mailbox_depth(&self, cluster: &ClusterKey, actor: ActorKind, depth: u64) {
        self.actors.mailbox_depth(cluster, actor, depth);
    }

    fn actor_started(&self, cluster: &ClusterKey, actor: ActorKind, mailbox: MailboxGauge) {
        self.actors.actor_started(cluster, actor, mailbox);
    }

    fn actor_stopped(&self, cluster: &ClusterKey, actor: ActorKind) {
        self.actors.actor_stopped(cluster, actor);
    }

    fn actor_restarted(&self, cluster: &ClusterKey, actor: ActorKind) {
        self.actors.actor_restarted(cluster, actor);
    }

    fn remove_cluster(&self, cluster: &ClusterKey) {
        self.forget_cluster(cluster);
    }
}

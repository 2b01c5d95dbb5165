//! `openbao_operation_lock_*`: which operation holds each cluster (from `status.operationLock`), and the grants
//! and denials this replica decided. Grants are counted where the lock is persisted: a write whose epoch is above
//! the last one the lock store read or wrote for the cluster is a grant; the same epoch again is a renewal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};

use openbao_actors::cluster_key::ClusterKey;
use openbao_crds::{Operation, OperationLock};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::labels::{ClusterLabels, OPERATIONS, OperationLabels};

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct LockMetrics {
    held: Family<OperationLabels, Gauge>,
    held_seconds: Family<OperationLabels, FloatGauge>,
    timeout_seconds: Family<OperationLabels, Gauge>,
    epoch: Family<ClusterLabels, Gauge>,
    grants: Family<OperationLabels, Counter>,
    denials: Family<ClusterLabels, Counter>,
    /// Highest epoch read or written per cluster: the baseline that tells a grant from a renewal.
    known_epochs: Mutex<HashMap<ClusterKey, i64>>,
    /// Holding operation and `acquiredAt` per cluster, from status: `held_seconds` is computed at scrape time.
    holders: Mutex<HashMap<ClusterKey, (Operation, DateTime<Utc>)>>,
}

impl LockMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            held: Family::default(),
            held_seconds: Family::default(),
            timeout_seconds: Family::default(),
            epoch: Family::default(),
            grants: Family::default(),
            denials: Family::default(),
            known_epochs: Mutex::new(HashMap::new()),
            holders: Mutex::new(HashMap::new()),
        };
        registry.register(
            "openbao_operation_lock_held",
            "1 for the operation holding the cluster's operation lock, 0 for the others",
            metrics.held.clone(),
        );
        registry.register(
            "openbao_operation_lock_held_seconds",
            "How long the current holder has held the cluster's operation lock (since status.operationLock.acquiredAt)",
            metrics.held_seconds.clone(),
        );
        registry.register(
            "openbao_operation_timeout_seconds",
            "Deadline of one run of the operation from the cluster's spec (Backup: spec.backup.timeoutSeconds)",
            metrics.timeout_seconds.clone(),
        );
        registry.register(
            "openbao_operation_lock_epoch",
            "Fencing epoch of the newest operation lock grant",
            metrics.epoch.clone(),
        );
        registry.register(
            "openbao_operation_lock_grants",
            "Operation lock grants persisted by this operator replica",
            metrics.grants.clone(),
        );
        registry.register(
            "openbao_operation_lock_denials",
            "Backups that found the operation lock held by another operation",
            metrics.denials.clone(),
        );
        metrics
    }

    fn epochs(&self) -> std::sync::MutexGuard<'_, HashMap<ClusterKey, i64>> {
        self.known_epochs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn holders(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ClusterKey, (Operation, DateTime<Utc>)>> {
        self.holders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The operation's deadline from the spec; `None` removes the series.
    pub fn set_timeout(&self, key: &ClusterKey, operation: Operation, seconds: Option<i64>) {
        let labels = OperationLabels::new(key, operation);
        match seconds {
            Some(seconds) => {
                self.timeout_seconds.get_or_create(&labels).set(seconds);
            }
            None => {
                self.timeout_seconds.remove(&labels);
            }
        }
    }

    /// Sets `openbao_operation_lock_held_seconds` for every held lock as of `now`; called before each exposition.
    pub fn refresh(&self, now: DateTime<Utc>) {
        for (key, (operation, acquired_at)) in self.holders().iter() {
            let held = ((now - *acquired_at).num_milliseconds() as f64 / 1000.0).max(0.0);
            self.held_seconds
                .get_or_create(&OperationLabels::new(key, *operation))
                .set(held);
        }
    }

    /// `status.operationLock` as the watch or a read delivered it.
    pub fn observe(&self, key: &ClusterKey, lock: Option<&OperationLock>) {
        // Held while stale series are removed, so a concurrent refresh cannot bring one back.
        let mut holders = self.holders();
        match lock {
            Some(lock) => {
                holders.insert(key.clone(), (lock.operation, lock.acquired_at));
            }
            None => {
                holders.remove(key);
            }
        }
        for operation in OPERATIONS {
            if lock.is_none_or(|lock| lock.operation != operation) {
                self.held_seconds
                    .remove(&OperationLabels::new(key, operation));
            }
        }
        drop(holders);
        for operation in OPERATIONS {
            let held = lock.is_some_and(|lock| lock.operation == operation);
            self.held
                .get_or_create(&OperationLabels::new(key, operation))
                .set(i64::from(held));
        }
        if let Some(lock) = lock {
            self.epoch
                .get_or_create(&ClusterLabels::from(key))
                .set(lock.epoch);
        }
    }

    /// The lock store read the lock: its epoch is the baseline that tells this replica's next write a grant from a
    /// renewal. Watch events must not move the baseline: one can arrive before the write's own response and would
    /// make a grant look like a renewal.
    pub fn read_by_store(&self, key: &ClusterKey, lock: Option<&OperationLock>, last_epoch: u64) {
        let epoch = lock
            .map_or(0, |lock| lock.epoch)
            .max(i64::try_from(last_epoch).unwrap_or(i64::MAX));
        let mut epochs = self.epochs();
        let known = epochs.entry(key.clone()).or_insert(epoch);
        *known = (*known).max(epoch);
        drop(epochs);
        self.observe(key, lock);
    }

    /// A successful lock write by this replica.
    pub fn persisted(&self, key: &ClusterKey, lock: Option<&OperationLock>) {
        if let Some(lock) = lock {
            let is_grant = {
                let mut epochs = self.epochs();
                let known = epochs.entry(key.clone()).or_insert(0);
                let is_grant = lock.epoch > *known;
                *known = (*known).max(lock.epoch);
                is_grant
            };
            if is_grant {
                self.grants
                    .get_or_create(&OperationLabels::new(key, lock.operation))
                    .inc();
            }
        }
        self.observe(key, lock);
    }

    pub fn denied(&self, key: &ClusterKey) {
        self.denials.get_or_create(&ClusterLabels::from(key)).inc();
    }

    pub fn grants(&self, key: &ClusterKey, operation: Operation) -> u64 {
        self.grants
            .get(&OperationLabels::new(key, operation))
            .map_or(0, |counter| counter.get())
    }

    pub fn remove(&self, key: &ClusterKey) {
        for operation in OPERATIONS {
            let labels = OperationLabels::new(key, operation);
            self.held.remove(&labels);
            self.held_seconds.remove(&labels);
            self.timeout_seconds.remove(&labels);
            self.grants.remove(&labels);
        }
        let labels = ClusterLabels::from(key);
        self.epoch.remove(&labels);
        self.denials.remove(&labels);
        self.epochs().remove(key);
        self.holders().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn lock(operation: Operation, epoch: i64) -> OperationLock {
        OperationLock {
            operation,
            holder: "backup/j".into(),
            message: None,
            acquired_at: Utc::now(),
            renewed_at: None,
            epoch,
        }
    }

    #[test]
    fn grants_count_new_epochs_only() {
        let metrics = LockMetrics::register(&mut Registry::default());
        let key = ClusterKey::new("ns", "c");
        // Adopted at start: epoch 4 exists already, not a grant of this replica.
        metrics.read_by_store(&key, Some(&lock(Operation::Backup, 4)), 4);
        metrics.persisted(&key, Some(&lock(Operation::Backup, 4)));
        assert_eq!(metrics.grants(&key, Operation::Backup), 0, "a renewal");
        // A watch event showing the next grant before the write's own response does not hide that grant.
        metrics.observe(&key, Some(&lock(Operation::Upgrade, 5)));
        metrics.persisted(&key, Some(&lock(Operation::Upgrade, 5)));
        assert_eq!(metrics.grants(&key, Operation::Upgrade), 1);
        metrics.persisted(&key, None);
        metrics.persisted(&key, Some(&lock(Operation::Restore, 6)));
        assert_eq!(metrics.grants(&key, Operation::Restore), 1);
        metrics.persisted(&key, Some(&lock(Operation::Restore, 6)));
        assert_eq!(metrics.grants(&key, Operation::Restore), 1);
    }

    #[test]
    fn held_seconds_follow_the_holder_and_disappear_on_release() {
        let metrics = LockMetrics::register(&mut Registry::default());
        let key = ClusterKey::new("ns", "c");
        let held = lock(Operation::Restore, 2);
        metrics.observe(&key, Some(&held));
        metrics.refresh(held.acquired_at + chrono::Duration::seconds(90));
        let seconds = |operation| {
            metrics
                .held_seconds
                .get(&OperationLabels::new(&key, operation))
                .map(|gauge| gauge.get())
        };
        assert_eq!(seconds(Operation::Restore), Some(90.0));
        assert_eq!(seconds(Operation::Backup), None);
        metrics.observe(&key, None);
        metrics.refresh(held.acquired_at + chrono::Duration::seconds(120));
        assert_eq!(seconds(Operation::Restore), None, "released: no series");
    }
}

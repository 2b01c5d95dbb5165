//! `openbao_backup_*`, derived from `status.backup` as the watch delivers it. Counting from status, not from Jobs,
//! keeps the totals right after a Job's TTL deleted it and counts a backup once however often its Job is seen.
//! Also `openbao_cluster_created_timestamp_seconds` of a cluster with `spec.backup`: the backup age alert measures
//! from it while the cluster has no verified backup yet.

use chrono::{DateTime, Utc};
use openbao_actors::cluster_key::ClusterKey;
use openbao_crds::BackupStatus;
use openbao_crds::duration::HumanDuration;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use super::labels::ClusterLabels;

type FloatGauge = Gauge<f64, AtomicU64>;

/// What one status observation means for the counters: pure, so it is tested without a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackupTransitions {
    pub new_success: bool,
    pub new_failure: bool,
}

/// Compares two observations of `status.backup`. With no previous observation (operator start) nothing is new:
/// history from before this process is not re-counted.
pub fn transitions(previous: Option<&BackupStatus>, current: &BackupStatus) -> BackupTransitions {
    let Some(previous) = previous else {
        return BackupTransitions::default();
    };
    let new_success = current.last_backup_key.is_some()
        && (current.last_backup_key != previous.last_backup_key
            || current.last_success_time != previous.last_success_time);
    let failure_id = |status: &BackupStatus| {
        status
            .last_failure
            .as_ref()
            .map(|failure| (failure.time, failure.reason.clone()))
    };
    let new_failure = current.last_failure.is_some() && failure_id(current) != failure_id(previous);
    BackupTransitions {
        new_success,
        new_failure,
    }
}

fn timestamp(time: Option<DateTime<Utc>>) -> Option<f64> {
    time.map(|time| time.timestamp_millis() as f64 / 1000.0)
}

/// `42s`, `3m5s`: the format the backup actor writes to `lastBackupDuration`.
fn duration_seconds(text: Option<&str>) -> Option<f64> {
    text?
        .parse::<HumanDuration>()
        .ok()
        .map(|duration| duration.as_std().as_secs_f64())
}

/// The newest verified recovery point's time: the first of `recoveryPoints` (newest first), else the last success.
pub fn newest_recovery_point(status: &BackupStatus) -> Option<DateTime<Utc>> {
    status
        .recovery_points
        .first()
        .map(|point| point.time)
        .or(status.last_success_time)
}

pub struct BackupMetrics {
    last_success: Family<ClusterLabels, FloatGauge>,
    last_attempt: Family<ClusterLabels, FloatGauge>,
    next_scheduled: Family<ClusterLabels, FloatGauge>,
    duration: Family<ClusterLabels, FloatGauge>,
    size: Family<ClusterLabels, Gauge>,
    successes: Family<ClusterLabels, Counter>,
    failures: Family<ClusterLabels, Counter>,
    consecutive_failures: Family<ClusterLabels, Gauge>,
    in_progress: Family<ClusterLabels, Gauge>,
    recovery_points: Family<ClusterLabels, Gauge>,
    newest_age: Family<ClusterLabels, FloatGauge>,
    schedule_interval: Family<ClusterLabels, FloatGauge>,
    cluster_created: Family<ClusterLabels, FloatGauge>,
    /// Newest recovery point per cluster, from status: the age is computed at scrape time.
    newest: Mutex<HashMap<ClusterKey, DateTime<Utc>>>,
}

impl BackupMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            last_success: Family::default(),
            last_attempt: Family::default(),
            next_scheduled: Family::default(),
            duration: Family::default(),
            size: Family::default(),
            successes: Family::default(),
            failures: Family::default(),
            consecutive_failures: Family::default(),
            in_progress: Family::default(),
            recovery_points: Family::default(),
            newest_age: Family::default(),
            schedule_interval: Family::default(),
            cluster_created: Family::default(),
            newest: Mutex::new(HashMap::new()),
        };
        registry.register(
            "openbao_backup_last_success_timestamp_seconds",
            "Completion time of the newest verified backup (Unix seconds)",
            metrics.last_success.clone(),
        );
        registry.register(
            "openbao_backup_last_attempt_timestamp_seconds",
            "Creation time of the newest backup Job (Unix seconds)",
            metrics.last_attempt.clone(),
        );
        registry.register(
            "openbao_backup_next_scheduled_timestamp_seconds",
            "Next scheduled backup fire time, jitter included (Unix seconds)",
            metrics.next_scheduled.clone(),
        );
        registry.register(
            "openbao_backup_last_duration_seconds",
            "Wall time of the newest verified backup",
            metrics.duration.clone(),
        );
        registry.register(
            "openbao_backup_last_size_bytes",
            "Size of the newest verified backup",
            metrics.size.clone(),
        );
        registry.register(
            "openbao_backup_successes",
            "Verified backups this replica saw recorded in status while it led (resets on restart and leader change)",
            metrics.successes.clone(),
        );
        registry.register(
            "openbao_backup_failures",
            "Failed backups this replica saw recorded in status while it led (resets on restart and leader change)",
            metrics.failures.clone(),
        );
        registry.register(
            "openbao_backup_consecutive_failures",
            "Backups failed in a row since the last success",
            metrics.consecutive_failures.clone(),
        );
        registry.register(
            "openbao_backup_in_progress",
            "1 while a backup Job of the cluster runs",
            metrics.in_progress.clone(),
        );
        registry.register(
            "openbao_backup_recovery_points",
            "Verified recovery points listed in status.backup.recoveryPoints (the newest, at most 10)",
            metrics.recovery_points.clone(),
        );
        registry.register(
            "openbao_backup_newest_recovery_point_age_seconds",
            "Age of the newest verified recovery point at scrape time",
            metrics.newest_age.clone(),
        );
        registry.register(
            "openbao_backup_schedule_interval_seconds",
            "Longest gap between the schedule's next fire times (spec.backup.schedule)",
            metrics.schedule_interval.clone(),
        );
        registry.register(
            "openbao_cluster_created_timestamp_seconds",
            "Creation time of a cluster with spec.backup (metadata.creationTimestamp, Unix seconds)",
            metrics.cluster_created.clone(),
        );
        metrics
    }

    fn newest(&self) -> std::sync::MutexGuard<'_, HashMap<ClusterKey, DateTime<Utc>>> {
        self.newest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the recovery-point ages as of `now`; called before each exposition.
    pub fn refresh(&self, now: DateTime<Utc>) {
        for (key, newest) in self.newest().iter() {
            let age = ((now - *newest).num_milliseconds() as f64 / 1000.0).max(0.0);
            self.newest_age
                .get_or_create(&ClusterLabels::from(key))
                .set(age);
        }
    }

    /// The schedule's interval from the spec; `None` (no or an invalid schedule) removes the series.
    pub fn set_schedule_interval(&self, key: &ClusterKey, seconds: Option<f64>) {
        let labels = ClusterLabels::from(key);
        match seconds {
            Some(seconds) => {
                self.schedule_interval.get_or_create(&labels).set(seconds);
            }
            None => {
                self.schedule_interval.remove(&labels);
            }
        }
    }

    /// The cluster's creation time, for a cluster with `spec.backup`; `None` removes the series.
    pub fn set_cluster_created(&self, key: &ClusterKey, seconds: Option<f64>) {
        let labels = ClusterLabels::from(key);
        match seconds {
            Some(seconds) => {
                self.cluster_created.get_or_create(&labels).set(seconds);
            }
            None => {
                self.cluster_created.remove(&labels);
            }
        }
    }

    /// One observation of `status.backup`. State gauges always follow status (so a restarted or new leader shows
    /// the truth at once); counters move only when `count_events`, i.e. while this replica leads.
    pub fn observe(
        &self,
        key: &ClusterKey,
        previous: Option<&BackupStatus>,
        current: &BackupStatus,
        backing_up: bool,
        count_events: bool,
    ) {
        let labels = ClusterLabels::from(key);
        let changes = if count_events {
            transitions(previous, current)
        } else {
            BackupTransitions::default()
        };
        // Counters exist from the first observation, so `increase()` sees the first backup too.
        let successes = self.successes.get_or_create(&labels);
        if changes.new_success {
            successes.inc();
        }
        let failures = self.failures.get_or_create(&labels);
        if changes.new_failure {
            failures.inc();
        }
        let set_time = |family: &Family<ClusterLabels, FloatGauge>, time: Option<DateTime<Utc>>| {
            match timestamp(time) {
                Some(seconds) => {
                    family.get_or_create(&labels).set(seconds);
                }
                None => {
                    family.remove(&labels);
                }
            }
        };
        set_time(&self.last_success, current.last_success_time);
        set_time(&self.last_attempt, current.last_attempt_time);
        set_time(&self.next_scheduled, current.next_scheduled_backup);
        match duration_seconds(current.last_backup_duration.as_deref()) {
            Some(seconds) => {
                self.duration.get_or_create(&labels).set(seconds);
            }
            None => {
                self.duration.remove(&labels);
            }
        }
        match current.last_backup_size {
            Some(size) => {
                self.size.get_or_create(&labels).set(size);
            }
            None => {
                self.size.remove(&labels);
            }
        }
        self.consecutive_failures
            .get_or_create(&labels)
            .set(i64::from(current.consecutive_failures));
        self.in_progress
            .get_or_create(&labels)
            .set(i64::from(backing_up));
        self.recovery_points
            .get_or_create(&labels)
            .set(i64::try_from(current.recovery_points.len()).unwrap_or(i64::MAX));
        let mut newest = self.newest();
        match newest_recovery_point(current) {
            Some(time) => {
                newest.insert(key.clone(), time);
            }
            None => {
                newest.remove(key);
                self.newest_age.remove(&labels);
            }
        }
    }

    pub fn remove(&self, key: &ClusterKey) {
        let labels = ClusterLabels::from(key);
        for family in [
            &self.last_success,
            &self.last_attempt,
            &self.next_scheduled,
            &self.duration,
            &self.newest_age,
            &self.schedule_interval,
            &self.cluster_created,
        ] {
            family.remove(&labels);
        }
        self.newest().remove(key);
        for family in [
            &self.size,
            &self.consecutive_failures,
            &self.in_progress,
            &self.recovery_points,
        ] {
            family.remove(&labels);
        }
        self.successes.remove(&labels);
        self.failures.remove(&labels);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use openbao_crds::BackupFailure;

    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, second).unwrap()
    }

    fn failed(second: u32, count: i32) -> BackupStatus {
        BackupStatus {
            consecutive_failures: count,
            last_failure: Some(BackupFailure {
                time: at(second),
                reason: "StorageError".into(),
                message: "denied".into(),
            }),
            ..BackupStatus::default()
        }
    }

    #[test]
    fn history_before_the_first_observation_is_not_counted() {
        assert_eq!(
            transitions(None, &failed(1, 3)),
            BackupTransitions::default()
        );
    }

    #[test]
    fn each_new_failure_and_success_counts_once() {
        let first = failed(1, 1);
        let second = failed(2, 2);
        assert!(transitions(Some(&BackupStatus::default()), &first).new_failure);
        assert!(transitions(Some(&first), &second).new_failure);
        assert_eq!(
            transitions(Some(&second), &second),
            BackupTransitions::default(),
            "the same status seen again (re-list, unrelated patch) counts nothing"
        );
        let mut succeeded = second.clone();
        succeeded.consecutive_failures = 0;
        succeeded.last_backup_key = Some("p/ns/c/20260301T020003Z-scheduled-0a1b2c3d.snap".into());
        succeeded.last_success_time = Some(at(3));
        let changes = transitions(Some(&second), &succeeded);
        assert!(changes.new_success && !changes.new_failure);
    }

    #[test]
    fn durations_in_the_status_format_parse() {
        assert_eq!(duration_seconds(Some("42s")), Some(42.0));
        assert_eq!(duration_seconds(Some("3m5s")), Some(185.0));
        assert_eq!(duration_seconds(Some("1h0m7s")), Some(3607.0));
        assert_eq!(duration_seconds(Some("soon")), None);
    }
}

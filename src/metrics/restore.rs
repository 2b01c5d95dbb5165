//! `openbao_restore_*`: restore requests by outcome, their duration, and whether a destructive restore runs.

use std::time::Duration;

use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::restore::effects::{RestoreMetricOutcome, RestoreMetrics};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::labels::ClusterLabels;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub namespace: String,
    pub cluster: String,
    pub outcome: String,
}

/// Restores take seconds (a small dry run) to an hour (a large snapshot).
const DURATION_BUCKETS: [f64; 10] = [
    5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

#[derive(Clone)]
pub struct PrometheusRestoreMetrics {
    total: Family<OutcomeLabels, Counter>,
    duration: Family<ClusterLabels, Histogram, fn() -> Histogram>,
    in_progress: Family<ClusterLabels, Gauge>,
}

impl PrometheusRestoreMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            total: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            in_progress: Family::default(),
        };
        registry.register(
            "openbao_restore",
            "Restore requests that ended, by outcome (succeeded, succeeded_sealed, dry_run, failed)",
            metrics.total.clone(),
        );
        registry.register(
            "openbao_restore_duration_seconds",
            "Time from a restore request's start to its end",
            metrics.duration.clone(),
        );
        registry.register(
            "openbao_restore_in_progress",
            "1 while a destructive restore Job of the cluster runs",
            metrics.in_progress.clone(),
        );
        metrics
    }

    pub fn remove(&self, key: &ClusterKey) {
        let labels = ClusterLabels::from(key);
        self.duration.remove(&labels);
        self.in_progress.remove(&labels);
        for outcome in [
            RestoreMetricOutcome::Succeeded,
            RestoreMetricOutcome::SucceededSealed,
            RestoreMetricOutcome::DryRun,
            RestoreMetricOutcome::Failed,
        ] {
            self.total.remove(&OutcomeLabels {
                namespace: key.namespace.clone(),
                cluster: key.name.clone(),
                outcome: outcome.as_str().to_string(),
            });
        }
    }
}

impl RestoreMetrics for PrometheusRestoreMetrics {
    fn restore_running(&self, cluster: &ClusterKey, running: bool) {
        self.in_progress
            .get_or_create(&ClusterLabels::from(cluster))
            .set(i64::from(running));
    }

    fn restore_finished(
        &self,
        cluster: &ClusterKey,
        outcome: RestoreMetricOutcome,
        duration: Option<Duration>,
    ) {
        self.total
            .get_or_create(&OutcomeLabels {
                namespace: cluster.namespace.clone(),
                cluster: cluster.name.clone(),
                outcome: outcome.as_str().to_string(),
            })
            .inc();
        if let Some(duration) = duration {
            self.duration
                .get_or_create(&ClusterLabels::from(cluster))
                .observe(duration.as_secs_f64());
        }
    }
}

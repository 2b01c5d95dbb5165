//! `openbao_upgrade_*`: upgrades by outcome, whether one holds the lock, and the phase of the last one (from
//! `status.upgrade`, so it survives an operator restart and reads the same on a new leader).

use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::upgrade::effects::{UpgradeMetrics, UpgradeOutcome};
use openbao_crds::{OpenBaoCluster, UpgradePhase};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::labels::ClusterLabels;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub namespace: String,
    pub cluster: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub namespace: String,
    pub cluster: String,
    pub phase: String,
}

const OUTCOMES: [UpgradeOutcome; 4] = [
    UpgradeOutcome::Succeeded,
    UpgradeOutcome::Blocked,
    UpgradeOutcome::Failed,
    UpgradeOutcome::Refused,
];

const PHASES: [UpgradePhase; 6] = [
    UpgradePhase::Pending,
    UpgradePhase::PreUpgradeSnapshot,
    UpgradePhase::RollingOut,
    UpgradePhase::Completed,
    UpgradePhase::Blocked,
    UpgradePhase::Failed,
];

#[derive(Clone, Default)]
pub struct PrometheusUpgradeMetrics {
    total: Family<OutcomeLabels, Counter>,
    in_progress: Family<ClusterLabels, Gauge>,
    phase: Family<PhaseLabels, Gauge>,
}

impl PrometheusUpgradeMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "openbao_upgrade",
            "Upgrades this leader ended, by outcome (succeeded, blocked, failed, refused)",
            metrics.total.clone(),
        );
        registry.register(
            "openbao_upgrade_in_progress",
            "1 while an upgrade of the cluster holds the operation lock",
            metrics.in_progress.clone(),
        );
        registry.register(
            "openbao_upgrade_phase",
            "1 for the phase of the cluster's last upgrade (status.upgrade.phase), 0 for the others",
            metrics.phase.clone(),
        );
        metrics
    }

    fn phase_labels(key: &ClusterKey, phase: UpgradePhase) -> PhaseLabels {
        PhaseLabels {
            namespace: key.namespace.clone(),
            cluster: key.name.clone(),
            phase: phase.as_str().to_string(),
        }
    }

    /// Sets the phase gauges from `status.upgrade` (none while the cluster never upgraded).
    pub fn observe(&self, key: &ClusterKey, cluster: &OpenBaoCluster) {
        let current = cluster
            .status
            .as_ref()
            .and_then(|status| status.upgrade.as_ref())
            .map(|upgrade| upgrade.phase);
        let Some(current) = current else {
            for phase in PHASES {
                self.phase.remove(&Self::phase_labels(key, phase));
            }
            return;
        };
        for phase in PHASES {
            self.phase
                .get_or_create(&Self::phase_labels(key, phase))
                .set(i64::from(phase == current));
        }
    }

    pub fn remove(&self, key: &ClusterKey) {
        self.in_progress.remove(&ClusterLabels::from(key));
        for phase in PHASES {
            self.phase.remove(&Self::phase_labels(key, phase));
        }
        for outcome in OUTCOMES {
            self.total.remove(&OutcomeLabels {
                namespace: key.namespace.clone(),
                cluster: key.name.clone(),
                outcome: outcome.as_str().to_string(),
            });
        }
    }
}

impl UpgradeMetrics for PrometheusUpgradeMetrics {
    fn upgrade_running(&self, cluster: &ClusterKey, running: bool) {
        self.in_progress
            .get_or_create(&ClusterLabels::from(cluster))
            .set(i64::from(running));
    }

    fn upgrade_finished(&self, cluster: &ClusterKey, outcome: UpgradeOutcome) {
        self.total
            .get_or_create(&OutcomeLabels {
                namespace: cluster.namespace.clone(),
                cluster: cluster.name.clone(),
                outcome: outcome.as_str().to_string(),
            })
            .inc();
    }
}

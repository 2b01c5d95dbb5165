//! What `status` says about one cluster, computed from the cluster and its restores alone (no client, no clock):
//! the text views and `-o json|yaml` are two renderings of this value.

use chrono::{DateTime, Utc};
use kube::ResourceExt;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore, RestorePhase};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    pub namespace: String,
    pub name: String,
    /// `spec.version`, the version asked for.
    pub version: String,
    /// `status.currentVersion`, the version the cluster reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    pub backups_configured: bool,
    pub suspended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<LastBackup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_backup: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_triggers: Vec<String>,
    pub restores_in_flight: Vec<RestoreInFlight>,
    /// The running or last upgrade (`status.upgrade`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    pub from_version: String,
    pub to_version: String,
    pub phase: String,
    pub pods_updated: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_upgrade_snapshot_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Upgrade {
    /// `Completed` is history; anything else is news (running, waiting, or stopped and waiting for a retry).
    pub fn is_news(&self) -> bool {
        self.phase != "Completed"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastBackup {
    pub time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub time: DateTime<Utc>,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    pub operation: String,
    pub holder: String,
    pub since: DateTime<Utc>,
    pub epoch: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreInFlight {
    pub name: String,
    pub phase: String,
    pub dry_run: bool,
}

impl ClusterSummary {
    /// `restores` may hold other clusters' requests; only this cluster's unfinished ones are kept.
    pub fn of(cluster: &OpenBaoCluster, restores: &[OpenBaoRestore]) -> Self {
        let namespace = cluster.namespace().unwrap_or_default();
        let status = cluster.status.clone().unwrap_or_default();
        let backup = status.backup.unwrap_or_default();
        let spec_backup = cluster.spec.backup.as_ref();
        let mut in_flight: Vec<&OpenBaoRestore> = restores
            .iter()
            .filter(|r| r.spec.cluster == cluster.name_any())
            .filter(|r| r.namespace().unwrap_or_default() == namespace)
            .filter(|r| !phase_of(r).is_terminal())
            .collect();
        in_flight.sort_by_key(|r| {
            (
                r.metadata.creation_timestamp.clone().map(|t| t.0),
                r.name_any(),
            )
        });
        let upgrade = status.upgrade.as_ref().map(|upgrade| Upgrade {
            from_version: upgrade.from_version.clone(),
            to_version: upgrade.to_version.clone(),
            phase: upgrade.phase.to_string(),
            pods_updated: upgrade.pods_updated.len(),
            pre_upgrade_snapshot_key: upgrade.pre_upgrade_snapshot_key.clone(),
            message: upgrade.message.clone(),
        });
        Self {
            upgrade,
            name: cluster.name_any(),
            namespace,
            version: cluster.spec.version.clone(),
            current_version: status.current_version,
            backups_configured: spec_backup.is_some(),
            suspended: spec_backup.is_some_and(|b| b.suspend),
            last_backup: backup.last_success_time.map(|time| LastBackup {
                time,
                key: backup.last_backup_key.clone(),
                size: backup.last_backup_size,
                digest: backup.last_backup_digest.clone(),
                duration: backup.last_backup_duration.clone(),
            }),
            next_backup: backup.next_scheduled_backup,
            consecutive_failures: backup.consecutive_failures,
            last_failure: backup.last_failure.map(|f| Failure {
                time: f.time,
                reason: f.reason,
                message: f.message,
            }),
            lock: status.operation_lock.map(|lock| Lock {
                operation: lock.operation.to_string(),
                holder: lock.holder,
                since: lock.acquired_at,
                epoch: lock.epoch,
                message: lock.message,
            }),
            pending_triggers: backup.pending_triggers,
            restores_in_flight: in_flight
                .into_iter()
                .map(|r| RestoreInFlight {
                    name: r.name_any(),
                    phase: phase_of(r).to_string(),
                    dry_run: r.spec.dry_run,
                })
                .collect(),
        }
    }
}

/// A request the operator has not looked at yet has no phase: it is `Pending`.
pub fn phase_of(request: &OpenBaoRestore) -> RestorePhase {
    request
        .status
        .as_ref()
        .and_then(|status| status.phase)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster(status: serde_json::Value) -> OpenBaoCluster {
        serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
            "metadata": {"name": "prod", "namespace": "security"},
            "spec": {"version": "2.7.2", "backup": {
                "schedule": "@daily", "suspend": true,
                "target": {"provider": "s3", "bucket": "b"},
                "auth": {"jwt": {"role": "backup"}}}},
            "status": status,
        }))
        .expect("a cluster")
    }

    fn restore(name: &str, cluster: &str, phase: Option<&str>) -> OpenBaoRestore {
        let mut value = json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoRestore",
            "metadata": {"name": name, "namespace": "security"},
            "spec": {"cluster": cluster, "source": {"latest": true}, "auth": {"jwt": {"role": "restore"}}},
        });
        if let Some(phase) = phase {
            value["status"] = json!({"phase": phase});
        }
        serde_json::from_value(value).expect("a restore")
    }

    #[test]
    fn a_busy_cluster_shows_its_lock_failures_and_unfinished_restores_only() {
        let summary = ClusterSummary::of(
            &cluster(json!({
                "currentVersion": "2.7.2",
                "backup": {
                    "lastSuccessTime": "2026-12-01T02:00:00Z", "lastBackupKey": "k.snap",
                    "lastBackupSize": 10, "consecutiveFailures": 2,
                    "lastFailure": {"time": "2026-12-02T02:00:00Z", "reason": "StorageError", "message": "m"},
                    "pendingTriggers": ["t1"],
                },
                "operationLock": {"operation": "Backup", "holder": "prod-backup-1",
                    "acquiredAt": "2026-12-02T03:00:00Z", "epoch": 7},
            })),
            &[
                restore("waiting", "prod", Some("Validating")),
                restore("new", "prod", None),
                restore("done", "prod", Some("Completed")),
                restore("other", "staging", Some("Running")),
            ],
        );
        assert_eq!(summary.consecutive_failures, 2);
        assert_eq!(
            summary.last_failure.as_ref().map(|f| f.reason.as_str()),
            Some("StorageError")
        );
        assert_eq!(
            summary.lock.as_ref().map(|l| (l.holder.as_str(), l.epoch)),
            Some(("prod-backup-1", 7))
        );
        let names: Vec<_> = summary
            .restores_in_flight
            .iter()
            .map(|r| (r.name.as_str(), r.phase.as_str()))
            .collect();
        assert_eq!(names, [("new", "Pending"), ("waiting", "Validating")]);
        assert!(summary.suspended);
        assert_eq!(summary.pending_triggers, ["t1"]);
    }

    #[test]
    fn a_new_cluster_has_no_backup_and_no_lock() {
        let summary = ClusterSummary::of(&cluster(json!({})), &[]);
        assert_eq!(summary.last_backup, None);
        assert_eq!(summary.lock, None);
        assert!(summary.restores_in_flight.is_empty());
    }
}

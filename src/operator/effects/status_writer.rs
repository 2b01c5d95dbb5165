//! `status.backup` (written whole) and conditions (merged by type). The write is computed as a diff against the
//! object as last seen, so repeating it patches nothing, and it is conditioned on that object's resourceVersion
//! so a concurrent condition write by another actor is never lost (409 → read and diff again).
//!
//! The first attempt diffs against the watch cache's copy, so the usual write is one PATCH and no GET. A cache
//! that lags only costs a 409 and a GET; a diff that comes out empty is confirmed with a GET, because a lagging
//! cache could otherwise hide a change the API server does not show yet.

use std::sync::Arc;

use futures::future::BoxFuture;
use kube::Api;
use kube::api::Patch;
use kube::runtime::reflector::{ObjectRef, Store};
use openbao_actors::backup::effects::BackupStatusWriter;
use openbao_actors::clock::Clock;
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::effects::{ConditionUpdate, EffectError};
use openbao_actors::restore::effects::ClusterConditionWriter;
use openbao_actors::upgrade::effects::UpgradeStatusWriter;
use openbao_crds::{BackupStatus, OpenBaoCluster, UpgradeStatus};
use serde_json::{Value, json};

use super::api_error::ApiFailure;
use super::patch_params;
use crate::operator::status_patch::{merge_conditions, merge_diff};

const MAX_ATTEMPTS: usize = 5;

pub struct KubeStatusWriter {
    client: kube::Client,
    clock: Arc<dyn Clock>,
    clusters: Store<OpenBaoCluster>,
}

impl KubeStatusWriter {
    pub fn new(
        client: kube::Client,
        clock: Arc<dyn Clock>,
        clusters: Store<OpenBaoCluster>,
    ) -> Self {
        Self {
            client,
            clock,
            clusters,
        }
    }

    fn cached(&self, cluster: &ClusterKey) -> Option<OpenBaoCluster> {
        let reference = ObjectRef::new(&cluster.name).within(&cluster.namespace);
        self.clusters
            .get(&reference)
            .map(|cached| (*cached).clone())
    }
}

/// Whether `ours` is older than what `current` shows: a later attempt, success or failure was recorded by
/// someone else. The backup actor is the only writer of `status.backup`, so only a deposed leader's actor (frozen,
/// then woken before it noticed) holds such a copy; writing it would take status backwards.
pub fn is_stale(ours: &BackupStatus, current: Option<&BackupStatus>) -> bool {
    let Some(current) = current else {
        return false;
    };
    let failure_time = |status: &BackupStatus| status.last_failure.as_ref().map(|f| f.time);
    current.last_attempt_time > ours.last_attempt_time
        || current.last_success_time > ours.last_success_time
        || failure_time(current) > failure_time(ours)
}

/// The status patch for `current`, or `None` when it already shows `backup` and `conditions`.
pub fn backup_status_patch(
    current: &OpenBaoCluster,
    backup: &BackupStatus,
    conditions: &[ConditionUpdate],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Value> {
    let status = current.status.clone().unwrap_or_default();
    if is_stale(backup, status.backup.as_ref()) {
        tracing::warn!(
            cluster = current.metadata.name.as_deref().unwrap_or_default(),
            "not writing an older status.backup over a newer one (this replica is no longer the leader)"
        );
        return None;
    }
    let merged = merge_conditions(
        &status.conditions,
        conditions,
        now,
        current.metadata.generation,
    );
    let old = json!({
        "backup": status.backup,
        "conditions": status.conditions,
    });
    let new = json!({
        "backup": backup,
        "conditions": merged,
    });
    let diff = merge_diff(&old, &new)?;
    Some(json!({
        "metadata": {"resourceVersion": current.metadata.resource_version},
        "status": diff,
    }))
}

/// The status patch that merges `conditions` only, or `None` when `current` shows them already.
pub fn cluster_conditions_patch(
    current: &OpenBaoCluster,
    conditions: &[ConditionUpdate],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Value> {
    let status = current.status.clone().unwrap_or_default();
    let merged = merge_conditions(
        &status.conditions,
        conditions,
        now,
        current.metadata.generation,
    );
    let diff = merge_diff(
        &json!({"conditions": status.conditions}),
        &json!({"conditions": merged}),
    )?;
    Some(json!({
        "metadata": {"resourceVersion": current.metadata.resource_version},
        "status": diff,
    }))
}

/// The status patch that sets `currentVersion`, `upgrade` and merges `conditions`, or `None` when `current` shows
/// them already. A `current_version` of `None` leaves the recorded one.
pub fn upgrade_status_patch(
    current: &OpenBaoCluster,
    current_version: Option<&str>,
    upgrade: Option<&UpgradeStatus>,
    conditions: &[ConditionUpdate],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Value> {
    let status = current.status.clone().unwrap_or_default();
    let merged = merge_conditions(
        &status.conditions,
        conditions,
        now,
        current.metadata.generation,
    );
    let version = current_version
        .map(str::to_string)
        .or(status.current_version.clone());
    let diff = merge_diff(
        &json!({
            "currentVersion": status.current_version,
            "upgrade": status.upgrade,
            "conditions": status.conditions,
        }),
        &json!({
            "currentVersion": version,
            "upgrade": upgrade.or(status.upgrade.as_ref()),
            "conditions": merged,
        }),
    )?;
    Some(json!({
        "metadata": {"resourceVersion": current.metadata.resource_version},
        "status": diff,
    }))
}

impl KubeStatusWriter {
    /// Patches the status with what `patch_for` makes of the object, conditioned on its resourceVersion: from the
    /// cache first, from a GET after a conflict or an empty diff.
    async fn patch_status_with(
        &self,
        cluster: &ClusterKey,
        patch_for: impl Fn(&OpenBaoCluster, chrono::DateTime<chrono::Utc>) -> Option<Value>,
    ) -> Result<(), EffectError> {
        let api: Api<OpenBaoCluster> = Api::namespaced(self.client.clone(), &cluster.namespace);
        let failed = |failure: ApiFailure| {
            failure.into_effect_error(format!("status of OpenBaoCluster {cluster}"))
        };
        let mut current = self.cached(cluster);
        for _ in 0..MAX_ATTEMPTS {
            let from_cache = current.is_some();
            let object = match current.take() {
                Some(cached) => cached,
                None => api
                    .get(&cluster.name)
                    .await
                    .map_err(|error| failed(error.into()))?,
            };
            let Some(patch) = patch_for(&object, self.clock.now()) else {
                if from_cache {
                    continue;
                }
                return Ok(());
            };
            match api
                .patch_status(&cluster.name, &patch_params(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) => match ApiFailure::from(error) {
                    ApiFailure::Conflict => continue,
                    other => return Err(failed(other)),
                },
            }
        }
        Err(EffectError::Api {
            context: format!("status of OpenBaoCluster {cluster}"),
            source: openbao_actors::effects::source_from(format!(
                "it kept changing; gave up after {MAX_ATTEMPTS} conflicts"
            )),
        })
    }
}

impl BackupStatusWriter for KubeStatusWriter {
    fn write_backup_status<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        status: &'a BackupStatus,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(self.patch_status_with(cluster, move |object, now| {
            backup_status_patch(object, status, conditions, now)
        }))
    }
}

impl ClusterConditionWriter for KubeStatusWriter {
    fn write_cluster_conditions<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(self.patch_status_with(cluster, move |object, now| {
            cluster_conditions_patch(object, conditions, now)
        }))
    }
}

impl UpgradeStatusWriter for KubeStatusWriter {
    fn write_upgrade_status<'a>(
        &'a self,
        cluster: &'a ClusterKey,
        current_version: Option<&'a str>,
        upgrade: Option<&'a UpgradeStatus>,
        conditions: &'a [ConditionUpdate],
    ) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(self.patch_status_with(cluster, move |object, now| {
            upgrade_status_patch(object, current_version, upgrade, conditions, now)
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};

    use super::*;

    #[test]
    fn writing_the_same_status_twice_patches_nothing() {
        let mut cluster: OpenBaoCluster = serde_norway::from_str(
            "apiVersion: openbao.org/v1alpha1\nkind: OpenBaoCluster\nmetadata: {name: c, namespace: ns, resourceVersion: '7', generation: 2}\nspec: {version: 2.4.1}\n",
        )
        .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap();
        let backup = BackupStatus {
            consecutive_failures: 1,
            next_scheduled_backup: Some(now),
            ..BackupStatus::default()
        };
        let running = [ConditionUpdate {
            type_: ClusterConditionType::BackingUp,
            status: ConditionStatus::True,
            reason: ClusterConditionReason::BackupRunning.into(),
            message: "job j".into(),
        }];
        let patch = backup_status_patch(&cluster, &backup, &running, now).expect("a first write");
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        assert_eq!(patch["status"]["backup"]["consecutiveFailures"], 1);
        assert_eq!(patch["status"]["conditions"][0]["observedGeneration"], 2);

        // Apply it the way the API server would, then write the same again: nothing to do.
        let mut status = cluster.status.clone().unwrap_or_default();
        status.backup = Some(backup.clone());
        status.conditions = merge_conditions(&[], &running, now, Some(2));
        cluster.status = Some(status);
        let later = now + chrono::Duration::minutes(1);
        assert_eq!(
            backup_status_patch(&cluster, &backup, &running, later),
            None
        );

        // A cleared field is removed with null, not left behind.
        let cleared = BackupStatus {
            next_scheduled_backup: None,
            ..backup
        };
        let patch = backup_status_patch(&cluster, &cleared, &[], later).unwrap();
        assert_eq!(
            patch["status"],
            json!({"backup": {"nextScheduledBackup": null}})
        );
    }

    const CLUSTER_PATH: &str = "/apis/openbao.org/v1alpha1/namespaces/ns/openbaoclusters/c";
    const STATUS_PATH: &str = "/apis/openbao.org/v1alpha1/namespaces/ns/openbaoclusters/c/status";

    fn cluster_at(resource_version: &str) -> Value {
        json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": {"name": "c", "namespace": "ns", "resourceVersion": resource_version, "generation": 1},
            "spec": {"version": "2.7.2"},
        })
    }

    #[test]
    fn an_older_copy_of_status_backup_is_never_written_over_a_newer_one() {
        let at = |minute| Some(Utc.with_ymd_and_hms(2026, 3, 1, 12, minute, 0).unwrap());
        let newer = BackupStatus {
            last_attempt_time: at(5),
            last_success_time: at(5),
            ..BackupStatus::default()
        };
        let older = BackupStatus {
            last_attempt_time: at(1),
            last_success_time: at(1),
            ..BackupStatus::default()
        };
        assert!(is_stale(&older, Some(&newer)));
        assert!(!is_stale(&newer, Some(&older)));
        assert!(
            !is_stale(&newer, Some(&newer)),
            "the same copy is not stale"
        );
        assert!(!is_stale(&older, None));
        let mut current: OpenBaoCluster = serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
            "metadata": {"name": "c", "namespace": "ns", "resourceVersion": "3"},
            "spec": {"version": "2.7.2"},
        }))
        .unwrap();
        current.status = Some(openbao_crds::OpenBaoClusterStatus {
            backup: Some(newer.clone()),
            ..Default::default()
        });
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 6, 0).unwrap();
        assert_eq!(backup_status_patch(&current, &older, &[], now), None);
    }

    fn failures(count: i32) -> BackupStatus {
        BackupStatus {
            consecutive_failures: count,
            ..BackupStatus::default()
        }
    }

    fn writer(client: kube::Client, cached: Option<Value>) -> KubeStatusWriter {
        let mut cache = kube::runtime::reflector::store::Writer::<OpenBaoCluster>::default();
        if let Some(cached) = cached {
            let object: OpenBaoCluster = serde_json::from_value(cached).unwrap();
            cache.apply_watcher_event(&kube::runtime::watcher::Event::Apply(object));
        }
        let clock = Arc::new(openbao_actors::clock::SystemClock);
        KubeStatusWriter::new(client, clock, cache.as_reader())
    }

    #[tokio::test]
    async fn a_conflict_rereads_and_patches_against_the_new_version() {
        use super::super::mock_api::{exchange, scripted_client, status_body};
        let (client, server) = scripted_client(vec![
            exchange("GET", CLUSTER_PATH, 200, cluster_at("7")),
            exchange("PATCH", STATUS_PATH, 409, status_body(409, "Conflict")),
            exchange("GET", CLUSTER_PATH, 200, cluster_at("9")),
            exchange("PATCH", STATUS_PATH, 200, cluster_at("10")),
        ]);
        writer(client, None)
            .write_backup_status(&ClusterKey::new("ns", "c"), &failures(2), &[])
            .await
            .expect("written after one conflict");
        let seen = server.await.unwrap();
        let versions: Vec<_> = seen
            .iter()
            .filter(|request| request.method == "PATCH")
            .map(|request| request.body["metadata"]["resourceVersion"].clone())
            .collect();
        assert_eq!(
            versions,
            [json!("7"), json!("9")],
            "each PATCH is conditioned on the read before it"
        );
        assert_eq!(seen[3].body["status"]["backup"]["consecutiveFailures"], 2);
    }

    #[tokio::test]
    async fn the_watch_cache_saves_the_read_and_repeated_conflicts_give_up() {
        use super::super::mock_api::{exchange, scripted_client, status_body};
        // From the cache: one PATCH, no GET.
        let (client, server) =
            scripted_client(vec![exchange("PATCH", STATUS_PATH, 200, cluster_at("4"))]);
        writer(client, Some(cluster_at("3")))
            .write_backup_status(&ClusterKey::new("ns", "c"), &failures(1), &[])
            .await
            .expect("written from the cache");
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].body["metadata"]["resourceVersion"], "3");

        // Every write conflicts: the writer stops after its attempts with an error that names the cluster.
        let mut script = vec![exchange(
            "PATCH",
            STATUS_PATH,
            409,
            status_body(409, "Conflict"),
        )];
        for _ in 1..MAX_ATTEMPTS {
            script.push(exchange("GET", CLUSTER_PATH, 200, cluster_at("5")));
            script.push(exchange(
                "PATCH",
                STATUS_PATH,
                409,
                status_body(409, "Conflict"),
            ));
        }
        let (client, server) = scripted_client(script);
        let error = writer(client, Some(cluster_at("3")))
            .write_backup_status(&ClusterKey::new("ns", "c"), &failures(1), &[])
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("ns/c") && error.to_string().contains("conflicts"),
            "{error}"
        );
        assert_eq!(server.await.unwrap().len(), 2 * MAX_ATTEMPTS - 1);
    }
}

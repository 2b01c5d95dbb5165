//! The upgrade under the lock: the pre-upgrade snapshot, then one Pod at a time, then the end (completed, blocked,
//! failed or preempted), each recorded in `status.upgrade` before the next move.

use std::collections::BTreeSet;
use std::time::Instant;

use openbao_crds::conditions::{ClusterConditionReason, ConditionStatus};
use openbao_crds::{Operation, ReplacedPod, UpgradePhase};
use ractor::ActorRef;

use super::{UpgradeState, condition};
use crate::child::PreUpgradeResult;
use crate::effects::EventReason;
use crate::holder::HolderId;
use crate::lock_client::LockCallError;
use crate::upgrade::effects::{Observation, UpgradeOutcome};
use crate::upgrade::messages::UpgradeMsg;
use crate::upgrade::plan::{RolloutStep, Version, attempt_id, next_step};

/// How long to wait before asking a restarting backup child again.
const SNAPSHOT_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

fn retry_hint(cluster: &str) -> String {
    format!(
        "then retry with: kubectl annotate openbaocluster {cluster} openbao.org/retry-upgrade=\"$(date +%s)\" \
         --overwrite"
    )
}

impl UpgradeState {
    pub(super) async fn drive(&mut self, myself: &ActorRef<UpgradeMsg>, observation: &Observation) {
        let Some(status) = self.status.clone() else {
            return self.release();
        };
        match status.phase {
            UpgradePhase::Pending => {
                self.begin();
                self.flush().await;
            }
            UpgradePhase::PreUpgradeSnapshot => {
                self.condition = Some(condition(
                    ConditionStatus::True,
                    ClusterConditionReason::PreUpgradeSnapshot,
                    format!(
                        "taking the pre-upgrade snapshot before {} → {}",
                        status.from_version, status.to_version
                    ),
                ));
                self.ask_snapshot(myself, &status.to_version, status.retry_token.as_deref());
            }
            UpgradePhase::RollingOut => self.roll(observation).await,
            UpgradePhase::Completed | UpgradePhase::Blocked | UpgradePhase::Failed => {
                self.release();
            }
        }
    }

    fn ask_snapshot(
        &mut self,
        myself: &ActorRef<UpgradeMsg>,
        to_version: &str,
        retry_token: Option<&str>,
    ) {
        let Some(epoch) = self.epoch else { return };
        if self.snapshot_asked.is_some()
            || self.snapshot_retry_at.is_some_and(|at| Instant::now() < at)
        {
            return;
        }
        let attempt = attempt_id(to_version, retry_token);
        self.snapshot_asked = Some(attempt.clone());
        let (lock, actor, mailbox) = (self.lock.clone(), myself.clone(), self.mailbox.clone());
        ractor::concurrency::spawn(async move {
            let result = lock.pre_upgrade_snapshot(attempt.clone(), epoch).await;
            mailbox.sent();
            if actor
                .cast(UpgradeMsg::SnapshotFinished { attempt, result })
                .is_err()
            {
                mailbox.handled();
            }
        });
    }

    pub(super) async fn snapshot_finished(
        &mut self,
        attempt: &str,
        result: Result<PreUpgradeResult, LockCallError>,
    ) {
        if self.snapshot_asked.as_deref() != Some(attempt) {
            return;
        }
        self.snapshot_asked = None;
        if self.epoch.is_none() {
            return;
        }
        let failure = match result {
            Ok(PreUpgradeResult::Succeeded { job_name, key }) => {
                if let Some(status) = self.status.as_mut() {
                    status.pre_upgrade_snapshot_key = Some(key.clone());
                    status.phase = UpgradePhase::RollingOut;
                }
                self.waiting_since = Instant::now();
                self.flush().await;
                self.emit(
                    EventReason::PreUpgradeSnapshotTaken,
                    format!("pre-upgrade snapshot {key} (Job {job_name}); rolling out"),
                )
                .await;
                return;
            }
            Ok(PreUpgradeResult::Failed { reason, message }) => format!("{reason}: {message}"),
            Ok(PreUpgradeResult::Refused { reason }) => reason,
            Ok(PreUpgradeResult::Unavailable { reason }) => {
                tracing::info!(cluster = %self.key, %reason, "pre-upgrade snapshot not taken yet; asking again");
                self.snapshot_retry_at = Some(Instant::now() + SNAPSHOT_RETRY);
                return;
            }
            Err(error) => {
                tracing::info!(cluster = %self.key, %error, "pre-upgrade snapshot unanswered; asking again");
                self.snapshot_retry_at = Some(Instant::now() + SNAPSHOT_RETRY);
                return;
            }
        };
        let message = format!(
            "the pre-upgrade snapshot failed ({failure}); nothing was replaced and the StatefulSet is unchanged. \
             Fix the cause (kubectl describe openbaocluster {0}, the backup Job's log), {1}",
            self.name(),
            retry_hint(self.name())
        );
        self.end(
            UpgradePhase::Blocked,
            ClusterConditionReason::PreUpgradeSnapshotFailed,
            message,
        )
        .await;
    }

    async fn roll(&mut self, observation: &Observation) {
        let Some(status) = self.status.clone() else {
            return;
        };
        let Some(target) = Version::parse(&status.to_version) else {
            let message = format!(
                "status.upgrade.toVersion {:?} is not x.y.z",
                status.to_version
            );
            return self
                .end(
                    UpgradePhase::Failed,
                    ClusterConditionReason::InvalidVersion,
                    message,
                )
                .await;
        };
        let Some(workload) = &observation.workload else {
            let message = format!(
                "StatefulSet {} disappeared during the rollout; nothing further is replaced",
                self.cluster.stateful_set_name().unwrap_or_default()
            );
            return self
                .end(
                    UpgradePhase::Failed,
                    ClusterConditionReason::WorkloadNotFound,
                    message,
                )
                .await;
        };
        let image = format!("{}:{}", self.cluster.spec.image, status.to_version);
        if workload.image.as_deref() != Some(image.as_str()) {
            if let Err(error) = self.upgrade.workload.set_image(&self.cluster, &image).await {
                tracing::warn!(cluster = %self.key, %error, "could not set the StatefulSet's image; retrying");
                return;
            }
            tracing::info!(cluster = %self.key, %image, "StatefulSet image set");
        }
        // A replacement recorded before a restart whose old instance still exists: delete it (again).
        if let Some(replacing) = &status.replacing
            && observation
                .pod(&replacing.name)
                .is_some_and(|pod| pod.uid == replacing.uid)
        {
            if let Err(error) = self
                .upgrade
                .workload
                .delete_pod(&self.cluster, replacing)
                .await
            {
                tracing::warn!(cluster = %self.key, pod = %replacing.name, %error, "could not delete the Pod; retrying");
            }
            return;
        }
        let replaced: BTreeSet<String> = status.pods_updated.iter().cloned().collect();
        let replicas = usize::try_from(workload.facts.replicas).unwrap_or(0);
        self.condition = Some(condition(
            ConditionStatus::True,
            ClusterConditionReason::RollingOut,
            format!(
                "rolling out {}: {} of {replicas} Pods replaced",
                status.to_version,
                replaced.len()
            ),
        ));
        match next_step(
            &observation.pod_facts(),
            replicas,
            observation.raft,
            target,
            &replaced,
        ) {
            RolloutStep::Replace(pod) => {
                self.pod_back().await;
                self.replace(observation, pod).await;
            }
            RolloutStep::Wait { pod, why } => {
                if let Some(status) = self.status.as_mut() {
                    status.message = Some(why.clone());
                }
                if self.waiting_since.elapsed() > self.pod_timeout {
                    let message = format!(
                        "{why} after {}s; nothing further is replaced. Look at {} (kubectl describe pod, its log), \
                         make it healthy, {}",
                        self.pod_timeout.as_secs(),
                        pod.as_deref().unwrap_or("the OpenBao Pods"),
                        retry_hint(self.name())
                    );
                    self.end(
                        UpgradePhase::Failed,
                        ClusterConditionReason::PodNotHealthy,
                        message,
                    )
                    .await;
                }
            }
            RolloutStep::Stop {
                pod,
                reason,
                message,
            } => {
                tracing::warn!(cluster = %self.key, %pod, "rollout stopped");
                self.end(UpgradePhase::Failed, reason, message).await;
            }
            RolloutStep::Done => {
                self.pod_back().await;
                self.complete().await;
            }
        }
    }

    /// Records the next Pod as replaced, durably, then deletes it: a restart after the record re-deletes only
    /// the same instance (its uid), and never picks the Pod again.
    async fn replace(&mut self, observation: &Observation, pod: String) {
        let Some(uid) = observation.pod(&pod).map(|observed| observed.uid.clone()) else {
            return;
        };
        let replacing = ReplacedPod {
            name: pod.clone(),
            uid,
        };
        if let Some(status) = self.status.as_mut() {
            status.replacing = Some(replacing.clone());
            status.pods_updated.push(pod.clone());
            status.message = Some(format!("replacing {pod}"));
        }
        if !self.flush().await {
            // Not recorded: undo, so the next look decides again from what is persisted.
            if let Some(status) = self.status.as_mut() {
                status.replacing = None;
                status.pods_updated.retain(|name| name != &pod);
            }
            return;
        }
        tracing::info!(cluster = %self.key, %pod, "replacing Pod");
        self.waiting_since = Instant::now();
        if let Err(error) = self
            .upgrade
            .workload
            .delete_pod(&self.cluster, &replacing)
            .await
        {
            tracing::warn!(cluster = %self.key, %pod, %error, "could not delete the Pod; retrying");
        }
    }

    /// The Pod replaced last is back, healthy, on the new version (the plan only moves on when it is).
    async fn pod_back(&mut self) {
        let Some(status) = self.status.as_mut() else {
            return;
        };
        let Some(replacing) = status.replacing.take() else {
            return;
        };
        let (done, to) = (status.pods_updated.len(), status.to_version.clone());
        status.message = None;
        let message = format!(
            "{} runs {to} and is healthy ({done} replaced)",
            replacing.name
        );
        self.effects
            .emit_about_pod(
                &self.key,
                EventReason::PodUpgraded,
                &replacing.name,
                message,
            )
            .await;
    }

    async fn complete(&mut self) {
        let Some(status) = self.status.as_mut() else {
            return;
        };
        status.phase = UpgradePhase::Completed;
        status.completed_at = Some(self.effects.clock.now());
        status.message = None;
        let to = status.to_version.clone();
        let snapshot = status
            .pre_upgrade_snapshot_key
            .as_deref()
            .map(|key| format!("; pre-upgrade snapshot {key}"))
            .unwrap_or_default();
        let message = format!(
            "{} → {to}: every Pod runs {to}{snapshot}",
            status.from_version
        );
        self.current_version = Some(to.clone());
        self.condition = Some(condition(
            ConditionStatus::False,
            ClusterConditionReason::UpgradeComplete,
            message.clone(),
        ));
        self.flush().await;
        self.emit(EventReason::UpgradeCompleted, message).await;
        self.upgrade
            .metrics
            .upgrade_finished(&self.key, UpgradeOutcome::Succeeded);
        self.release();
    }

    /// Ends the attempt without completing it: recorded, announced, the lock released.
    async fn end(&mut self, phase: UpgradePhase, reason: ClusterConditionReason, message: String) {
        let now = self.effects.clock.now();
        if let Some(status) = self.status.as_mut() {
            status.phase = phase;
            status.completed_at = Some(now);
            status.message = Some(message.clone());
        }
        self.condition = Some(condition(ConditionStatus::False, reason, message.clone()));
        self.flush().await;
        let (event, outcome) = if phase == UpgradePhase::Blocked {
            (EventReason::UpgradeBlocked, UpgradeOutcome::Blocked)
        } else {
            (EventReason::UpgradeFailed, UpgradeOutcome::Failed)
        };
        self.emit(event, format!("{}: {message}", reason.as_str()))
            .await;
        self.upgrade.metrics.upgrade_finished(&self.key, outcome);
        self.release();
    }

    /// A restore took the lock with `overrideOperationLock`: the upgrade stops where it is.
    pub(super) async fn preempted(&mut self, by: &str) {
        if self.epoch.take().is_none() {
            return;
        }
        self.snapshot_asked = None;
        let message = format!(
            "{by} took the operation lock with overrideOperationLock; the rollout stopped where it was. After the \
             restore, {}",
            retry_hint(self.name())
        );
        let now = self.effects.clock.now();
        if let Some(status) = self.status.as_mut() {
            status.phase = UpgradePhase::Failed;
            status.completed_at = Some(now);
            status.message = Some(message.clone());
        }
        self.condition = Some(condition(
            ConditionStatus::False,
            ClusterConditionReason::UpgradePreempted,
            message.clone(),
        ));
        self.flush().await;
        self.emit(EventReason::UpgradeFailed, message).await;
        self.upgrade
            .metrics
            .upgrade_finished(&self.key, UpgradeOutcome::Failed);
        self.upgrade.metrics.upgrade_running(&self.key, false);
    }

    pub(super) fn release(&mut self) {
        let Some(epoch) = self.epoch.take() else {
            return;
        };
        self.snapshot_asked = None;
        self.upgrade.metrics.upgrade_running(&self.key, false);
        let version = self
            .status
            .as_ref()
            .map(|status| status.to_version.clone())
            .unwrap_or_default();
        let holder = HolderId::new(Operation::Upgrade, version);
        if let Err(error) = self.lock.release(&holder, epoch) {
            tracing::warn!(cluster = %self.key, %error, "could not release the upgrade lock");
        }
    }
}

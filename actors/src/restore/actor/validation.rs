//! Validating a request: what needs no Job is refused at once; a dry-run Job pins the snapshot.

use openbao_crds::OpenBaoRestore;
use openbao_crds::RestorePhase;
use openbao_crds::conditions::RestoreConditionType;

use super::{RestoreState, Step, name_of, uid_of};
use crate::backup::effects::JobCreation;
use crate::effects::EffectError;
use crate::restore::effects::{
    RestoreEventReason, RestoreJobKind, RestoreJobRequest, RestoreMetricOutcome,
};
use crate::restore::plan::{self, PreflightVerdict};
use crate::restore::status::{condition_reason, set_condition};

impl RestoreState {
    pub(super) async fn begin_validation(&mut self, request: &OpenBaoRestore) -> Step {
        let now = self.now();
        let first_seen = self.known_mut(request).status.phase.is_none();
        if first_seen {
            self.event(
                request,
                RestoreEventReason::RestoreQueued,
                format!("restore into OpenBaoCluster {} accepted", self.key.name),
            )
            .await;
        }
        if let Err(refusal) = plan::admit(&self.cluster, request) {
            return self
                .fail_validation(request, refusal.reason, &refusal.message)
                .await;
        }
        let known = self.known_mut(request);
        known.status.phase = Some(RestorePhase::Validating);
        known.status.start_time.get_or_insert(now);
        known.status.message =
            Some("validating: resolving, downloading and verifying the snapshot (no lock, nothing changed)".into());
        set_condition(
            &mut known.status,
            RestoreConditionType::Validated,
            false,
            "Validating",
            "a dry-run Job resolves and verifies the snapshot",
            now,
        );
        if !self.write(request).await {
            return Step::RetryLater;
        }
        Step::Again
    }

    /// Creates the preflight Job (again after a restart: the same name, so never a second one) and reads its state
    /// once, in case it ended while nobody watched.
    pub(super) async fn check_preflight(&mut self, request: &OpenBaoRestore) -> Step {
        if self.known_mut(request).preflight_checked {
            return Step::Wait;
        }
        let uid = uid_of(request).unwrap_or_default();
        let job_name = plan::preflight_job_name(&self.key.name, uid);
        let job = RestoreJobRequest {
            job_name: job_name.clone(),
            kind: RestoreJobKind::Preflight,
        };
        match self
            .restore
            .jobs
            .create_restore_job(&self.cluster, request, &job)
            .await
        {
            Ok(JobCreation::Created) => {
                tracing::info!(cluster = %self.key, restore = name_of(request), job = %job_name, "validation Job created");
                self.known_mut(request).preflight_checked = true;
                return Step::Wait;
            }
            Ok(JobCreation::AlreadyExisted) => {}
            Err(error) => {
                tracing::warn!(cluster = %self.key, restore = name_of(request), %error, "could not create the validation Job");
                if matches!(error, EffectError::Build { .. } | EffectError::NotOwned(_)) {
                    return self
                        .fail_validation(request, error.reason(), &error.to_string())
                        .await;
                }
                return Step::RetryLater;
            }
        }
        match self
            .restore
            .job_reader
            .job_state(&self.key.namespace, &job_name)
            .await
        {
            Ok(state) => {
                self.known_mut(request).preflight_checked = true;
                match plan::preflight_verdict(&state) {
                    Some(verdict) => self.preflight_ended(request, verdict).await,
                    None => Step::Wait,
                }
            }
            Err(error) => {
                tracing::warn!(cluster = %self.key, job = %job_name, %error, "could not read the validation Job");
                Step::RetryLater
            }
        }
    }

    pub(super) async fn preflight_ended(
        &mut self,
        request: &OpenBaoRestore,
        verdict: PreflightVerdict,
    ) -> Step {
        let now = self.now();
        match verdict {
            PreflightVerdict::Refused { reason, message } => {
                let reason = condition_reason(&reason, "ValidationFailed");
                self.fail_validation(request, &reason, &message).await
            }
            PreflightVerdict::Pinned(snapshot) => {
                let pinned = format!(
                    "pinned {} ({}, {} bytes, from cluster {})",
                    snapshot.key,
                    snapshot.digest.as_deref().unwrap_or("no digest"),
                    snapshot.size.unwrap_or_default(),
                    snapshot.source_cluster_id.as_deref().unwrap_or("unknown"),
                );
                let dry_run = request.spec.dry_run;
                let known = self.known_mut(request);
                known.status.snapshot = Some(snapshot);
                set_condition(
                    &mut known.status,
                    RestoreConditionType::Validated,
                    true,
                    "ValidationSucceeded",
                    &pinned,
                    now,
                );
                self.event(
                    request,
                    RestoreEventReason::RestoreValidated,
                    pinned.clone(),
                )
                .await;
                if dry_run {
                    let known = self.known_mut(request);
                    set_condition(
                        &mut known.status,
                        RestoreConditionType::LockAcquired,
                        false,
                        "DryRun",
                        "a dry run never takes the operation lock",
                        now,
                    );
                    let message = format!(
                        "dry run: {pinned}; the snapshot verified and the cluster accepted the login; nothing was changed"
                    );
                    return self
                        .end(
                            request,
                            RestorePhase::Completed,
                            "DryRun",
                            &message,
                            RestoreMetricOutcome::DryRun,
                        )
                        .await;
                }
                self.known_mut(request).status.message = Some(format!(
                    "validated: {pinned}; waiting for the operation lock"
                ));
                self.write(request).await;
                Step::Again
            }
        }
    }

    pub(super) async fn fail_validation(
        &mut self,
        request: &OpenBaoRestore,
        reason: &str,
        message: &str,
    ) -> Step {
        let now = self.now();
        let known = self.known_mut(request);
        set_condition(
            &mut known.status,
            RestoreConditionType::Validated,
            false,
            reason,
            message,
            now,
        );
        self.end(
            request,
            RestorePhase::Failed,
            reason,
            message,
            RestoreMetricOutcome::Failed,
        )
        .await
    }
}

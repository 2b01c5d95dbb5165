//! Restore actor flows: the real manager, supervisor and restore actor against in-memory fakes of the restore
//! effects (`support/restore.rs`), which record every call so the tests count side effects and check their order.

mod support;

use openbao_actors::backup::naming::trigger_job_name;
use openbao_actors::effects::{EffectError, EventReason, JobObservation, JobState};
use openbao_actors::restore::effects::{RestoreEventReason, RestoreJobKind, RestoreMetricOutcome};
use openbao_actors::restore::plan::{preflight_job_name, restore_job_name};
use openbao_crds::conditions::{ConditionStatus, RestoreConditionType};
use openbao_crds::{Operation, RestorePhase};
use support::restore::*;
use support::*;

use RestoreConditionType::{LockAcquired, RestoreComplete, Validated};
use RestoreEventReason::{RestoreFailed, RestoreQueued, RestoreStarted, RestoreWaitingForLock};

const UID1: &str = "0b5e7c1a-0000-4000-8000-000000000001";
const UID2: &str = "0b5e7c1a-0000-4000-8000-000000000002";
const CREATED: &str = "2026-03-02T03:59:00Z";

/// `(status, reason)` of a condition, for one-line comparisons.
fn state_of(
    condition: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
) -> (String, String) {
    let condition = condition.expect("the condition is set");
    (condition.status, condition.reason)
}

fn pair(status: &str, reason: &str) -> (String, String) {
    (status.to_string(), reason.to_string())
}

#[tokio::test]
async fn requests_run_one_at_a_time_oldest_first() {
    let fake = FakeCluster::new(at(4, 0));
    let flow = RestoreFlow::start(&fake, None).await;
    fake.add_restore(restore_request("r1", UID1, CREATED, false));
    flow.create("r2", UID2, "2026-03-02T03:59:30Z", false);

    fake.wait_until("r1's preflight Job and r2 queued", |w| {
        w.restore.creations().len() == 1
            && w.restore
                .condition("r2", Validated)
                .is_some_and(|c| c.reason == "Queued")
    })
    .await;
    {
        let r = &fake.world().restore;
        let first = (preflight_job_name(NAME, UID1), RestoreJobKind::Preflight);
        assert_eq!(r.creations(), [first]);
        assert_eq!(r.phase("r1"), Some(RestorePhase::Validating));
        assert_eq!(r.phase("r2"), Some(RestorePhase::Pending));
        let queued = r.condition("r2", Validated).unwrap();
        assert_eq!(queued.status, "False");
        assert!(
            queued.message.contains("OpenBaoRestore r1"),
            "{}",
            queued.message
        );
        assert_eq!(r.count_events("r2", RestoreQueued), 1);
    }

    // r1 runs to its end; r2 stays queued, without a Job, the whole time.
    flow.observe(preflight_succeeded(UID1, at(4, 1)));
    fake.wait_until("r1's restore Job", |w| w.restore.restore_creations() >= 1)
        .await;
    assert_eq!(
        fake.world().restore.phase("r2"),
        Some(RestorePhase::Pending)
    );
    flow.observe(restore_succeeded(UID1, "succeeded", at(4, 5)));

    let r2_preflight = preflight_job_name(NAME, UID2);
    fake.wait_until("r2's preflight Job", |w| {
        w.restore
            .creations()
            .iter()
            .any(|(name, _)| *name == r2_preflight)
    })
    .await;
    let r = &fake.world().restore;
    assert_eq!(r.phase("r1"), Some(RestorePhase::Completed));
    assert_eq!(r.phase("r2"), Some(RestorePhase::Validating));
    let r1_ended = r.position("r1 Completed", |c| {
        is_status(c, "r1", |s| s.phase == Some(RestorePhase::Completed))
    });
    let r2_started = r.position(
        "r2's preflight",
        |c| matches!(c, RestoreCall::CreateJob { job_name, .. } if *job_name == r2_preflight),
    );
    assert!(r1_ended < r2_started, "r2's Job only after r1 ended");
    assert_eq!(
        r.creations().len(),
        3,
        "r1: preflight + restore; r2: preflight"
    );
    assert_eq!(r.count_events("r2", RestoreQueued), 1);
}

#[tokio::test]
async fn a_running_request_keeps_its_place_when_one_created_in_the_same_second_sorts_before_it() {
    let fake = FakeCluster::new(at(4, 0));
    let flow = RestoreFlow::start(&fake, None).await;
    flow.create("zeta", UID1, CREATED, false);
    fake.wait_until("zeta's preflight Job", |w| w.restore.creations().len() == 1)
        .await;
    flow.observe(preflight_succeeded(UID1, at(4, 1)));
    fake.wait_until("zeta's restore Job", |w| w.restore.restore_creations() >= 1)
        .await;

    // Creation times have a resolution of one second: "alpha" sorts first by name, but zeta is restoring.
    flow.create("alpha", UID2, CREATED, false);
    let queued = fake
        .wait_for("alpha queued", |w| {
            w.restore
                .condition("alpha", Validated)
                .filter(|c| c.reason == "Queued")
        })
        .await;
    assert!(
        queued.message.contains("OpenBaoRestore zeta"),
        "{}",
        queued.message
    );
    flow.observe(restore_succeeded(UID1, "succeeded", at(4, 5)));
    fake.wait_until(
        "zeta Completed, the lock released, alpha's preflight Job",
        |w| {
            w.restore.phase("zeta") == Some(RestorePhase::Completed)
                && w.lock.is_none()
                && w.restore.creations().len() == 3
        },
    )
    .await;
    let r = &fake.world().restore;
    let went_back = r
        .calls
        .iter()
        .position(|c| is_status(c, "zeta", |s| s.phase == Some(RestorePhase::Pending)));
    assert_eq!(went_back, None, "zeta was never sent back to Pending");
    assert_eq!(r.creations()[2].0, preflight_job_name(NAME, UID2));
}

#[tokio::test]
async fn a_restore_pins_its_snapshot_takes_the_lock_and_writes_its_receipt_before_the_job() {
    let fake = FakeCluster::new(at(4, 0));
    let flow = RestoreFlow::start(&fake, None).await;
    flow.create("r1", UID1, CREATED, false);
    fake.wait_until("the preflight Job", |w| w.restore.creations().len() == 1)
        .await;
    assert_eq!(fake.world().lock, None, "validation takes no lock");

    flow.observe(preflight_succeeded(UID1, at(4, 1)));
    let job = restore_job_name(NAME, UID1);
    fake.wait_until("the restore Job", |w| w.restore.restore_creations() >= 1)
        .await;
    {
        let world = fake.world();
        let r = &world.restore;
        assert_eq!(world.holder(), Some(("restore/r1".into(), 1)));
        let pinned = r.position("status with the pinned snapshot", |c| {
            is_status(c, "r1", |s| s.snapshot.is_some())
        });
        let RestoreCall::Status {
            status,
            lock_holder,
            ..
        } = &r.calls[pinned]
        else {
            unreachable!()
        };
        let snapshot = status.snapshot.clone().unwrap();
        assert_eq!(
            (snapshot.key.as_str(), snapshot.digest.as_deref()),
            (SNAPSHOT_KEY, Some(DIGEST))
        );
        assert_eq!(lock_holder, &None, "pinned before the lock is taken");

        let finalizer = r.position("finalizer added", |c| {
            matches!(c, RestoreCall::Finalizer { present: true, .. })
        });
        let receipt = r.position("the receipt", |c| {
            is_status(c, "r1", |s| {
                s.phase == Some(RestorePhase::Running)
                    && s.job_name.as_deref() == Some(job.as_str())
            })
        });
        let RestoreCall::Status { lock_holder, .. } = &r.calls[receipt] else {
            unreachable!()
        };
        assert_eq!(
            lock_holder.as_deref(),
            Some("restore/r1"),
            "the receipt is written under the lock"
        );
        let created = r.position("the restore Job", |c| {
            matches!(
                c,
                RestoreCall::CreateJob {
                    kind: RestoreJobKind::Restore { .. },
                    ..
                }
            )
        });
        assert!(
            pinned < finalizer && finalizer < receipt && receipt < created,
            "calls in this order: pinned #{pinned}, finalizer #{finalizer}, receipt #{receipt}, Job #{created}"
        );
        assert_eq!(
            r.restore_creations(),
            1,
            "one create call for the restore Job"
        );
        let RestoreCall::CreateJob {
            job_name,
            kind,
            created: true,
            ..
        } = &r.calls[created]
        else {
            panic!("the Job was created: {:?}", r.calls[created]);
        };
        assert_eq!(job_name, &job);
        let RestoreJobKind::Restore {
            epoch: 1,
            snapshot: restored,
        } = kind
        else {
            panic!("under the lock's epoch 1: {kind:?}");
        };
        assert_eq!(restored, &snapshot, "exactly the pinned snapshot");
        assert_eq!(r.count_events("r1", RestoreStarted), 1);
        assert_eq!(world.events_with(EventReason::RestoreStarted).len(), 1);
    }

    flow.observe(restore_succeeded(UID1, "succeeded", at(4, 5)));
    fake.wait_until("Completed, the lock released, no finalizer", |w| {
        w.restore.phase("r1") == Some(RestorePhase::Completed)
            && w.lock.is_none()
            && !w.restore.has_finalizer("r1")
    })
    .await;
    let world = fake.world();
    let r = &world.restore;
    assert_eq!(
        state_of(r.condition("r1", RestoreComplete)),
        pair("True", "RestoreSucceeded")
    );
    assert_eq!(r.status("r1").completion_time, Some(at(4, 0)));
    let finalizers = r.finalizer_changes("r1");
    assert_eq!(
        (finalizers.first(), finalizers.last()),
        (Some(&true), Some(&false))
    );
    assert_eq!(finalizers.iter().filter(|added| **added).count(), 1);
    assert_eq!(r.creations().len(), 2, "one preflight, one restore");
    assert_eq!(world.last_epoch, 1);
    assert_eq!(
        r.count_events("r1", RestoreEventReason::RestoreCompleted),
        1
    );
    assert_eq!(world.events_with(EventReason::RestoreCompleted).len(), 1);
    assert_eq!(r.outcomes(), [RestoreMetricOutcome::Succeeded]);
    assert_eq!(
        r.restoring(),
        [ConditionStatus::True, ConditionStatus::False]
    );
}

#[tokio::test]
async fn a_dry_run_completes_without_the_lock_or_a_restore_job() {
    let fake = FakeCluster::new(at(4, 0));
    let flow = RestoreFlow::start(&fake, None).await;
    flow.create("check", UID1, CREATED, true);
    fake.wait_until("the preflight Job", |w| w.restore.creations().len() == 1)
        .await;
    flow.observe(preflight_succeeded(UID1, at(4, 1)));
    fake.wait_until("Completed", |w| {
        w.restore.phase("check") == Some(RestorePhase::Completed)
    })
    .await;

    let world = fake.world();
    let r = &world.restore;
    assert_eq!(
        state_of(r.condition("check", RestoreComplete)),
        pair("True", "DryRun")
    );
    assert_eq!(
        state_of(r.condition("check", Validated)),
        pair("True", "ValidationSucceeded")
    );
    assert_eq!(
        state_of(r.condition("check", LockAcquired)),
        pair("False", "DryRun")
    );
    assert_eq!(
        r.status("check").snapshot.map(|s| s.key),
        Some(SNAPSHOT_KEY.into())
    );
    let lock = (world.last_epoch, world.persist_calls, world.lock.clone());
    assert_eq!(lock, (0, 0, None), "the lock never moved");
    assert_eq!((r.creations().len(), r.restore_creations()), (1, 0));
    assert!(r.finalizer_changes("check").is_empty());
    assert!(r.restoring().is_empty());
    assert_eq!(r.outcomes(), [RestoreMetricOutcome::DryRun]);
}

#[tokio::test]
async fn a_restore_waits_visibly_for_a_lock_held_by_a_backup_and_runs_after_its_release() {
    let fake = FakeCluster::new(at(4, 0));
    let flow = RestoreFlow::start(&fake, Some("t1")).await;
    let backup = trigger_job_name(NAME, "t1");
    let holder = format!("backup/{backup}");
    fake.wait_until("the manual backup holds the lock", |w| {
        w.created.len() == 1 && w.holder() == Some((holder.clone(), 1))
    })
    .await;

    flow.create("r1", UID1, CREATED, false);
    fake.wait_until("the preflight Job", |w| w.restore.creations().len() == 1)
        .await;
    flow.observe(preflight_succeeded(UID1, at(4, 1)));
    let waiting = fake
        .wait_for("LockAcquired=False", |w| {
            w.restore.condition("r1", LockAcquired)
        })
        .await;
    assert!(waiting.message.contains(&holder), "{}", waiting.message);
    {
        let r = &fake.world().restore;
        assert_eq!(
            state_of(r.condition("r1", LockAcquired)),
            pair("False", "WaitingForLock")
        );
        assert_eq!(r.phase("r1"), Some(RestorePhase::Validating));
        assert_eq!(r.restore_creations(), 0);
        assert_eq!(r.count_events("r1", RestoreWaitingForLock), 1);
        assert!(!r.has_finalizer("r1"));
    }

    let finished = succeeded(&backup, "vault/prod/b.snap", at(4, 2));
    flow.observe_job(Operation::Backup, finished);
    fake.wait_until("the restore Job after the release", |w| {
        w.restore.restore_creations() >= 1
    })
    .await;
    {
        let world = fake.world();
        assert_eq!(
            world.holder(),
            Some(("restore/r1".into(), 2)),
            "epochs never repeat"
        );
        let r = &world.restore;
        assert_eq!(
            state_of(r.condition("r1", LockAcquired)),
            pair("True", "LockGranted")
        );
        assert!(matches!(
            r.creations()[1].1,
            RestoreJobKind::Restore { epoch: 2, .. }
        ));
    }
    flow.observe(restore_succeeded(UID1, "succeededSealed", at(4, 6)));
    fake.wait_until("Completed (sealed) and released", |w| {
        w.restore.phase("r1") == Some(RestorePhase::Completed) && w.lock.is_none()
    })
    .await;
    let r = &fake.world().restore;
    assert_eq!(
        state_of(r.condition("r1", RestoreComplete)),
        pair("True", "RestoredSealed")
    );
    assert_eq!(r.outcomes(), [RestoreMetricOutcome::SucceededSealed]);
}

#[tokio::test]
async fn after_a_restart_a_committed_request_whose_job_is_gone_fails_and_is_never_run_again() {
    let fake = FakeCluster::new(at(4, 0));
    persisted_running(&fake, "r1", UID1);
    let _flow = RestoreFlow::start(&fake, None).await;

    fake.wait_until("an outcome: Failed, or a Job", |w| {
        w.restore.phase("r1") == Some(RestorePhase::Failed) || !w.restore.creations().is_empty()
    })
    .await;
    let no_jobs: &[(String, RestoreJobKind)] = &[];
    let creations = fake.world().restore.creations();
    assert_eq!(
        creations, no_jobs,
        "no Job is created again: the restore may have run"
    );
    fake.wait_until("the lock released and the finalizer removed", |w| {
        w.lock.is_none() && !w.restore.has_finalizer("r1")
    })
    .await;
    let world = fake.world();
    let r = &world.restore;
    assert_eq!(
        state_of(r.condition("r1", RestoreComplete)),
        pair("False", "RestoreJobLost")
    );
    assert_eq!(world.last_epoch, 3);
    assert_eq!(r.count_events("r1", RestoreFailed), 1);
    assert_eq!(world.events_with(EventReason::RestoreFailed).len(), 1);
    assert_eq!(r.outcomes(), [RestoreMetricOutcome::Failed]);
}

#[tokio::test]
async fn after_a_restart_a_running_restore_job_is_adopted_and_followed_to_its_end() {
    let fake = FakeCluster::new(at(4, 0));
    let job = persisted_running(&fake, "r1", UID1);
    fake.update(|w| {
        w.jobs.insert(job.clone(), JobState::Active);
    });
    let flow = RestoreFlow::start(&fake, None).await;

    fake.wait_until("the Job adopted", |w| w.restore.running == [true])
        .await;
    {
        let world = fake.world();
        assert_eq!(world.restore.creations().len(), 0);
        assert_eq!(world.restore.phase("r1"), Some(RestorePhase::Running));
        assert_eq!(
            world.holder(),
            Some(("restore/r1".into(), 3)),
            "the lock is kept"
        );
    }

    flow.observe(restore_succeeded(UID1, "succeeded", at(4, 5)));
    fake.wait_until("Completed and released", |w| {
        w.restore.phase("r1") == Some(RestorePhase::Completed)
            && w.lock.is_none()
            && !w.restore.has_finalizer("r1")
    })
    .await;
    let world = fake.world();
    assert_eq!(world.restore.creations().len(), 0);
    let complete = world.restore.condition("r1", RestoreComplete);
    assert_eq!(state_of(complete), pair("True", "RestoreSucceeded"));
    assert_eq!(world.last_epoch, 3);
}

#[tokio::test]
async fn a_failed_preflight_fails_the_request_with_the_executors_reason_and_takes_no_lock() {
    let fake = FakeCluster::new(at(4, 0));
    let flow = RestoreFlow::start(&fake, None).await;
    flow.create("r1", UID1, CREATED, false);
    fake.wait_until("the preflight Job", |w| w.restore.creations().len() == 1)
        .await;
    let report = r#"{"operation":"restore","outcome":"failed","stage":"verify","reason":"DigestMismatch","message":"the snapshot's digest differs from its manifest"}"#;
    flow.observe(JobObservation {
        job_name: preflight_job_name(NAME, UID1),
        state: JobState::Failed {
            finished_at: at(4, 1),
            job_reason: Some("BackoffLimitExceeded".into()),
            termination_message: Some(report.into()),
        },
    });
    fake.wait_until("Failed", |w| {
        w.restore.phase("r1") == Some(RestorePhase::Failed)
    })
    .await;

    let world = fake.world();
    let r = &world.restore;
    for type_ in [Validated, RestoreComplete] {
        let condition = r.condition("r1", type_);
        let message = condition.as_ref().map(|c| c.message.clone());
        assert_eq!(state_of(condition), pair("False", "DigestMismatch"));
        let expected = "stage verify: the snapshot's digest differs from its manifest";
        assert_eq!(message.as_deref(), Some(expected));
    }
    let lock = (world.last_epoch, world.persist_calls, world.lock.clone());
    assert_eq!(lock, (0, 0, None), "the lock never moved");
    assert_eq!(r.restore_creations(), 0);
    assert!(r.finalizer_changes("r1").is_empty());
    assert!(
        r.restoring().is_empty(),
        "the cluster was never marked as restoring"
    );
    let failed = r.events("r1", RestoreFailed);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].starts_with("DigestMismatch"), "{}", failed[0]);
}

/// A finalizer that cannot be added (the request is being deleted, an API error) gives the lock back at once: no
/// lock is held without the finalizer that keeps the request until its Job ended. The next try takes it again.
#[tokio::test]
async fn without_its_finalizer_a_restore_holds_no_lock() {
    let fake = FakeCluster::new(at(4, 0));
    let flow = RestoreFlow::start(&fake, None).await;
    fake.update(|w| {
        w.restore.finalizer_error = Some(EffectError::Api {
            context: "finalizer".into(),
            source: openbao_actors::effects::source_from("refused"),
        })
    });
    flow.create("guarded", UID1, CREATED, false);
    fake.wait_until("the preflight Job", |w| w.restore.creations().len() == 1)
        .await;
    flow.observe(preflight_succeeded(UID1, at(4, 1)));
    fake.wait_until("the lock granted and given back", |w| {
        w.last_epoch == 1 && w.lock.is_none()
    })
    .await;
    {
        let world = fake.world();
        assert_eq!(
            world.restore.restore_creations(),
            0,
            "no Job without the receipt"
        );
        assert!(world.restore.finalizer_changes("guarded").is_empty());
    }
    // The retry (after the actor's error delay) takes the lock again and runs the restore.
    fake.wait_until("the restore Job on the retry", |w| {
        w.restore.restore_creations() == 1
    })
    .await;
    let world = fake.world();
    assert_eq!(world.last_epoch, 2, "a new grant");
    assert_eq!(world.restore.finalizer_changes("guarded"), [true]);
}

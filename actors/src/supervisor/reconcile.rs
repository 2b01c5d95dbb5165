//! What a (re)starting child does with a lock it finds persisted: the pure half of reconciling it with reality.
//!
//! The persisted holder names the object that keeps the lock alive (see [`HolderId`]); the child that owns the
//! holder's operation probes it and the supervisor decides here: a live holder keeps the lock and its child resumes
//! the work; a Job that finished is handed to its child, which records the outcome and releases the lock like any
//! finished operation; a holder that is gone has its lock released at once, so a crash never leaves the cluster
//! locked forever. Only what this operator cannot judge (a holder it did not write, an operation no child owns) is
//! kept.

use crate::child::ResumedWork;
use crate::effects::HolderLiveness;
use crate::holder::HolderId;

/// What the owning child's probe said of the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    Answered(HolderLiveness),
    /// The probe failed (API error): unknown.
    Failed,
    /// No child owns the holder's operation, or the holder is not one this operator writes.
    NoOwner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReconcileDecision {
    /// No lock persisted.
    Free,
    /// Keep the lock; nobody here resumes it (its owner is elsewhere).
    Keep,
    /// Keep the lock; the owning child resumes the work (and records it at once when it finished).
    Resume(ResumedWork),
    /// The holder is gone: release the lock now.
    Release { reason: String },
}

pub fn decide_reconciliation(
    held: Option<(HolderId, u64)>,
    probe: ProbeResult,
) -> ReconcileDecision {
    let Some((holder, epoch)) = held else {
        return ReconcileDecision::Free;
    };
    let resume = |finished| {
        ReconcileDecision::Resume(ResumedWork {
            holder: holder.clone(),
            epoch,
            finished,
        })
    };
    match probe {
        ProbeResult::NoOwner => ReconcileDecision::Keep,
        // Unknown never frees the lock: the next restart or the holder's own release settles it.
        ProbeResult::Failed | ProbeResult::Answered(HolderLiveness::Active) => resume(None),
        ProbeResult::Answered(HolderLiveness::Finished(Some(job))) => resume(Some(job)),
        ProbeResult::Answered(HolderLiveness::Finished(None)) => ReconcileDecision::Release {
            reason: format!("holder {holder} finished while the operator was not watching"),
        },
        ProbeResult::Answered(HolderLiveness::Missing) => ReconcileDecision::Release {
            reason: format!("holder {holder} no longer exists"),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use openbao_crds::Operation;

    use super::*;
    use crate::effects::{JobObservation, JobState};

    #[test]
    fn reconciliation_table() {
        let job = HolderId::new(Operation::Backup, "c-backup-202601010300");
        let restore = HolderId::new(Operation::Restore, "r1");
        let finished = JobObservation {
            job_name: "c-backup-202601010300".into(),
            state: JobState::Succeeded {
                finished_at: chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                termination_message: None,
            },
        };
        let resumed = |holder: &HolderId, finished| {
            ReconcileDecision::Resume(ResumedWork {
                holder: holder.clone(),
                epoch: 4,
                finished,
            })
        };
        let held = |holder: &HolderId| Some((holder.clone(), 4));
        let answered = ProbeResult::Answered;
        assert_eq!(
            decide_reconciliation(None, ProbeResult::NoOwner),
            ReconcileDecision::Free
        );
        assert_eq!(
            decide_reconciliation(held(&job), answered(HolderLiveness::Active)),
            resumed(&job, None)
        );
        assert_eq!(
            decide_reconciliation(held(&restore), answered(HolderLiveness::Active)),
            resumed(&restore, None)
        );
        assert_eq!(
            decide_reconciliation(held(&restore), ProbeResult::Failed),
            resumed(&restore, None),
            "an unknown state never frees the lock"
        );
        assert_eq!(
            decide_reconciliation(held(&restore), ProbeResult::NoOwner),
            ReconcileDecision::Keep
        );
        assert_eq!(
            decide_reconciliation(
                held(&job),
                answered(HolderLiveness::Finished(Some(finished.clone())))
            ),
            resumed(&job, Some(finished))
        );
        assert!(matches!(
            decide_reconciliation(held(&job), answered(HolderLiveness::Missing)),
            ReconcileDecision::Release { .. }
        ));
        assert!(matches!(
            decide_reconciliation(held(&restore), answered(HolderLiveness::Finished(None))),
            ReconcileDecision::Release { .. }
        ));
    }
}

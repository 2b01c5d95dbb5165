//! What a (re)starting supervisor does with a lock it finds persisted: the pure half of adoption.
//!
//! The persisted holder names the object that keeps the lock alive (see [`HolderRef`]). The supervisor probes it
//! and decides here: an active holder keeps the lock; a backup Job that finished is handed to the backup actor,
//! which records the outcome and releases the lock like any finished backup; anything else that is gone has
//! its lock released at once, so a crash never leaves the cluster locked forever.

use crate::effects::{HolderLiveness, JobObservation};
use crate::holder::HolderRef;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdoptDecision {
    /// No lock persisted.
    Free,
    /// The holder is still working: keep the lock. A backup Job is resumed by the backup actor.
    Keep { resume_backup_job: Option<String> },
    /// The backup Job finished while nobody watched: the backup actor records it, then releases the lock.
    FinishBackup { job: JobObservation },
    /// The holder is gone: release the lock now.
    Release { reason: String },
}

pub fn decide_adoption(
    holder: Option<&HolderRef>,
    liveness: Option<HolderLiveness>,
) -> AdoptDecision {
    let Some(holder) = holder else {
        return AdoptDecision::Free;
    };
    let backup_job = match holder {
        HolderRef::BackupJob(job) => Some(job.clone()),
        _ => None,
    };
    match (liveness, backup_job) {
        (Some(HolderLiveness::Active), resume_backup_job) => {
            AdoptDecision::Keep { resume_backup_job }
        }
        // Could not probe (API error): keeping the lock is the safe side; the next restart or release retries.
        (None, resume_backup_job) => AdoptDecision::Keep { resume_backup_job },
        (Some(HolderLiveness::Finished(Some(job))), Some(_)) => AdoptDecision::FinishBackup { job },
        (Some(HolderLiveness::Finished(_)), _) => AdoptDecision::Release {
            reason: format!("holder {holder} finished while the operator was not watching"),
        },
        (Some(HolderLiveness::Missing), _) => AdoptDecision::Release {
            reason: format!("holder {holder} no longer exists"),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::effects::JobState;

    #[test]
    fn adoption_table() {
        let job = HolderRef::BackupJob("c-backup-202601010300".into());
        let restore = HolderRef::Restore("r1".into());
        let finished = JobObservation {
            job_name: "c-backup-202601010300".into(),
            state: JobState::Succeeded {
                finished_at: chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                termination_message: None,
            },
        };
        assert_eq!(decide_adoption(None, None), AdoptDecision::Free);
        assert_eq!(
            decide_adoption(Some(&job), Some(HolderLiveness::Active)),
            AdoptDecision::Keep {
                resume_backup_job: Some("c-backup-202601010300".into())
            }
        );
        assert_eq!(
            decide_adoption(Some(&restore), Some(HolderLiveness::Active)),
            AdoptDecision::Keep {
                resume_backup_job: None
            }
        );
        assert_eq!(
            decide_adoption(Some(&restore), None),
            AdoptDecision::Keep {
                resume_backup_job: None
            },
            "an unknown state never frees the lock"
        );
        assert_eq!(
            decide_adoption(
                Some(&job),
                Some(HolderLiveness::Finished(Some(finished.clone())))
            ),
            AdoptDecision::FinishBackup { job: finished }
        );
        assert!(matches!(
            decide_adoption(Some(&job), Some(HolderLiveness::Missing)),
            AdoptDecision::Release { .. }
        ));
        assert!(matches!(
            decide_adoption(Some(&restore), Some(HolderLiveness::Finished(None))),
            AdoptDecision::Release { .. }
        ));
    }
}

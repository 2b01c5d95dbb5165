//! Noticing a lock change the supervisor did not make: an upgrade or restore owner, or an administrator, may write
//! `status.operationLock` directly. The pure half: does an observed cluster name a different holding than the one
//! the supervisor knows? If so it re-reads the lock from the API (a watch event may be stale) and takes it as current.

use crate::lock::LockHolding;

/// Whether `observed` (from a watch event) names another holding than `known`: a different holder or epoch, or
/// held on one side only.
pub fn names_another_holding(
    observed: Option<&openbao_crds::OperationLock>,
    known: Option<&LockHolding>,
) -> bool {
    match (observed, known) {
        (None, None) => false,
        (Some(observed), Some(known)) => {
            observed.holder != known.holder
                || u64::try_from(observed.epoch).ok() != Some(known.epoch)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use openbao_crds::Operation;

    use super::*;

    fn known(holder: &str, epoch: u64) -> LockHolding {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        LockHolding {
            operation: Operation::Backup,
            holder: holder.into(),
            message: String::new(),
            acquired_at: at,
            renewed_at: at,
            epoch,
        }
    }

    fn observed(holder: &str, epoch: i64) -> openbao_crds::OperationLock {
        openbao_crds::OperationLock {
            operation: Operation::Upgrade,
            holder: holder.into(),
            message: None,
            acquired_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            renewed_at: None,
            epoch,
        }
    }

    #[test]
    fn same_holder_and_epoch_is_no_change() {
        assert!(!names_another_holding(None, None));
        assert!(!names_another_holding(
            Some(&observed("backup/j1", 3)),
            Some(&known("backup/j1", 3))
        ));
    }

    #[test]
    fn release_take_over_or_new_epoch_is_a_change() {
        // Released outside (e.g. the upgrade finished and cleared its lock).
        assert!(names_another_holding(
            None,
            Some(&known("upgrade/2.5.0", 7))
        ));
        // Taken outside while the supervisor thought it free.
        assert!(names_another_holding(
            Some(&observed("upgrade/2.5.0", 7)),
            None
        ));
        assert!(names_another_holding(
            Some(&observed("upgrade/2.5.0", 7)),
            Some(&known("backup/j1", 7))
        ));
        assert!(names_another_holding(
            Some(&observed("backup/j1", 8)),
            Some(&known("backup/j1", 7))
        ));
    }
}

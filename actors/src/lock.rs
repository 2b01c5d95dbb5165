//! The per-cluster operation lock as a pure state machine.
//!
//! The supervisor actor owns one `OperationLock` and is the only code that calls its transitions; its single-threaded
//! mailbox serialises them. Every grant increments `epoch`, a fencing token: a lock-guarded write (status patch, Job
//! creation) carries the epoch it was granted under, and `is_current` refuses a stale one, so a holder that was
//! overridden, or a deposed operator replica, cannot act on the cluster any more.

use chrono::{DateTime, Utc};

use openbao_crds::Operation;

/// Who holds the lock, as persisted in `status.operationLock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolding {
    pub operation: Operation,
    /// Stable identity of the holder, e.g. `backup/<job-name>` or `restore/<restore-name>`.
    pub holder: String,
    pub message: String,
    pub acquired_at: DateTime<Utc>,
    pub renewed_at: DateTime<Utc>,
    pub epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquireOutcome {
    /// The caller holds the lock under `epoch`. `preempted` names a holder an override displaced.
    Granted {
        epoch: u64,
        preempted: Option<LockHolding>,
    },
    Denied {
        held_by: LockHolding,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("the lock is not held")]
    NotHeld,
    #[error(
        "the lock is held by {held_by} (epoch {current_epoch}), not by {holder} (epoch {epoch})"
    )]
    NotHolder {
        holder: String,
        epoch: u64,
        held_by: String,
        current_epoch: u64,
    },
}

/// A request to take the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquireRequest {
    pub operation: Operation,
    pub holder: String,
    pub message: String,
    /// Restore with `overrideOperationLock`: displace the current holder (audited by the caller).
    pub override_existing: bool,
}

/// The lock state: the current holding (if any) and the last epoch ever granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationLock {
    holding: Option<LockHolding>,
    last_epoch: u64,
}

impl OperationLock {
    /// Adopt what `status.operationLock` says after a restart. A persisted epoch is never reused.
    pub fn restored(holding: Option<LockHolding>, last_epoch: u64) -> Self {
        let last_epoch = holding
            .as_ref()
            .map_or(last_epoch, |h| h.epoch.max(last_epoch));
        Self {
            holding,
            last_epoch,
        }
    }

    pub fn holding(&self) -> Option<&LockHolding> {
        self.holding.as_ref()
    }

    pub fn last_epoch(&self) -> u64 {
        self.last_epoch
    }

    /// Decide an acquisition. Returns the outcome and the state to persist; the caller persists it (with a
    /// resourceVersion precondition) *before* answering `Granted`, and keeps `self` unchanged if that write fails.
    pub fn acquire(
        &self,
        request: &AcquireRequest,
        now: DateTime<Utc>,
    ) -> (AcquireOutcome, OperationLock) {
        match &self.holding {
            // Re-acquiring what you hold (e.g. after an operator restart) is idempotent: same epoch, fresh renewal.
            Some(current)
                if current.holder == request.holder && current.operation == request.operation =>
            {
                let mut next = self.clone();
                if let Some(h) = next.holding.as_mut() {
                    h.renewed_at = now;
                }
                (
                    AcquireOutcome::Granted {
                        epoch: current.epoch,
                        preempted: None,
                    },
                    next,
                )
            }
            Some(current) if !request.override_existing => (
                AcquireOutcome::Denied {
                    held_by: current.clone(),
                },
                self.clone(),
            ),
            current => {
                let epoch = self.last_epoch + 1;
                let next = OperationLock {
                    holding: Some(LockHolding {
                        operation: request.operation,
                        holder: request.holder.clone(),
                        message: request.message.clone(),
                        acquired_at: now,
                        renewed_at: now,
                        epoch,
                    }),
                    last_epoch: epoch,
                };
                (
                    AcquireOutcome::Granted {
                        epoch,
                        preempted: current.clone(),
                    },
                    next,
                )
            }
        }
    }

    /// Release by the holder that was granted `epoch`. A stale or foreign release is refused, never applied.
    pub fn release(&self, holder: &str, epoch: u64) -> Result<OperationLock, ReleaseError> {
        let current = self.holding.as_ref().ok_or(ReleaseError::NotHeld)?;
        if current.holder != holder || current.epoch != epoch {
            return Err(ReleaseError::NotHolder {
                holder: holder.to_string(),
                epoch,
                held_by: current.holder.clone(),
                current_epoch: current.epoch,
            });
        }
        Ok(OperationLock {
            holding: None,
            last_epoch: self.last_epoch,
        })
    }

    /// Release whatever is held because reality says the holder is gone (its Job finished or vanished). Used when
    /// reconciling a persisted lock after a restart.
    pub fn release_orphaned(&self) -> OperationLock {
        OperationLock {
            holding: None,
            last_epoch: self.last_epoch,
        }
    }

    /// The holding as `status.operationLock` shows it.
    pub fn to_status(&self) -> Option<openbao_crds::OperationLock> {
        self.holding.as_ref().map(|h| openbao_crds::OperationLock {
            operation: h.operation,
            holder: h.holder.clone(),
            message: (!h.message.is_empty()).then(|| h.message.clone()),
            acquired_at: h.acquired_at,
            renewed_at: Some(h.renewed_at),
            epoch: i64::try_from(h.epoch).unwrap_or(i64::MAX),
        })
    }

    /// Rebuild the lock from `status.operationLock` (`None` when free). `last_epoch` is the highest epoch the
    /// supervisor has seen granted, so a freed lock never hands out an epoch twice.
    pub fn from_status(status: Option<&openbao_crds::OperationLock>, last_epoch: u64) -> Self {
        let holding = status.map(|s| LockHolding {
            operation: s.operation,
            holder: s.holder.clone(),
            message: s.message.clone().unwrap_or_default(),
            acquired_at: s.acquired_at,
            renewed_at: s.renewed_at.unwrap_or(s.acquired_at),
            epoch: u64::try_from(s.epoch).unwrap_or(0),
        });
        Self::restored(holding, last_epoch)
    }

    /// Fencing check for a lock-guarded write made under `epoch`.
    pub fn is_current(&self, epoch: u64) -> bool {
        self.holding.as_ref().is_some_and(|h| h.epoch == epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(sec: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + sec, 0).unwrap()
    }

    fn req(op: Operation, holder: &str) -> AcquireRequest {
        AcquireRequest {
            operation: op,
            holder: holder.into(),
            message: format!("{holder} running"),
            override_existing: false,
        }
    }

    #[test]
    fn first_grant_gets_epoch_one_and_others_are_denied() {
        let lock = OperationLock::default();
        let (out, lock) = lock.acquire(&req(Operation::Backup, "backup/a"), t(0));
        assert_eq!(
            out,
            AcquireOutcome::Granted {
                epoch: 1,
                preempted: None
            }
        );
        let (out, after) = lock.acquire(&req(Operation::Upgrade, "upgrade/x"), t(1));
        match out {
            AcquireOutcome::Denied { held_by } => {
                assert_eq!(held_by.holder, "backup/a");
                assert_eq!(held_by.operation, Operation::Backup);
            }
            other => panic!("expected Denied, got {other:?}"),
        }
        assert_eq!(after, lock, "a denial changes nothing");
    }

    #[test]
    fn reacquire_by_holder_is_idempotent_and_renews() {
        let (_, lock) = OperationLock::default().acquire(&req(Operation::Backup, "backup/a"), t(0));
        let (out, lock2) = lock.acquire(&req(Operation::Backup, "backup/a"), t(30));
        assert_eq!(
            out,
            AcquireOutcome::Granted {
                epoch: 1,
                preempted: None
            }
        );
        assert_eq!(lock2.holding().unwrap().renewed_at, t(30));
        assert_eq!(lock2.holding().unwrap().acquired_at, t(0));
    }

    #[test]
    fn release_requires_holder_and_epoch_and_epochs_never_repeat() {
        let (_, lock) = OperationLock::default().acquire(&req(Operation::Backup, "backup/a"), t(0));
        assert!(matches!(
            lock.release("backup/b", 1),
            Err(ReleaseError::NotHolder { .. })
        ));
        assert!(matches!(
            lock.release("backup/a", 2),
            Err(ReleaseError::NotHolder { .. })
        ));
        let lock = lock.release("backup/a", 1).unwrap();
        assert_eq!(lock.release("backup/a", 1), Err(ReleaseError::NotHeld));
        let (out, _) = lock.acquire(&req(Operation::Restore, "restore/r"), t(5));
        assert_eq!(
            out,
            AcquireOutcome::Granted {
                epoch: 2,
                preempted: None
            }
        );
    }

    #[test]
    fn override_preempts_and_fences_the_old_holder() {
        let (_, lock) = OperationLock::default().acquire(&req(Operation::Backup, "backup/a"), t(0));
        let mut forced = req(Operation::Restore, "restore/r");
        forced.override_existing = true;
        let (out, lock) = lock.acquire(&forced, t(1));
        match out {
            AcquireOutcome::Granted { epoch, preempted } => {
                assert_eq!(epoch, 2);
                assert_eq!(preempted.unwrap().holder, "backup/a");
            }
            other => panic!("expected Granted, got {other:?}"),
        }
        assert!(
            !lock.is_current(1),
            "the displaced holder's epoch is fenced"
        );
        assert!(lock.is_current(2));
        assert!(lock.release("backup/a", 1).is_err());
    }

    #[test]
    fn status_round_trip_keeps_holder_and_epoch() {
        let (_, lock) =
            OperationLock::default().acquire(&req(Operation::Restore, "restore/r1"), t(3));
        let status = lock.to_status().expect("held");
        assert_eq!(status.epoch, 1);
        assert_eq!(status.operation, Operation::Restore);
        assert_eq!(OperationLock::from_status(Some(&status), 0), lock);
        assert_eq!(OperationLock::default().to_status(), None);
    }

    #[test]
    fn a_restored_lock_never_reuses_a_persisted_epoch() {
        let holding = LockHolding {
            operation: Operation::Upgrade,
            holder: "upgrade/2.7.2".into(),
            message: String::new(),
            acquired_at: t(0),
            renewed_at: t(0),
            epoch: 41,
        };
        let lock = OperationLock::restored(Some(holding), 7);
        assert_eq!(lock.last_epoch(), 41);
        let lock = lock.release_orphaned();
        let (out, _) = lock.acquire(&req(Operation::Backup, "backup/b"), t(9));
        assert_eq!(
            out,
            AcquireOutcome::Granted {
                epoch: 42,
                preempted: None
            }
        );
    }
}

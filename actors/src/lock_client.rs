//! The narrow handle a child actor has on its supervisor: take, renew and release the operation lock, and report
//! an outcome. Children never see the supervisor's whole message type, so the supervisor may import its
//! children without an import circle, and a child's test can answer lock calls with a fake.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use openbao_crds::Operation;

use crate::holder::HolderId;
use crate::lock::AcquireRequest;

/// The answer to an acquire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockReply {
    /// The lock is held by the caller under `epoch`, and `status.operationLock` says so. `preempted`: the holder
    /// an override displaced.
    Granted {
        epoch: u64,
        preempted: Option<Preempted>,
    },
    Denied {
        operation: Operation,
        held_by: String,
        since: DateTime<Utc>,
    },
    /// The lock could not be written (API error, repeated conflicts). Nothing was granted; retry later.
    Unavailable { reason: String },
}

/// What a request that was denied the lock says while it waits.
pub fn lock_wait_message(operation: Operation, held_by: &str, since: DateTime<Utc>) -> String {
    format!(
        "waiting for the operation lock: {operation} {held_by} holds it since {}",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// The answer to a pre-upgrade snapshot request (the backup child's, relayed by the supervisor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreUpgradeResult {
    Succeeded {
        job_name: String,
        key: String,
    },
    Failed {
        reason: String,
        message: String,
    },
    /// Not attempted: `spec.backup` is unusable, or the epoch no longer holds the lock.
    Refused {
        reason: String,
    },
    /// Not attempted now (the backup actor is restarting): ask again.
    Unavailable {
        reason: String,
    },
}

/// A holder that an `overrideOperationLock` restore displaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preempted {
    pub operation: Operation,
    pub holder: String,
}

/// Why a lock call got no answer at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockCallError {
    #[error("the supervisor did not answer in time")]
    Timeout,
    #[error("the supervisor dropped the request")]
    Dropped,
    #[error("the supervisor is unreachable: {0}")]
    Unreachable(String),
}

/// How an operation a child ran ended, for the supervisor's log and restart bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationReport {
    pub holder: HolderId,
    /// e.g. the backup kind; free text for the log.
    pub detail: String,
    pub succeeded: bool,
}

/// Implemented by the supervisor's handle; a test may implement it with a fake.
pub trait LockService: Send + Sync {
    fn acquire(&self, request: AcquireRequest) -> BoxFuture<'_, Result<LockReply, LockCallError>>;
    fn release(&self, holder: &HolderId, epoch: u64) -> Result<(), LockCallError>;
    fn report(&self, report: OperationReport);
    /// Asks the backup child, through the supervisor, for a pre-upgrade snapshot under the lock held with
    /// `epoch`; resolves when the backup ended (it may take as long as a backup does).
    fn pre_upgrade_snapshot(
        &self,
        upgrade_id: String,
        epoch: u64,
    ) -> BoxFuture<'_, Result<PreUpgradeResult, LockCallError>>;
}

/// What a child holds instead of its supervisor's `ActorRef`.
#[derive(Clone)]
pub struct LockClient(Arc<dyn LockService>);

impl LockClient {
    pub fn new(service: Arc<dyn LockService>) -> Self {
        Self(service)
    }

    /// Asks for the lock for `holder`; `message` is shown in `status.operationLock.message`.
    pub async fn acquire(
        &self,
        holder: &HolderId,
        message: String,
        override_existing: bool,
    ) -> Result<LockReply, LockCallError> {
        self.0
            .acquire(AcquireRequest {
                operation: holder.operation,
                holder: holder.to_string(),
                message,
                override_existing,
            })
            .await
    }

    /// Re-acquires what `holder` holds under `epoch`: refreshes `renewedAt`. Anything but the same epoch means the
    /// holder lost the lock.
    pub async fn renew(&self, holder: &HolderId, epoch: u64, message: String) -> bool {
        matches!(
            self.acquire(holder, message, false).await,
            Ok(LockReply::Granted { epoch: renewed, .. }) if renewed == epoch
        )
    }

    pub fn release(&self, holder: &HolderId, epoch: u64) -> Result<(), LockCallError> {
        self.0.release(holder, epoch)
    }

    pub fn report(&self, report: OperationReport) {
        self.0.report(report);
    }

    pub async fn pre_upgrade_snapshot(
        &self,
        upgrade_id: String,
        epoch: u64,
    ) -> Result<PreUpgradeResult, LockCallError> {
        self.0.pre_upgrade_snapshot(upgrade_id, epoch).await
    }
}

//! The supervisor side of [`LockClient`](crate::lock_client::LockClient): lock calls become supervisor messages.

use std::time::Duration;

use futures::future::BoxFuture;
use ractor::ActorRef;
use ractor::rpc::CallResult;

use super::SupervisorMsg;
use crate::child::PreUpgradeResult;
use crate::holder::HolderId;
use crate::lock::AcquireRequest;
use crate::lock_client::{LockCallError, LockReply, LockService, OperationReport};
use crate::metrics::MailboxGauge;

/// How long a lock request may wait for the supervisor (which may be retrying a conflicting write).
const LOCK_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The supervisor and its mailbox gauge: every message sent through the link is counted as enqueued.
pub(super) struct SupervisorLink(pub(super) ActorRef<SupervisorMsg>, pub(super) MailboxGauge);

impl SupervisorLink {
    fn cast(&self, message: SupervisorMsg) -> Result<(), ractor::MessagingErr<SupervisorMsg>> {
        self.1.sent();
        let sent = self.0.cast(message);
        if sent.is_err() {
            self.1.handled();
        }
        sent
    }
}

impl LockService for SupervisorLink {
    fn acquire(&self, request: AcquireRequest) -> BoxFuture<'_, Result<LockReply, LockCallError>> {
        Box::pin(async move {
            self.1.sent();
            let call = self
                .0
                .call(
                    |reply| SupervisorMsg::AcquireLock { request, reply },
                    Some(LOCK_CALL_TIMEOUT),
                )
                .await;
            if call.is_err() {
                // Never enqueued.
                self.1.handled();
            }
            match call {
                Ok(CallResult::Success(reply)) => Ok(reply),
                Ok(CallResult::Timeout) => Err(LockCallError::Timeout),
                Ok(CallResult::SenderError) => Err(LockCallError::Dropped),
                Err(error) => Err(LockCallError::Unreachable(error.to_string())),
            }
        })
    }

    fn release(&self, holder: &HolderId, epoch: u64) -> Result<(), LockCallError> {
        self.cast(SupervisorMsg::ReleaseLock {
            holder: holder.to_string(),
            epoch,
        })
        .map_err(|error| LockCallError::Unreachable(error.to_string()))
    }

    fn pre_upgrade_snapshot(
        &self,
        upgrade_id: String,
        epoch: u64,
    ) -> BoxFuture<'_, Result<PreUpgradeResult, LockCallError>> {
        Box::pin(async move {
            self.1.sent();
            // No timeout: the answer comes when the backup Job ended (bounded by its own deadline); a backup
            // actor that stops drops the reply, which ends the call.
            let call = self
                .0
                .call(
                    |reply| SupervisorMsg::PreUpgradeSnapshot {
                        upgrade_id,
                        epoch,
                        reply,
                    },
                    None,
                )
                .await;
            if call.is_err() {
                self.1.handled();
            }
            match call {
                Ok(CallResult::Success(result)) => Ok(result),
                Ok(CallResult::Timeout) => Err(LockCallError::Timeout),
                Ok(CallResult::SenderError) => Err(LockCallError::Dropped),
                Err(error) => Err(LockCallError::Unreachable(error.to_string())),
            }
        })
    }

    fn report(&self, report: OperationReport) {
        // A supervisor that is gone has nobody to tell; its successor reads status.
        let _ = self.cast(SupervisorMsg::OperationFinished(report));
    }
}

//! Actor metric hooks. `src/` implements [`ActorMetrics`] with prometheus-client as `openbao_actor_messages_total`,
//! `openbao_actor_mailbox_depth`, `openbao_actor_handler_seconds` and `openbao_actor_restarts_total`, labelled
//! `namespace`, `cluster`, `actor`.
//!
//! ractor 0.16.5 does not expose the length of an actor's mailbox, so depth is measured by [`MailboxGauge`]:
//! routed messages (manager → supervisor → child) count up when sent and down when handled. Replies, timers and
//! children's calls are not routed through it, so the gauge is a lower bound of the real queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use openbao_crds::Operation;

use crate::cluster_key::ClusterKey;

/// Which per-cluster actor a series belongs to (the `actor` label): the supervisor or the child that owns an
/// operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    Supervisor,
    Child(Operation),
}

impl ActorKind {
    pub const BACKUP: Self = Self::Child(Operation::Backup);

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Supervisor => "supervisor",
            Self::Child(Operation::Backup) => "backup",
            Self::Child(Operation::Restore) => "restore",
            Self::Child(Operation::Upgrade) => "upgrade",
        }
    }
}

pub trait ActorMetrics: Send + Sync {
    fn message_handled(&self, cluster: &ClusterKey, actor: ActorKind, handler_time: Duration);
    fn mailbox_depth(&self, cluster: &ClusterKey, actor: ActorKind, depth: u64);
    fn actor_restarted(&self, cluster: &ClusterKey, actor: ActorKind);
    /// Drop every series of a deleted cluster so `/metrics` does not grow with churn.
    fn remove_cluster(&self, cluster: &ClusterKey);
}

/// Metrics disabled.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl ActorMetrics for NoMetrics {
    fn message_handled(&self, _: &ClusterKey, _: ActorKind, _: Duration) {}
    fn mailbox_depth(&self, _: &ClusterKey, _: ActorKind, _: u64) {}
    fn actor_restarted(&self, _: &ClusterKey, _: ActorKind) {}
    fn remove_cluster(&self, _: &ClusterKey) {}
}

/// Messages routed to an actor and not handled yet. Cloned by the sender and the receiving actor.
#[derive(Debug, Clone, Default)]
pub struct MailboxGauge(Arc<AtomicI64>);

impl MailboxGauge {
    pub fn sent(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// One message taken out of the mailbox; returns the depth left. Unrouted messages never push it below zero.
    pub fn handled(&self) -> u64 {
        let previous = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |depth| {
                Some((depth - 1).max(0))
            })
            .unwrap_or(0);
        u64::try_from((previous - 1).max(0)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_counts_routed_messages_and_never_goes_negative() {
        let gauge = MailboxGauge::default();
        gauge.sent();
        gauge.sent();
        assert_eq!(gauge.handled(), 1);
        assert_eq!(gauge.handled(), 0);
        assert_eq!(gauge.handled(), 0, "a timer message handled unrouted");
        gauge.sent();
        assert_eq!(gauge.handled(), 0);
    }
}

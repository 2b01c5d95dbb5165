//! Actor metric hooks. `src/` implements [`ActorMetrics`] with prometheus-client as `openbao_actor_messages_total`,
//! `openbao_actor_mailbox_depth`, `openbao_actor_handler_seconds` and `openbao_actor_restarts_total`, labelled
//! `namespace`, `cluster`, `actor`.
//!
//! ractor 0.16.5 does not expose the length of an actor's mailbox, so depth is measured by [`MailboxGauge`]:
//! every message is counted up when it is enqueued and down when its handler ends: routed messages (manager →
//! supervisor → child), children's lock calls and reports to the supervisor, the supervisor's retire and restart
//! messages, and timer messages (counted when the timer fires, so an aborted timer counts nothing). A send that
//! fails is counted back. The gauge is the exact queue length plus the message being handled, except for
//! `Inspect` calls (tests and health reporting only) and messages a stopping actor drops (its gauge goes with it).
//!
//! Each actor's gauge is handed to [`ActorMetrics::actor_started`] when the actor is spawned (the manager for a
//! supervisor, the supervisor for its children), so the exporter reads the live count at scrape time: a handler
//! that never returns still shows its growing backlog. [`ActorMetrics::actor_stopped`] drops it when the actor
//! ends, [`ActorMetrics::remove_cluster`] with the cluster.

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
    /// An actor of the cluster was spawned with `mailbox` as its gauge: its depth is read from it from now on
    /// (replacing an earlier instance's), and its restart counter exists from here, at 0.
    fn actor_started(&self, cluster: &ClusterKey, actor: ActorKind, mailbox: MailboxGauge);
    /// The actor ended (it may be restarted later): its gauge is no longer read and its depth series goes.
    fn actor_stopped(&self, cluster: &ClusterKey, actor: ActorKind);
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
    fn actor_started(&self, _: &ClusterKey, _: ActorKind, _: MailboxGauge) {}
    fn actor_stopped(&self, _: &ClusterKey, _: ActorKind) {}
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

    /// Messages enqueued and not handled yet, the one in the handler included: what a scrape reads.
    pub fn depth(&self) -> u64 {
        u64::try_from(self.0.load(Ordering::Relaxed).max(0)).unwrap_or(0)
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
        assert_eq!(gauge.depth(), 1, "read without handling");
        assert_eq!(gauge.handled(), 0);
        assert_eq!(gauge.depth(), 0);
    }

    /// An actor counting like the operator's actors (cast and timer messages counted when enqueued, handled at
    /// the end of the handler) reports its real queue: messages sent while it was busy, then fewer, then none.
    #[tokio::test]
    async fn counted_enqueues_give_the_real_queue_length() {
        use ractor::{Actor, ActorProcessingErr, ActorRef};
        use std::sync::Mutex;

        struct Probe;
        struct ProbeState {
            gauge: MailboxGauge,
            release: Arc<tokio::sync::Semaphore>,
            depths: Arc<Mutex<Vec<u64>>>,
        }
        impl Actor for Probe {
            type Msg = ();
            type State = ProbeState;
            type Arguments = ProbeState;
            async fn pre_start(
                &self,
                _: ActorRef<()>,
                state: ProbeState,
            ) -> Result<ProbeState, ActorProcessingErr> {
                Ok(state)
            }
            async fn handle(
                &self,
                _: ActorRef<()>,
                _: (),
                state: &mut ProbeState,
            ) -> Result<(), ActorProcessingErr> {
                state.release.acquire().await?.forget();
                state.depths.lock().unwrap().push(state.gauge.handled());
                Ok(())
            }
        }

        let gauge = MailboxGauge::default();
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let depths = Arc::new(Mutex::new(Vec::new()));
        let (actor, handle) = Actor::spawn(
            None,
            Probe,
            ProbeState {
                gauge: gauge.clone(),
                release: release.clone(),
                depths: depths.clone(),
            },
        )
        .await
        .unwrap();
        for _ in 0..3 {
            gauge.sent();
            actor.cast(()).unwrap();
        }
        let timer_gauge = gauge.clone();
        actor
            .send_after(Duration::from_millis(10), move || timer_gauge.sent())
            .await
            .unwrap()
            .unwrap();
        release.add_permits(4);
        while depths.lock().unwrap().len() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(*depths.lock().unwrap(), vec![3, 2, 1, 0]);
        actor.stop(None);
        handle.await.unwrap();
    }
}

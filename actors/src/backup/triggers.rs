//! Manual backup tokens from the `openbao.org/trigger-backup` annotation, queued in arrival order.
//!
//! A new token is never dropped: it waits while a backup runs or another operation holds the lock. A token is
//! done once its Job was created and `status.backup.lastHandledTrigger` records it; observing the same
//! annotation again (every watch event repeats it) is a no-op. The queue is mirrored to
//! `status.backup.pendingTriggers`, so a token the annotation no longer shows survives an operator restart.

use std::collections::VecDeque;

pub use openbao_crds::cluster_status::MAX_PENDING_TRIGGERS;

/// What observing the annotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerObservation {
    /// No annotation, or an empty value.
    NoTrigger,
    /// The token's Job was created already.
    AlreadyHandled,
    /// The token is queued or running already.
    AlreadyPending,
    Queued {
        position: usize,
    },
    /// [`MAX_PENDING_TRIGGERS`] tokens wait already; this one is refused (visibly, never silently).
    QueueFull,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerQueue {
    queued: VecDeque<String>,
}

impl TriggerQueue {
    /// Queue `token` unless it was handled (`last_handled`), is queued, or is the token of the running backup.
    pub fn observe(
        &mut self,
        token: Option<&str>,
        last_handled: Option<&str>,
        running: Option<&str>,
    ) -> TriggerObservation {
        let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
            return TriggerObservation::NoTrigger;
        };
        if last_handled == Some(token) {
            return TriggerObservation::AlreadyHandled;
        }
        if running == Some(token) || self.queued.iter().any(|queued| queued == token) {
            return TriggerObservation::AlreadyPending;
        }
        if self.queued.len() >= MAX_PENDING_TRIGGERS {
            return TriggerObservation::QueueFull;
        }
        self.queued.push_back(token.to_string());
        TriggerObservation::Queued {
            position: self.queued.len(),
        }
    }

    /// The queue as persisted in `status.backup.pendingTriggers` (duplicates and blanks dropped).
    pub fn restore(pending: &[String]) -> Self {
        let mut queue = Self::default();
        for token in pending {
            queue.observe(Some(token), None, None);
        }
        queue
    }

    /// The tokens waiting, oldest first, as `status.backup.pendingTriggers` shows them.
    pub fn pending(&self) -> Vec<String> {
        self.queued.iter().cloned().collect()
    }

    pub fn next(&self) -> Option<&str> {
        self.queued.front().map(String::as_str)
    }

    /// Remove `token` once its Job exists.
    pub fn mark_started(&mut self, token: &str) {
        self.queued.retain(|queued| queued != token);
    }

    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tokens_queue_in_order_and_repeats_are_ignored() {
        let mut queue = TriggerQueue::default();
        assert_eq!(
            queue.observe(Some("a"), None, None),
            TriggerObservation::Queued { position: 1 }
        );
        assert_eq!(
            queue.observe(Some("a"), None, None),
            TriggerObservation::AlreadyPending
        );
        assert_eq!(
            queue.observe(Some("b"), None, None),
            TriggerObservation::Queued { position: 2 }
        );
        assert_eq!(queue.next(), Some("a"));
        queue.mark_started("a");
        assert_eq!(queue.next(), Some("b"));
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn handled_running_and_empty_tokens_are_not_queued() {
        let mut queue = TriggerQueue::default();
        assert_eq!(
            queue.observe(Some("t1"), Some("t1"), None),
            TriggerObservation::AlreadyHandled
        );
        assert_eq!(
            queue.observe(Some("t2"), Some("t1"), Some("t2")),
            TriggerObservation::AlreadyPending
        );
        assert_eq!(
            queue.observe(Some("  "), None, None),
            TriggerObservation::NoTrigger
        );
        assert_eq!(
            queue.observe(None, None, None),
            TriggerObservation::NoTrigger
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn a_token_seen_while_busy_is_kept_until_started() {
        let mut queue = TriggerQueue::default();
        queue.observe(Some("t1"), None, None);
        // Watch events keep repeating the annotation while another backup runs: still one entry.
        for _ in 0..5 {
            queue.observe(Some("t1"), None, Some("other"));
        }
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.next(), Some("t1"));
    }

    #[test]
    fn the_persisted_queue_restores_in_order_and_is_bounded() {
        let restored = TriggerQueue::restore(&["a".into(), " ".into(), "b".into(), "a".into()]);
        assert_eq!(restored.pending(), ["a", "b"]);

        let mut full = TriggerQueue::default();
        for n in 0..MAX_PENDING_TRIGGERS {
            assert!(matches!(
                full.observe(Some(&format!("t{n}")), None, None),
                TriggerObservation::Queued { .. }
            ));
        }
        assert_eq!(
            full.observe(Some("one-too-many"), None, None),
            TriggerObservation::QueueFull
        );
        assert_eq!(full.len(), MAX_PENDING_TRIGGERS);
        assert_eq!(
            full.observe(Some("t0"), None, None),
            TriggerObservation::AlreadyPending,
            "a token already waiting is not refused"
        );
    }
}

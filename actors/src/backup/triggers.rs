//! Manual backup tokens from the `openbao.org/trigger-backup` annotation, queued in arrival order.
//!
//! A new token is never dropped: it waits while a backup runs or another operation holds the lock. A token is
//! done once its Job was created and `status.backup.lastHandledTrigger` records it; observing the same
//! annotation again (every watch event repeats it) is a no-op.

use std::collections::VecDeque;

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
        self.queued.push_back(token.to_string());
        TriggerObservation::Queued {
            position: self.queued.len(),
        }
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
}

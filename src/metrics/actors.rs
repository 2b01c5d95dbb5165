//! `openbao_actor_*`: the actors' metric hooks as Prometheus series ([`super::OperatorMetrics`] implements the
//! actors' `ActorMetrics` trait with these).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::metrics::{ActorKind, MailboxGauge};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::labels::{ACTOR_KINDS, ActorLabels};

/// 100 µs … ~100 s: a handler is mostly a status patch or a Job create (milliseconds), slow ones hit API retries.
fn handler_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 11))
}

#[derive(Clone)]
pub struct PrometheusActorMetrics {
    messages: Family<ActorLabels, Counter>,
    mailbox_depth: Family<ActorLabels, Gauge>,
    handler_seconds: Family<ActorLabels, Histogram, fn() -> Histogram>,
    restarts: Family<ActorLabels, Counter>,
    /// The live gauge of every running actor: `mailbox_depth` is read from them at scrape time.
    mailboxes: Arc<Mutex<HashMap<ActorLabels, MailboxGauge>>>,
}

impl PrometheusActorMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            messages: Family::default(),
            mailbox_depth: Family::default(),
            handler_seconds: Family::new_with_constructor(handler_histogram),
            restarts: Family::default(),
            mailboxes: Arc::default(),
        };
        registry.register(
            "openbao_actor_messages",
            "Messages handled by a per-cluster actor",
            metrics.messages.clone(),
        );
        registry.register(
            "openbao_actor_mailbox_depth",
            "Messages enqueued to a per-cluster actor and not handled yet, the one in its handler included (read at scrape time)",
            metrics.mailbox_depth.clone(),
        );
        registry.register(
            "openbao_actor_handler_seconds",
            "Time a per-cluster actor spent handling one message",
            metrics.handler_seconds.clone(),
        );
        registry.register(
            "openbao_actor_restarts",
            "Restarts of a per-cluster actor after it failed",
            metrics.restarts.clone(),
        );
        metrics
    }

    fn mailboxes(&self) -> MutexGuard<'_, HashMap<ActorLabels, MailboxGauge>> {
        self.mailboxes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets `openbao_actor_mailbox_depth` of every running actor from its live gauge; called before each
    /// exposition, so a handler that never returns still shows the messages queued behind it.
    pub fn refresh(&self) {
        for (labels, mailbox) in self.mailboxes().iter() {
            let depth = i64::try_from(mailbox.depth()).unwrap_or(i64::MAX);
            self.mailbox_depth.get_or_create(labels).set(depth);
        }
    }

    pub fn remove(&self, key: &ClusterKey) {
        // Held while the series are removed, so a concurrent refresh cannot bring one back.
        let mut mailboxes = self.mailboxes();
        for actor in ACTOR_KINDS {
            let labels = ActorLabels::new(key, actor);
            mailboxes.remove(&labels);
            self.messages.remove(&labels);
            self.mailbox_depth.remove(&labels);
            self.handler_seconds.remove(&labels);
            self.restarts.remove(&labels);
        }
    }
}

impl PrometheusActorMetrics {
    pub fn message_handled(&self, cluster: &ClusterKey, actor: ActorKind, handler_time: Duration) {
        let labels = ActorLabels::new(cluster, actor);
        self.messages.get_or_create(&labels).inc();
        self.handler_seconds
            .get_or_create(&labels)
            .observe(handler_time.as_secs_f64());
    }

    pub fn mailbox_depth(&self, cluster: &ClusterKey, actor: ActorKind, depth: u64) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        self.mailbox_depth
            .get_or_create(&ActorLabels::new(cluster, actor))
            .set(depth);
    }

    pub fn actor_started(&self, cluster: &ClusterKey, actor: ActorKind, mailbox: MailboxGauge) {
        let labels = ActorLabels::new(cluster, actor);
        // From the first start on, so `increase()` sees the first restart too.
        let _ = self.restarts.get_or_create(&labels);
        self.mailboxes().insert(labels, mailbox);
    }

    pub fn actor_stopped(&self, cluster: &ClusterKey, actor: ActorKind) {
        let labels = ActorLabels::new(cluster, actor);
        let mut mailboxes = self.mailboxes();
        mailboxes.remove(&labels);
        self.mailbox_depth.remove(&labels);
    }

    pub fn actor_restarted(&self, cluster: &ClusterKey, actor: ActorKind) {
        self.restarts
            .get_or_create(&ActorLabels::new(cluster, actor))
            .inc();
    }
}

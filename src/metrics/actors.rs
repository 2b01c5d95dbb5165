//! `openbao_actor_*`: the actors' metric hooks as Prometheus series ([`super::OperatorMetrics`] implements the
//! actors' `ActorMetrics` trait with these).

use std::time::Duration;

use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::metrics::ActorKind;
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
}

impl PrometheusActorMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            messages: Family::default(),
            mailbox_depth: Family::default(),
            handler_seconds: Family::new_with_constructor(handler_histogram),
            restarts: Family::default(),
        };
        registry.register(
            "openbao_actor_messages",
            "Messages handled by a per-cluster actor",
            metrics.messages.clone(),
        );
        registry.register(
            "openbao_actor_mailbox_depth",
            "Messages waiting in a per-cluster actor's mailbox after its last handled message (every enqueue is counted)",
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

    pub fn remove(&self, key: &ClusterKey) {
        for actor in ACTOR_KINDS {
            let labels = ActorLabels::new(key, actor);
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

    pub fn actor_restarted(&self, cluster: &ClusterKey, actor: ActorKind) {
        self.restarts
            .get_or_create(&ActorLabels::new(cluster, actor))
            .inc();
    }
}

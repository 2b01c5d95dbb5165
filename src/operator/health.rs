//! `/metrics`, `/healthz` and `/readyz`. Ready means: every watch cache has synced and the leadership state is
//! known (leader or follower). Followers are ready too: they serve metrics and take over when the leader goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::text_format::{TEXT_CONTENT_TYPE, accepts_openmetrics, to_prometheus_text};
use crate::metrics::{CONTENT_TYPE, OperatorMetrics};

#[derive(Debug, Default)]
pub struct Readiness {
    caches_synced: AtomicBool,
    leadership_known: AtomicBool,
    leader: AtomicBool,
}

/// Why the process is not ready yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    CachesSyncing,
    LeadershipUnknown,
}

impl NotReady {
    pub fn message(self) -> &'static str {
        match self {
            Self::CachesSyncing => "watch caches are not synced yet",
            Self::LeadershipUnknown => "leader election has not reached the Lease yet",
        }
    }
}

/// Pure readiness decision.
pub fn readiness(caches_synced: bool, leadership_known: bool) -> Result<(), NotReady> {
    if !caches_synced {
        return Err(NotReady::CachesSyncing);
    }
    if !leadership_known {
        return Err(NotReady::LeadershipUnknown);
    }
    Ok(())
}

impl Readiness {
    pub fn caches_synced(&self) {
        self.caches_synced.store(true, Ordering::Release);
    }

    pub fn leadership(&self, leader: bool) {
        self.leader.store(leader, Ordering::Release);
        self.leadership_known.store(true, Ordering::Release);
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    pub fn check(&self) -> Result<(), NotReady> {
        readiness(
            self.caches_synced.load(Ordering::Acquire),
            self.leadership_known.load(Ordering::Acquire),
        )
    }
}

#[derive(Clone)]
struct HealthState {
    metrics: Arc<OperatorMetrics>,
    readiness: Arc<Readiness>,
}

pub fn router(metrics: Arc<OperatorMetrics>, readiness: Arc<Readiness>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready_handler))
        .with_state(HealthState { metrics, readiness })
}

/// OpenMetrics for scrapers that ask for it (Prometheus does), the classic text format otherwise.
async fn metrics_handler(
    State(state): State<HealthState>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let openmetrics = state.metrics.encode();
    if accepts_openmetrics(accept) {
        ([(header::CONTENT_TYPE, CONTENT_TYPE)], openmetrics)
    } else {
        (
            [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
            to_prometheus_text(&openmetrics),
        )
    }
}

async fn ready_handler(State(state): State<HealthState>) -> impl IntoResponse {
    match state.readiness.check() {
        Ok(()) => (
            StatusCode::OK,
            if state.readiness.is_leader() {
                "ok: leader"
            } else {
                "ok: follower"
            },
        ),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason.message()),
    }
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_with_synced_caches_and_known_leadership() {
        assert_eq!(readiness(false, true), Err(NotReady::CachesSyncing));
        assert_eq!(readiness(true, false), Err(NotReady::LeadershipUnknown));
        assert_eq!(readiness(true, true), Ok(()));
        let state = Readiness::default();
        state.caches_synced();
        state.leadership(false);
        assert_eq!(state.check(), Ok(()), "a follower is ready");
    }
}

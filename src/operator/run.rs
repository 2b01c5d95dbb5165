//! Wiring of `openbao-operator run`: client, caches, leader election, actors, HTTP, shutdown.
//!
//! Caches and metrics run on every replica. Winning the Lease spawns the `ClusterManager` and replays the caches
//! into it; losing it (or shutting down) stops the manager, which stops every cluster's actors, before anything
//! else happens. A SIGTERM stops the actors, releases the Lease so a successor takes over at once, and exits 0.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use openbao_actors::child::ChildSpecs;
use openbao_actors::manager::{ClusterManager, ManagerArgs, ManagerMsg};
use openbao_crds::Operation;
use ractor::Actor;
use tokio::sync::watch;

use super::effects::{
    ChildStores, JobReader, KubeRestoreWriter, child_operations, kube_children, kube_effects,
};
use super::health::{self, Readiness};
use super::leader::{self, LeaseSettings};
use super::logging;
use super::manager_slot::ManagerSlot;
use super::settings::RunArgs;
use super::watchers::{self, Caches};
use crate::jobs::JobSettings;
use crate::metrics::OperatorMetrics;

const ELECTION_RETRY: Duration = Duration::from_secs(5);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot build a Kubernetes client (kubeconfig or in-cluster config): {0}")]
    Client(#[source] kube::Error),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl RunError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Client(_) => "ClientConfig",
            Self::Listen { .. } => "Listen",
            Self::Runtime(_) => "Runtime",
        }
    }
}

/// Entry point of the `run` subcommand.
pub fn main(args: RunArgs) -> ExitCode {
    // kube and the object-store client both use rustls; one process-wide provider avoids the
    // "cannot determine the CryptoProvider" panic when both are linked.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    logging::init(args.log_format);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)
        .and_then(|runtime| runtime.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(reason = error.reason(), %error, "operator stopped");
            ExitCode::FAILURE
        }
    }
}

/// A client whose requests wait for one of `max_in_flight` permits (held until the response headers arrive,
/// so a slow body never starves the rest). The actors' writes go through it; watches use their own client.
fn limited_client(config: kube::Config, max_in_flight: usize) -> Result<kube::Client, RunError> {
    let builder = kube::client::ClientBuilder::try_from(config).map_err(RunError::Client)?;
    Ok(builder
        .with_layer(&tower::limit::ConcurrencyLimitLayer::new(max_in_flight))
        .build())
}

pub async fn run(args: RunArgs) -> Result<(), RunError> {
    let config = kube::Config::infer()
        .await
        .map_err(|error| RunError::Client(kube::Error::InferConfig(error)))?;
    let client = kube::Client::try_from(config.clone()).map_err(RunError::Client)?;
    let actor_client = limited_client(config, usize::from(args.api_max_in_flight))?;
    let metrics = Arc::new(OperatorMetrics::new());
    let readiness = Arc::new(Readiness::default());
    let (shutdown_tx, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        let _ = shutdown_tx.send(true);
    });

    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .map_err(|source| RunError::Listen {
            address: args.metrics_addr,
            source,
        })?;
    let http = tokio::spawn(health::serve_on(
        listener,
        health::router(metrics.clone(), readiness.clone()),
        stopped(shutdown.clone()),
    ));

    let slot = Arc::new(ManagerSlot::default());
    let (cluster_store, cluster_writer) = kube::runtime::reflector::store();
    let (restore_store, restore_writer) = kube::runtime::reflector::store();
    let (stateful_set_store, stateful_set_writer) = kube::runtime::reflector::store();
    let job_settings = JobSettings {
        ttl_seconds_after_finished: args.job_ttl_seconds,
        ..JobSettings::new(&args.executor_image)
    };
    let identity = args.pod_name.clone().unwrap_or_else(default_identity);
    let children = kube_children(
        actor_client.clone(),
        job_settings,
        ChildStores {
            clusters: cluster_store,
            restores: restore_store,
            stateful_sets: stateful_set_store,
            upgrade_pod_timeout: std::time::Duration::from_secs(args.upgrade_pod_timeout_seconds),
        },
        Some(identity.clone()),
        metrics.clone(),
    );
    let job_operations = child_operations(&children);
    let (caches, watch_tasks) = watchers::start(
        &client,
        args.namespace.as_deref(),
        slot.clone(),
        metrics.clone(),
        watchers::Routing {
            cluster_writer,
            restore_writer,
            stateful_set_writer,
            job_operations: job_operations.clone(),
            restore_failures: KubeRestoreWriter::new(client.clone(), Some(identity.clone())),
        },
    );
    tokio::spawn({
        let caches = caches.clone();
        let readiness = readiness.clone();
        async move {
            if caches.synced().await {
                tracing::info!("watch caches synced");
                readiness.caches_synced();
            }
        }
    });

    let effects = kube_effects(
        actor_client,
        caches.clusters.clone(),
        Some(identity.clone()),
        metrics.clone(),
    );
    let lease = LeaseSettings {
        namespace: args
            .pod_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string()),
        name: args.lease_name.clone(),
        identity,
        duration: Duration::from_secs(args.lease_duration_seconds),
    };
    let leadership = Leadership {
        client: client.clone(),
        caches,
        slot,
        effects,
        children,
        job_operations,
        readiness,
        metrics,
        reader: JobReader::new(client),
    };
    leadership.run(&lease, shutdown.clone()).await;

    for task in watch_tasks {
        task.abort();
    }
    if let Ok(Err(error)) = http.await {
        tracing::warn!(%error, "HTTP server ended with an error");
    }
    tracing::info!("operator stopped");
    Ok(())
}

struct Leadership {
    client: kube::Client,
    caches: Caches,
    slot: Arc<ManagerSlot>,
    effects: openbao_actors::effects::ClusterEffects,
    children: ChildSpecs,
    job_operations: HashSet<Operation>,
    readiness: Arc<Readiness>,
    metrics: Arc<OperatorMetrics>,
    reader: JobReader,
}

impl Leadership {
    /// Readiness and `/metrics` follow the Lease: a follower exports no per-cluster series.
    fn set_leading(&self, leading: bool) {
        self.readiness.leadership(leading);
        self.metrics.set_leader(leading);
    }

    /// Competes for the Lease until shutdown; leads while holding it.
    async fn run(&self, lease: &LeaseSettings, mut shutdown: watch::Receiver<bool>) {
        'elections: while !*shutdown.borrow() {
            let mut election = match leader::start(self.client.clone(), lease).await {
                Ok(election) => election,
                Err(error) => {
                    tracing::warn!(lease = %lease.name, namespace = %lease.namespace, %error,
                        "cannot reach the leader-election Lease; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(ELECTION_RETRY) => continue 'elections,
                        _ = shutdown.changed() => break 'elections,
                    }
                }
            };
            let leading = *election.leading.borrow_and_update();
            self.set_leading(leading);
            tracing::info!(identity = %lease.identity, lease = %lease.name, "competing for leadership");
            // The manager may hold the Lease before its first change is seen (a restarted replica whose identity
            // still holds it): lead now, or no later change would ever start the actors.
            if leading {
                self.lead().await;
            }
            loop {
                tokio::select! {
                    _ = shutdown.changed() => {
                        self.step_down().await;
                        drop(election.leading);
                        // Dropping the receiver makes the lease task release the Lease and end.
                        let _ = tokio::time::timeout(STOP_TIMEOUT, election.task).await;
                        break 'elections;
                    }
                    changed = election.leading.changed() => {
                        if changed.is_err() {
                            tracing::warn!("leader election stopped; stepping down and starting over");
                            self.step_down().await;
                            self.set_leading(false);
                            continue 'elections;
                        }
                        let leading = *election.leading.borrow_and_update();
                        self.set_leading(leading);
                        if leading {
                            self.lead().await;
                        } else {
                            tracing::warn!("leadership lost; stopping all actors");
                            self.step_down().await;
                        }
                    }
                }
            }
        }
    }

    async fn lead(&self) {
        if self.slot.is_running() {
            return;
        }
        tracing::debug!("leading: waiting for the watch caches");
        self.caches.synced().await;
        tracing::debug!("leading: starting the cluster manager");
        let args = ManagerArgs {
            effects: self.effects.clone(),
            children: self.children.clone(),
        };
        let manager = match Actor::spawn(None, ClusterManager, args).await {
            Ok((manager, _)) => manager,
            Err(error) => {
                tracing::error!(%error, "cannot start the cluster manager");
                return;
            }
        };
        self.slot.set(Some(manager));
        tracing::info!("leading: cluster actors started");
        // Replay what the caches hold; events that arrive meanwhile are idempotent repeats.
        for cluster in self.caches.clusters.state() {
            self.slot
                .send(ManagerMsg::ClusterObserved(Arc::new((*cluster).clone())));
        }
        for job in self.caches.jobs.state() {
            if let Some(message) =
                watchers::job_message(&self.reader, &job, false, &self.job_operations).await
            {
                self.slot.send(message);
            }
        }
    }

    async fn step_down(&self) {
        if let Some(manager) = self.slot.set(None) {
            let _ = manager
                .stop_and_wait(Some("leadership ended".into()), Some(STOP_TIMEOUT))
                .await;
            tracing::info!("cluster actors stopped");
        }
    }
}

async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// The host name (a Pod's name in Kubernetes), else a per-process name.
fn default_identity() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|name| name.trim().to_string())
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| format!("openbao-operator-{}", std::process::id()))
}

//! `ClusterManager`: routes watch events to one supervisor per OpenBaoCluster.
//!
//! It spawns a supervisor on a cluster's first sighting, stops it when the cluster is deleted (and drops the
//! cluster's metric series), and restarts a supervisor that failed, with exponential backoff: ractor has no
//! restart strategy. Supervisors are unnamed: ractor names are process-global, and a restarted supervisor must
//! never collide with the one it replaces.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openbao_crds::{OpenBaoCluster, Operation};
#[cfg(feature = "test-util")]
use ractor::RpcReplyPort;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::backoff::restart_delay;
use crate::child::ChildSpecs;
use crate::cluster_key::ClusterKey;
use crate::effects::{ClusterEffects, JobObservation};
use crate::metrics::{ActorKind, MailboxGauge};
use crate::supervisor::{ClusterSupervisor, SupervisorArgs, SupervisorMsg};

const RESTART_BASE: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(300);
/// A supervisor that ran this long before failing starts a fresh backoff sequence.
const STABLE_AFTER: Duration = Duration::from_secs(600);

pub enum ManagerMsg {
    ClusterObserved(Arc<OpenBaoCluster>),
    ClusterDeleted(ClusterKey),
    /// A Job of this operator, labelled with its cluster and `operation`.
    JobObserved {
        cluster: ClusterKey,
        operation: Operation,
        job: JobObservation,
    },
    /// An `OpenBaoRestore` naming this cluster changed.
    RestoresChanged(ClusterKey),
    /// The cluster's supervisor, for tests that inspect it.
    #[cfg(feature = "test-util")]
    SupervisorOf {
        cluster: ClusterKey,
        reply: RpcReplyPort<Option<ActorRef<SupervisorMsg>>>,
    },
    RestartSupervisor(ClusterKey),
}

pub struct ManagerArgs {
    pub effects: ClusterEffects,
    /// The children every cluster supervisor runs.
    pub children: ChildSpecs,
}

struct Running {
    actor: ActorRef<SupervisorMsg>,
    mailbox: MailboxGauge,
    started: Instant,
}

struct Entry {
    latest: Arc<OpenBaoCluster>,
    supervisor: Option<Running>,
    failures_in_a_row: u32,
}

pub struct ManagerState {
    effects: ClusterEffects,
    children: ChildSpecs,
    clusters: HashMap<ClusterKey, Entry>,
}

pub struct ClusterManager;

impl ManagerState {
    fn key_of(&self, cell: &ActorCell) -> Option<ClusterKey> {
        self.clusters.iter().find_map(|(key, entry)| {
            entry
                .supervisor
                .as_ref()
                .filter(|running| running.actor.get_id() == cell.get_id())
                .map(|_| key.clone())
        })
    }

    fn forward(&self, key: &ClusterKey, message: SupervisorMsg) {
        if let Some(running) = self
            .clusters
            .get(key)
            .and_then(|entry| entry.supervisor.as_ref())
        {
            running.mailbox.sent();
            if running.actor.cast(message).is_err() {
                running.mailbox.handled();
            }
        }
    }

    async fn spawn(&mut self, myself: &ActorRef<ManagerMsg>, key: &ClusterKey) {
        let Some(entry) = self.clusters.get_mut(key) else {
            return;
        };
        if entry.supervisor.is_some() {
            return;
        }
        let mailbox = MailboxGauge::default();
        let args = SupervisorArgs {
            key: key.clone(),
            cluster: entry.latest.clone(),
            effects: self.effects.clone(),
            children: self.children.clone(),
            mailbox: mailbox.clone(),
        };
        // Before the spawn: a first start that fails is counted as a restart from 0.
        self.effects
            .metrics
            .actor_started(key, ActorKind::Supervisor, mailbox.clone());
        match Actor::spawn_linked(None, ClusterSupervisor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                entry.supervisor = Some(Running {
                    actor,
                    mailbox,
                    started: Instant::now(),
                });
            }
            Err(error) => {
                tracing::warn!(cluster = %key, %error, "cluster supervisor failed to start");
                self.actor_stopped(key);
                self.schedule_restart(myself, key, false);
            }
        }
    }

    /// The cluster's supervisor ended, and its children with it: none of their gauges is read any more.
    fn actor_stopped(&self, key: &ClusterKey) {
        let metrics = &self.effects.metrics;
        metrics.actor_stopped(key, ActorKind::Supervisor);
        for spec in self.children.iter() {
            metrics.actor_stopped(key, ActorKind::Child(spec.operation()));
        }
    }

    fn schedule_restart(
        &mut self,
        myself: &ActorRef<ManagerMsg>,
        key: &ClusterKey,
        ran_stably: bool,
    ) {
        let Some(entry) = self.clusters.get_mut(key) else {
            return;
        };
        entry.failures_in_a_row = if ran_stably {
            1
        } else {
            entry.failures_in_a_row + 1
        };
        self.effects
            .metrics
            .actor_restarted(key, ActorKind::Supervisor);
        let delay = restart_delay(entry.failures_in_a_row, RESTART_BASE, RESTART_MAX);
        let key = key.clone();
        if delay.is_zero() {
            let _ = myself.cast(ManagerMsg::RestartSupervisor(key));
        } else {
            myself.send_after(delay, move || ManagerMsg::RestartSupervisor(key));
        }
    }
}

impl Actor for ClusterManager {
    type Msg = ManagerMsg;
    type State = ManagerState;
    type Arguments = ManagerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ManagerArgs,
    ) -> Result<ManagerState, ActorProcessingErr> {
        Ok(ManagerState {
            effects: args.effects,
            children: args.children,
            clusters: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ManagerMsg,
        state: &mut ManagerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ManagerMsg::ClusterObserved(cluster) => {
                let Some(key) = ClusterKey::of(&cluster) else {
                    tracing::warn!("ignoring an OpenBaoCluster without name or namespace");
                    return Ok(());
                };
                match state.clusters.get_mut(&key) {
                    Some(entry) => {
                        entry.latest = cluster.clone();
                        state.forward(&key, SupervisorMsg::ClusterObserved(cluster));
                    }
                    None => {
                        state.clusters.insert(
                            key.clone(),
                            Entry {
                                latest: cluster,
                                supervisor: None,
                                failures_in_a_row: 0,
                            },
                        );
                        state.spawn(&myself, &key).await;
                    }
                }
            }
            ManagerMsg::ClusterDeleted(key) => {
                if let Some(entry) = state.clusters.remove(&key) {
                    match entry.supervisor {
                        // It removes the series itself once its last handler ran.
                        Some(running) => {
                            running.mailbox.sent();
                            if running.actor.cast(SupervisorMsg::Retire).is_err() {
                                state.effects.metrics.remove_cluster(&key);
                            }
                        }
                        None => state.effects.metrics.remove_cluster(&key),
                    }
                    tracing::info!(cluster = %key, "cluster deleted; supervisor stopped");
                }
            }
            ManagerMsg::JobObserved {
                cluster,
                operation,
                job,
            } => {
                state.forward(&cluster, SupervisorMsg::JobObserved { operation, job });
            }
            ManagerMsg::RestoresChanged(cluster) => {
                state.forward(&cluster, SupervisorMsg::RestoresChanged);
            }
            #[cfg(feature = "test-util")]
            ManagerMsg::SupervisorOf { cluster, reply } => {
                let supervisor = state
                    .clusters
                    .get(&cluster)
                    .and_then(|entry| entry.supervisor.as_ref())
                    .map(|running| running.actor.clone());
                let _ = reply.send(supervisor);
            }
            ManagerMsg::RestartSupervisor(key) => state.spawn(&myself, &key).await,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut ManagerState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, reason) = match &event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, error.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.clone().unwrap_or_else(|| "stopped".into()))
            }
            _ => return Ok(()),
        };
        // A deleted cluster's supervisor is no longer in the map: its end is expected.
        let Some(key) = state.key_of(cell) else {
            return Ok(());
        };
        let ran_stably = state
            .clusters
            .get_mut(&key)
            .and_then(|entry| entry.supervisor.take())
            .is_some_and(|running| running.started.elapsed() >= STABLE_AFTER);
        tracing::warn!(cluster = %key, %reason, "cluster supervisor ended; restarting it");
        state.actor_stopped(&key);
        state.schedule_restart(&myself, &key, ran_stably);
        Ok(())
    }
}

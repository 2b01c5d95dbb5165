//! Starting, inspecting and disturbing a real OpenBao raft cluster (1 or 3 nodes) on 127.0.0.1.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::OpenBaoError;
use super::api::{Api, ApiResponse, Health};
use super::config::NodeConfig;
use crate::ports::free_port;
use crate::process::ServerProcess;
use crate::scratch::ScratchDir;
use crate::tools::{Tool, locate};
use crate::wait::poll_until;

/// Knobs for [`OpenBaoCluster::start`]; `Default` suits almost every test.
#[derive(Debug, Clone)]
pub struct OpenBaoOptions {
    /// Deadline for every wait: start-up, elections, unseal, joins. Generous because tests share two cores.
    pub timeout: Duration,
    /// OpenBao's `log_level` (`trace`, `debug`, `info`, `warn`, `error`).
    pub log_level: String,
    /// Mount KV version 2 at `secret/` during start-up.
    pub enable_kv: bool,
    /// The release every node starts on.
    pub release: Release,
    /// `seal "static"` with a 32-byte key file: every node unseals itself on each start (and the cluster is
    /// initialized with recovery keys). Otherwise Shamir with one key share, unsealed by the harness.
    pub static_seal: bool,
}

/// An installed OpenBao release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// The suite's OpenBao (2.7.2).
    #[default]
    Current,
    /// 2.6.2, where upgrade tests start.
    V2_6_2,
}

impl Release {
    pub(super) fn binary(self) -> Result<PathBuf, OpenBaoError> {
        Ok(locate(match self {
            Self::Current => Tool::OpenBao,
            Self::V2_6_2 => Tool::OpenBao262,
        })?)
    }
}

impl Default for OpenBaoOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            log_level: "info".to_string(),
            enable_kv: true,
            release: Release::Current,
            static_seal: false,
        }
    }
}

/// A real OpenBao cluster with raft storage: initialized (1 key share, threshold 1), every node unsealed,
/// a leader elected. Each node has its own free ports and a directory (data, config, `server.log`) inside
/// the cluster's temp dir. Dropping the cluster kills every node; on a test failure the logs are printed and
/// the temp dir is kept.
///
/// ```no_run
/// # async fn demo() -> Result<(), openbao_test_harness::OpenBaoError> {
/// use openbao_test_harness::{OpenBaoCluster, OpenBaoOptions};
/// let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default()).await?;
/// cluster.write_secret("app/db", &serde_json::json!({"password": "x"})).await?;
/// let snapshot = cluster.snapshot().await?; // gzip'd tar from the leader
/// # Ok(()) }
/// ```
pub struct OpenBaoCluster {
    pub(super) nodes: Vec<Node>,
    pub(super) api: Api,
    root_token: String,
    unseal_key: String,
    pub(super) options: OpenBaoOptions,
    bao: PathBuf,
    // Declared last: dropped after the nodes' processes are dead.
    dir: ScratchDir,
}

pub(super) struct Node {
    index: usize,
    api_port: u16,
    cluster_port: u16,
    dir: PathBuf,
    /// The `bao` binary this node runs (a rolling upgrade changes it node by node).
    pub(super) bao: PathBuf,
    pub(super) process: Option<ServerProcess>,
}

impl Node {
    fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    fn node_id(&self) -> String {
        format!("node-{}", self.index)
    }
}

impl fmt::Debug for OpenBaoCluster {
    // By hand: the root token and unseal key must never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenBaoCluster")
            .field("nodes", &self.node_addrs())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl OpenBaoCluster {
    /// Starts `nodes` servers (1 or 3 in practice), initializes and unseals them, joins followers to the
    /// first node, and returns once a leader is active and every node is an unsealed raft voter.
    pub async fn start(nodes: usize, options: OpenBaoOptions) -> Result<Self, OpenBaoError> {
        crate::install_crypto_provider();
        if nodes == 0 {
            return Err(OpenBaoError::NoNodes);
        }
        let bao = options.release.binary()?;
        let dir = ScratchDir::new("openbao-cluster-").map_err(|source| OpenBaoError::Io {
            what: "creating the cluster temp dir".into(),
            source,
        })?;
        let mut cluster = Self {
            nodes: Vec::with_capacity(nodes),
            api: Api::new()?,
            root_token: String::new(),
            unseal_key: String::new(),
            options,
            bao,
            dir,
        };
        for index in 0..nodes {
            cluster.add_node(index)?;
        }
        cluster.initialize().await?;
        cluster.unseal(0).await?;
        cluster.wait_for_leader().await?;
        if nodes > 1 {
            cluster.speed_up_voter_promotion().await?;
            for index in 1..nodes {
                cluster.join(index).await?;
            }
        }
        cluster.wait_healthy().await?;
        if cluster.options.enable_kv {
            cluster.enable_kv_v2().await?;
        }
        Ok(cluster)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// `http://127.0.0.1:<port>` of node `index` (its API listener).
    pub fn node_addr(&self, index: usize) -> String {
        self.nodes[index].addr()
    }

    pub fn node_addrs(&self) -> Vec<String> {
        self.nodes.iter().map(Node::addr).collect()
    }

    /// The raft node id of node `index` (`node-<index>`).
    pub fn node_id(&self, index: usize) -> String {
        self.nodes[index].node_id()
    }

    /// Root token, for test set-up only: the code under test must use scoped tokens or JWT logins.
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// The single unseal key (base64), e.g. to unseal after a `snapshot-force` restore from this cluster.
    pub fn unseal_key(&self) -> &str {
        &self.unseal_key
    }

    /// The cluster's temp dir; node `i` keeps data, config and `server.log` in `node-<i>/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where node `index` writes its output.
    pub fn log_path(&self, index: usize) -> PathBuf {
        self.nodes[index].dir.join("server.log")
    }

    /// Whether node `index` has a running process (it may still be sealed).
    pub fn is_running(&self, index: usize) -> bool {
        self.nodes[index]
            .process
            .as_ref()
            .is_some_and(ServerProcess::is_running)
    }

    /// `sys/health` of node `index`.
    pub async fn health(&self, index: usize) -> Result<Health, OpenBaoError> {
        self.api.health(&self.nodes[index].addr()).await
    }

    /// Index of the active node, found by asking every running node for its own health.
    pub async fn leader_index(&self) -> Result<usize, OpenBaoError> {
        poll_until("an active node", self.options.timeout, || async {
            self.find_active()
                .await
                .ok_or_else(|| "no node reports itself active".to_string())
        })
        .await
        .map_err(OpenBaoError::from)
    }

    /// `http://127.0.0.1:<port>` of the active node.
    pub async fn leader_addr(&self) -> Result<String, OpenBaoError> {
        Ok(self.node_addr(self.leader_index().await?))
    }

    /// The deadline used for every wait (from [`OpenBaoOptions::timeout`]).
    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// Any API call against the active node (path relative to `/v1/`). `token: None` sends no token; a
    /// non-2xx answer is returned, not an error, so tests can assert on refusals.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<ApiResponse, OpenBaoError> {
        let leader = self.leader_addr().await?;
        self.api.call(method, &leader, path, token, body).await
    }

    /// Like [`OpenBaoCluster::call`] with the root token; a non-2xx answer is an error.
    pub async fn call_as_root(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ApiResponse, OpenBaoError> {
        let leader = self.leader_addr().await?;
        self.api
            .call_ok(method, &leader, path, Some(&self.root_token), body)
            .await
    }

    /// Waits until every running node is unsealed, exactly one is active, and (with several nodes) the
    /// raft configuration lists every running node as a voter.
    pub async fn wait_healthy(&self) -> Result<(), OpenBaoError> {
        poll_until("a healthy cluster", self.options.timeout, || async {
            self.describe_unhealthiness().await.map_or(Ok(()), Err)
        })
        .await
        .map_err(OpenBaoError::from)
    }

    fn add_node(&mut self, index: usize) -> Result<(), OpenBaoError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| OpenBaoError::Io { what, source }
        };
        let dir = self.dir.path().join(format!("node-{index}"));
        std::fs::create_dir_all(dir.join("data")).map_err(io("creating a node dir"))?;
        let node = Node {
            index,
            api_port: free_port().map_err(io("finding a free port"))?,
            cluster_port: free_port().map_err(io("finding a free port"))?,
            dir,
            bao: self.bao.clone(),
            process: None,
        };
        let data_dir = node.dir.join("data");
        let node_id = node.node_id();
        let seal_key = self.dir.path().join("static-seal.key");
        if self.options.static_seal && !seal_key.exists() {
            let mut key = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
            std::fs::write(&seal_key, key).map_err(io("writing the static seal key"))?;
        }
        let config = NodeConfig {
            node_id: &node_id,
            data_dir: &data_dir,
            api_port: node.api_port,
            cluster_port: node.cluster_port,
            log_level: &self.options.log_level,
            static_seal_key: self.options.static_seal.then_some(seal_key.as_path()),
        };
        std::fs::write(node.dir.join("config.hcl"), config.render())
            .map_err(io("writing a node config"))?;
        self.nodes.push(node);
        self.spawn_node(index)
    }

    pub(super) fn spawn_node(&mut self, index: usize) -> Result<(), OpenBaoError> {
        let node = &mut self.nodes[index];
        let mut command = Command::new(&node.bao);
        command
            .arg("server")
            .arg(format!("-config={}", node.dir.join("config.hcl").display()))
            .current_dir(&node.dir)
            // Keep the CLI away from the developer's ~/.vault-token and environment.
            .env("HOME", &node.dir)
            .env_remove("BAO_ADDR")
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_TOKEN");
        let name = format!("openbao {}", node.node_id());
        node.process = Some(ServerProcess::spawn(
            &name,
            command,
            &node.dir.join("server.log"),
        )?);
        Ok(())
    }

    /// Fails fast with the log tail when a node's process died instead of letting a wait time out.
    pub(super) fn check_alive(&self, index: usize) -> Result<(), String> {
        let node = &self.nodes[index];
        let Some(process) = &node.process else {
            return Err(format!("node {index} is stopped"));
        };
        if process.is_running() {
            Ok(())
        } else {
            Err(format!(
                "node {index} exited; log tail:\n{}",
                process.log_tail(30)
            ))
        }
    }

    pub(super) async fn wait_for_api(&self, index: usize) -> Result<Health, OpenBaoError> {
        let addr = self.node_addr(index);
        poll_until(
            &format!("node {index} API"),
            self.options.timeout,
            || async {
                self.check_alive(index)?;
                self.api.health(&addr).await.map_err(|err| err.to_string())
            },
        )
        .await
        .map_err(OpenBaoError::from)
    }

    pub(super) async fn wait_for_node(
        &self,
        index: usize,
        state: &str,
        reached: impl Fn(&Health) -> bool,
    ) -> Result<(), OpenBaoError> {
        let addr = self.node_addr(index);
        poll_until(
            &format!("node {index} {state}"),
            self.options.timeout,
            || async {
                self.check_alive(index)?;
                match self.api.health(&addr).await {
                    Ok(health) if reached(&health) => Ok(()),
                    Ok(health) => Err(format!("{health:?}")),
                    Err(err) => Err(err.to_string()),
                }
            },
        )
        .await
        .map_err(OpenBaoError::from)
    }

    async fn initialize(&mut self) -> Result<(), OpenBaoError> {
        self.wait_for_api(0).await?;
        let response = self
            .api
            .call_ok(
                Method::PUT,
                &self.node_addr(0),
                "sys/init",
                None,
                Some(&if self.options.static_seal {
                    json!({ "recovery_shares": 1, "recovery_threshold": 1 })
                } else {
                    json!({ "secret_shares": 1, "secret_threshold": 1 })
                }),
            )
            .await?;
        let body = response.json();
        let unexpected = |field: &str| OpenBaoError::Unexpected {
            what: "sys/init".into(),
            detail: format!("no {field} in the answer"),
        };
        // A static seal hands out recovery keys instead; nobody unseals with them.
        let keys = if self.options.static_seal {
            "recovery_keys_base64"
        } else {
            "keys_base64"
        };
        self.unseal_key = body[keys][0]
            .as_str()
            .ok_or_else(|| unexpected(keys))?
            .to_string();
        self.root_token = body["root_token"]
            .as_str()
            .ok_or_else(|| unexpected("root_token"))?
            .to_string();
        Ok(())
    }

    async fn wait_for_leader(&self) -> Result<(), OpenBaoError> {
        self.leader_index().await.map(|_| ())
    }

    /// Autopilot promotes a joined node to voter only after `server_stabilization_time` (10 s by default);
    /// 1 s keeps 3-node start-up short without changing anything the tests look at.
    async fn speed_up_voter_promotion(&self) -> Result<(), OpenBaoError> {
        self.call_as_root(
            Method::POST,
            "sys/storage/raft/autopilot/configuration",
            Some(&json!({ "server_stabilization_time": "1s" })),
        )
        .await
        .map(|_| ())
    }

    async fn join(&self, index: usize) -> Result<(), OpenBaoError> {
        self.wait_for_api(index).await?;
        let addr = self.node_addr(index);
        let leader = self.leader_addr().await?;
        // The leader may refuse the raft challenge for a moment right after its election.
        poll_until(
            &format!("node {index} joining the cluster"),
            self.options.timeout,
            || async {
                self.check_alive(index)?;
                let body = json!({ "leader_api_addr": leader });
                match self
                    .api
                    .call_ok(
                        Method::PUT,
                        &addr,
                        "sys/storage/raft/join",
                        None,
                        Some(&body),
                    )
                    .await
                {
                    Ok(response) if response.json()["joined"] == json!(true) => Ok(()),
                    Ok(response) => Err(format!("answer: {}", response.error_message())),
                    Err(err) => Err(err.to_string()),
                }
            },
        )
        .await?;
        self.unseal(index).await
    }

    pub(super) async fn find_active(&self) -> Option<usize> {
        for node in &self.nodes {
            if node.process.is_none() {
                continue;
            }
            if let Ok(health) = self.api.health(&node.addr()).await
                && health.is_active()
            {
                return Some(node.index);
            }
        }
        None
    }

    async fn describe_unhealthiness(&self) -> Option<String> {
        let mut active = Vec::new();
        let mut running_ids = Vec::new();
        for node in self.nodes.iter().filter(|node| node.process.is_some()) {
            if let Err(dead) = self.check_alive(node.index) {
                return Some(dead);
            }
            match self.api.health(&node.addr()).await {
                Ok(health) if !health.is_unsealed() => {
                    return Some(format!("node {} is {health:?}", node.index));
                }
                Ok(health) if health.is_active() => active.push(node.index),
                Ok(_) => {}
                Err(err) => return Some(err.to_string()),
            }
            running_ids.push(node.node_id());
        }
        if active.len() != 1 {
            return Some(format!("active nodes: {active:?}"));
        }
        if self.nodes.len() == 1 {
            return None;
        }
        let leader = self.node_addr(active[0]);
        let configuration = match self
            .api
            .call_ok(
                Method::GET,
                &leader,
                "sys/storage/raft/configuration",
                Some(&self.root_token),
                None,
            )
            .await
        {
            Ok(response) => response.json(),
            Err(err) => return Some(err.to_string()),
        };
        let servers = configuration["data"]["config"]["servers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let voters: Vec<&str> = servers
            .iter()
            .filter(|server| server["voter"] == json!(true))
            .filter_map(|server| server["node_id"].as_str())
            .collect();
        let missing: Vec<&String> = running_ids
            .iter()
            .filter(|id| !voters.contains(&id.as_str()))
            .collect();
        if missing.is_empty() {
            None
        } else {
            Some(format!(
                "not yet raft voters: {missing:?} (voters: {voters:?})"
            ))
        }
    }
}

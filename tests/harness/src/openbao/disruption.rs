//! Disturbing a running cluster the way production does: leadership changes, sealed nodes, node stops and
//! restarts.

use reqwest::Method;
use serde_json::json;

use super::api::Health;
use super::{OpenBaoCluster, OpenBaoError};
use crate::wait::poll_until;

/// How long a stopping node gets to leave cleanly before it is killed.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl OpenBaoCluster {
    /// Asks the leader to step down and waits until a node is active again. With several nodes the new
    /// leader is a different node; returns its index.
    pub async fn step_down(&self) -> Result<usize, OpenBaoError> {
        let old = self.leader_index().await?;
        self.api
            .call_ok(
                Method::PUT,
                &self.node_addr(old),
                "sys/step-down",
                Some(self.root_token()),
                None,
            )
            .await?;
        let single = self.nodes.len() == 1;
        poll_until("a new leader after step-down", self.timeout(), || async {
            match self.find_active().await {
                Some(index) if single || index != old => Ok(index),
                Some(index) => Err(format!("node {index} is still active")),
                None => Err("no node is active yet".to_string()),
            }
        })
        .await
        .map_err(OpenBaoError::from)
    }

    /// Seals node `index` and waits until it reports sealed. OpenBao seals only the active node through
    /// the API (a standby answers 500), so a standby is restarted instead, which leaves it sealed just like a
    /// restarted pod.
    pub async fn seal(&mut self, index: usize) -> Result<(), OpenBaoError> {
        let addr = self.node_addr(index);
        if self.api.health(&addr).await?.is_active() {
            self.api
                .call_ok(
                    Method::PUT,
                    &addr,
                    "sys/seal",
                    Some(self.root_token()),
                    None,
                )
                .await?;
        } else {
            self.stop_node(index);
            self.spawn_node(index)?;
        }
        self.wait_for_node(index, "sealed", |health| {
            health.initialized && health.sealed
        })
        .await
    }

    /// Unseals node `index` with the cluster's key (a statically sealed node unseals itself) and waits until
    /// it is unsealed.
    pub async fn unseal(&self, index: usize) -> Result<(), OpenBaoError> {
        if self.options.static_seal {
            self.wait_for_api(index).await?;
            return self
                .wait_for_node(index, "unsealed", Health::is_unsealed)
                .await;
        }
        self.unseal_with_key(index, self.unseal_key()).await
    }

    /// Unseals node `index` with another key, e.g. the source cluster's key after a `snapshot-force`
    /// restore brought that cluster's keyring along.
    pub async fn unseal_with_key(&self, index: usize, key: &str) -> Result<(), OpenBaoError> {
        self.wait_for_api(index).await?;
        let addr = self.node_addr(index);
        self.api
            .call_ok(
                Method::PUT,
                &addr,
                "sys/unseal",
                None,
                Some(&json!({ "key": key })),
            )
            .await?;
        self.wait_for_node(index, "unsealed", Health::is_unsealed)
            .await
    }

    /// Stops node `index` (SIGTERM, then SIGKILL after a grace period). Its data stays for a restart.
    pub fn stop_node(&mut self, index: usize) {
        if let Some(mut process) = self.nodes[index].process.take() {
            process.terminate(STOP_GRACE);
        }
    }

    /// Replaces node `index` with one running `release` on the same ports and data (a Pod of a rolling upgrade),
    /// unseals it and waits until the cluster is healthy.
    pub async fn restart_node_on(
        &mut self,
        index: usize,
        release: super::cluster::Release,
    ) -> Result<(), OpenBaoError> {
        self.stop_node(index);
        self.nodes[index].bao = release.binary()?;
        self.spawn_node(index)?;
        self.unseal(index).await?;
        self.wait_healthy().await
    }

    /// Starts a stopped node again on the same ports and data, unseals it and waits until the cluster is
    /// healthy.
    pub async fn restart_node(&mut self, index: usize) -> Result<(), OpenBaoError> {
        self.stop_node(index);
        self.spawn_node(index)?;
        self.unseal(index).await?;
        self.wait_healthy().await
    }
}

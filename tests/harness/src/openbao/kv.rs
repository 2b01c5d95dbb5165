//! Data helpers: KV v2 secrets at `secret/` and raft snapshots, all as root (test set-up and assertions).

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{OpenBaoCluster, OpenBaoError};
use crate::wait::poll_until;

/// Where [`OpenBaoCluster::enable_kv_v2`] mounts KV.
pub const KV_MOUNT: &str = "secret";

/// Parallel writes used by [`OpenBaoCluster::write_secrets`].
const BULK_WRITE_CONCURRENCY: usize = 16;

impl OpenBaoCluster {
    /// Mounts KV version 2 at `secret/` (done by `start` unless `OpenBaoOptions::enable_kv` is off) and
    /// waits until the mount accepts requests.
    pub async fn enable_kv_v2(&self) -> Result<(), OpenBaoError> {
        let mounts = self
            .call_as_root(Method::GET, "sys/mounts", None)
            .await?
            .json();
        if mounts["data"].get(format!("{KV_MOUNT}/")).is_none() {
            let body = json!({ "type": "kv", "options": { "version": "2" } });
            self.call_as_root(Method::POST, &format!("sys/mounts/{KV_MOUNT}"), Some(&body))
                .await?;
        }
        // A fresh KV v2 mount answers "upgrading" for a moment before it serves requests.
        let root = self.root_token().to_string();
        poll_until(
            "the KV v2 mount to serve requests",
            self.timeout(),
            || async {
                match self
                    .call(
                        Method::GET,
                        &format!("{KV_MOUNT}/config"),
                        Some(&root),
                        None,
                    )
                    .await
                {
                    Ok(response) if response.status.is_success() => Ok(()),
                    Ok(response) => {
                        Err(format!("{}: {}", response.status, response.error_message()))
                    }
                    Err(err) => Err(err.to_string()),
                }
            },
        )
        .await?;
        Ok(())
    }

    /// Writes `data` (a JSON object) as a new version of `secret/<path>`.
    pub async fn write_secret(&self, path: &str, data: &Value) -> Result<(), OpenBaoError> {
        let body = json!({ "data": data });
        self.call_as_root(
            Method::POST,
            &format!("{KV_MOUNT}/data/{path}"),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// The latest version's data of `secret/<path>`, or `None` when it does not exist (or was deleted).
    pub async fn read_secret(&self, path: &str) -> Result<Option<Value>, OpenBaoError> {
        let root = self.root_token().to_string();
        let response = self
            .call(
                Method::GET,
                &format!("{KV_MOUNT}/data/{path}"),
                Some(&root),
                None,
            )
            .await?;
        match response.status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => Ok(Some(response.json()["data"]["data"].clone())),
            status => Err(OpenBaoError::Api {
                request: format!("GET {KV_MOUNT}/data/{path}"),
                node: "leader".into(),
                status: status.as_u16(),
                message: response.error_message(),
            }),
        }
    }

    /// Deletes `secret/<path>` with all its versions and metadata.
    pub async fn delete_secret(&self, path: &str) -> Result<(), OpenBaoError> {
        self.call_as_root(Method::DELETE, &format!("{KV_MOUNT}/metadata/{path}"), None)
            .await
            .map(|_| ())
    }

    /// Writes `count` secrets `secret/<prefix>/<n>`, each holding `value_bytes` bytes, to give snapshots a
    /// realistic size (2,000 × 1 KiB makes about 3 MB).
    pub async fn write_secrets(
        &self,
        prefix: &str,
        count: usize,
        value_bytes: usize,
    ) -> Result<(), OpenBaoError> {
        let leader = self.leader_addr().await?;
        let value = "x".repeat(value_bytes);
        futures::stream::iter(0..count)
            .map(|n| {
                let body = json!({ "data": { "value": value } });
                let leader = leader.clone();
                async move {
                    self.api
                        .call_ok(
                            Method::POST,
                            &leader,
                            &format!("{KV_MOUNT}/data/{prefix}/{n}"),
                            Some(self.root_token()),
                            Some(&body),
                        )
                        .await
                }
            })
            .buffer_unordered(BULK_WRITE_CONCURRENCY)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    /// A raft snapshot (gzip'd tar) taken from the active node with the root token.
    pub async fn snapshot(&self) -> Result<Bytes, OpenBaoError> {
        let response = self
            .call_as_root(Method::GET, "sys/storage/raft/snapshot", None)
            .await?;
        Ok(response.body)
    }
}

//! OpenBao as a Kubernetes StatefulSet whose Pods are real `bao` processes (the simulator's kubelet runs them):
//! one launcher script per release stands for the image `quay.io/openbao/openbao:<release>`. A Pod finds its
//! ordinal in `HOSTNAME`, listens on ports derived from it (every Pod shares 127.0.0.1), keeps raft data on its
//! claim (which outlives the Pod), joins the others with `retry_join` and unseals itself with a static seal.
//! Someone initializes the cluster once, as in real life: [`OpenBaoWorkload::initialize`].

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::OpenBaoError;
use super::api::{Api, Health};
use super::cluster::Release;
use crate::ports::free_port;
use crate::wait::poll_until;

/// The image the StatefulSet names; the tag selects the release.
pub const IMAGE: &str = "quay.io/openbao/openbao";
/// Where the Pod template mounts its claim.
const DATA_MOUNT: &str = "/openbao/data";

pub struct OpenBaoWorkload {
    pub name: String,
    pub replicas: u32,
    /// API port of ordinal 0; ordinal `i` listens on `port_base + 2 i` (API) and the next port (cluster).
    port_base: u16,
    /// `(image, launcher)` pairs for the simulator's image map.
    launchers: Vec<(String, PathBuf)>,
    api: Api,
    timeout: Duration,
    root_token: Option<String>,
}

/// Ports for `replicas` Pods: a run of free ports (checked one by one, so a busy one moves the whole run).
fn port_run(count: u16) -> Result<u16, std::io::Error> {
    'search: for _ in 0..50 {
        let base = free_port()?;
        if base.checked_add(count).is_none() {
            continue;
        }
        for offset in 1..count {
            if std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_err() {
                continue 'search;
            }
        }
        return Ok(base);
    }
    Err(std::io::Error::other("no run of free ports"))
}

impl OpenBaoWorkload {
    /// Writes the seal key and one launcher per release into `dir`.
    pub fn prepare(dir: &Path, name: &str, replicas: u32) -> Result<Self, OpenBaoError> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| OpenBaoError::Io { what, source }
        };
        let dir = dir.join("openbao-workload");
        std::fs::create_dir_all(&dir).map_err(io("creating the workload dir"))?;
        let seal_key = dir.join("static-seal.key");
        let mut key = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
        std::fs::write(&seal_key, key).map_err(io("writing the seal key"))?;
        let port_base = port_run(u16::try_from(replicas * 2).unwrap_or(u16::MAX))
            .map_err(io("finding free ports"))?;
        let mut launchers = Vec::new();
        for (release, tag) in [(Release::V2_6_2, "2.6.2"), (Release::Current, "2.7.2")] {
            let bao = release.binary()?;
            let launcher_dir = dir.join(format!("openbao-{tag}"));
            std::fs::create_dir_all(&launcher_dir).map_err(io("creating a launcher dir"))?;
            let launcher = launcher_dir.join("bao");
            std::fs::write(
                &launcher,
                launcher_script(&bao, &seal_key, port_base, replicas),
            )
            .map_err(io("writing a launcher"))?;
            std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755))
                .map_err(io("making a launcher executable"))?;
            launchers.push((format!("{IMAGE}:{tag}"), launcher));
        }
        Ok(Self {
            name: name.to_string(),
            replicas,
            port_base,
            launchers,
            api: Api::new()?,
            timeout: Duration::from_secs(120),
            root_token: None,
        })
    }

    /// `(image, executable)` pairs to register with the simulator's kubelet.
    pub fn images(&self) -> &[(String, PathBuf)] {
        &self.launchers
    }

    /// `http://127.0.0.1:<port>` of the Pod with `ordinal`.
    pub fn addr(&self, ordinal: u32) -> String {
        format!(
            "http://127.0.0.1:{}",
            u32::from(self.port_base) + 2 * ordinal
        )
    }

    /// The StatefulSet: `OnDelete` (the OpenBao Helm chart's default), one claim per Pod, `version`'s image.
    pub fn manifest(&self, namespace: &str, version: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {
                "name": self.name, "namespace": namespace,
                "labels": {"app.kubernetes.io/name": "openbao", "app.kubernetes.io/managed-by": "Helm"},
            },
            "spec": {
                "replicas": self.replicas,
                "serviceName": format!("{}-internal", self.name),
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "OnDelete"},
                "selector": {"matchLabels": {"app.kubernetes.io/instance": self.name}},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/instance": self.name}},
                    "spec": {"containers": [{
                        "name": "openbao",
                        "image": format!("{IMAGE}:{version}"),
                        "args": [DATA_MOUNT],
                        "volumeMounts": [{"name": "data", "mountPath": DATA_MOUNT}],
                    }]},
                },
                "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            },
        })
    }

    pub async fn health(&self, ordinal: u32) -> Result<Health, OpenBaoError> {
        self.api.health(&self.addr(ordinal)).await
    }

    /// Initializes the cluster through ordinal 0 (recovery keys: the static seal unseals) and waits until every
    /// Pod is unsealed and one is active. Returns the root token.
    pub async fn initialize(&mut self) -> Result<String, OpenBaoError> {
        let first = self.addr(0);
        let api = &self.api;
        poll_until("ordinal 0 answering sys/health", self.timeout, || async {
            api.health(&first)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await?;
        let response = self
            .api
            .call_ok(
                Method::PUT,
                &first,
                "sys/init",
                None,
                Some(&json!({"recovery_shares": 1, "recovery_threshold": 1})),
            )
            .await?;
        let token = response.json()["root_token"]
            .as_str()
            .ok_or_else(|| OpenBaoError::Unexpected {
                what: "sys/init".into(),
                detail: "no root_token in the answer".into(),
            })?
            .to_string();
        self.root_token = Some(token.clone());
        self.wait_healthy().await?;
        Ok(token)
    }

    /// Every Pod answers unsealed and exactly one is active.
    pub async fn wait_healthy(&self) -> Result<(), OpenBaoError> {
        poll_until(
            "every OpenBao Pod unsealed, one active",
            self.timeout,
            || async {
                let mut active = 0;
                for ordinal in 0..self.replicas {
                    let health = self
                        .health(ordinal)
                        .await
                        .map_err(|e| format!("ordinal {ordinal}: {e}"))?;
                    if !health.is_unsealed() {
                        return Err(format!("ordinal {ordinal} is sealed or uninitialized"));
                    }
                    active += usize::from(health.is_active());
                }
                if active == 1 {
                    Ok(())
                } else {
                    Err(format!("{active} active nodes"))
                }
            },
        )
        .await
        .map_err(Into::into)
    }
}

/// The Pod's entrypoint: config from the ordinal, then `exec bao server`.
fn launcher_script(bao: &Path, seal_key: &Path, port_base: u16, replicas: u32) -> String {
    let joins: String = (0..replicas)
        .map(|ordinal| {
            format!(
                "retry_join {{ leader_api_addr = \"http://127.0.0.1:{}\" }}\n",
                u32::from(port_base) + 2 * ordinal
            )
        })
        .collect();
    format!(
        r#"#!/bin/sh
set -eu
data="$1"
ordinal="${{HOSTNAME##*-}}"
api=$(({port_base} + 2 * ordinal))
cluster=$((api + 1))
mkdir -p "$data/raft"
cat > "$data/config.hcl" <<HCL
ui = false
storage "raft" {{
  path = "$data/raft"
  node_id = "$HOSTNAME"
  performance_multiplier = 1
{joins}}}
listener "tcp" {{
  address = "127.0.0.1:$api"
  cluster_address = "127.0.0.1:$cluster"
  tls_disable = true
}}
seal "static" {{
  current_key_id = "k1"
  current_key = "file://{seal_key}"
}}
api_addr = "http://127.0.0.1:$api"
cluster_addr = "https://127.0.0.1:$cluster"
HCL
HOME="$data" exec '{bao}' server -config "$data/config.hcl"
"#,
        bao = bao.display(),
        seal_key = seal_key.display(),
    )
}

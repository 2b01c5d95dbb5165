//! OpenBao as a Kubernetes StatefulSet whose Pods are real `bao` processes (the simulator's kubelet runs them):
//! one launcher script per release stands for the image `quay.io/openbao/openbao:<release>`. As in a real cluster,
//! each Pod has its own IP (the simulator gives a StatefulSet's Pods `127.A.B.(ordinal + 1)`, one /24 per
//! StatefulSet) and reads it from `POD_IP` (downward API `status.podIP`): it listens on `$POD_IP:8200` (API) and
//! `$POD_IP:8201` (cluster), keeps raft data on its claim (which outlives the Pod), joins its peers (same /24) with
//! `retry_join` and unseals itself with a static seal. The /24 exists only once the StatefulSet does, so a test reads
//! `status.podIP` of `<name>-0` and hands it to [`OpenBaoWorkload::locate`] before using [`OpenBaoWorkload::addr`].
//! Someone initializes the cluster once, as in real life: [`OpenBaoWorkload::initialize`].

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::OpenBaoError;
use super::api::{Api, Health};
use super::auth::{JwtAuthSetup, configure_jwt_auth_at};
use super::cluster::Release;
use crate::wait::poll_until;

/// The image the StatefulSet names; the tag selects the release.
pub const IMAGE: &str = "quay.io/openbao/openbao";
/// The releases [`OpenBaoWorkload::prepare`] writes a launcher for, by image tag.
const LAUNCHED: [(Release, &str); 2] = [(Release::V2_6_2, "2.6.2"), (Release::Current, "2.7.2")];
/// The image tags (versions) a StatefulSet of this workload can run, oldest first.
pub const RELEASES: [&str; 2] = [LAUNCHED[0].1, LAUNCHED[1].1];
/// Where the Pod template mounts its claim.
const DATA_MOUNT: &str = "/openbao/data";
/// Every Pod's API port, on its own IP.
pub const API_PORT: u16 = 8200;
/// Every Pod's cluster port, on its own IP.
pub const CLUSTER_PORT: u16 = 8201;

pub struct OpenBaoWorkload {
    pub name: String,
    pub replicas: u32,
    /// `127.A.B`, the /24 of the StatefulSet's Pods (ordinal `i` is `127.A.B.(i + 1)`); set by [`Self::locate`].
    prefix: Option<String>,
    /// `(image, launcher)` pairs for the simulator's image map.
    launchers: Vec<(String, PathBuf)>,
    api: Api,
    timeout: Duration,
    root_token: Option<String>,
}

/// The `127.A.B` of ordinal 0's IP `127.A.B.1`.
fn prefix_of(pod0_ip: &str) -> Result<String, String> {
    let ip: Ipv4Addr = pod0_ip
        .parse()
        .map_err(|_| format!("{pod0_ip:?} is not an IPv4 address"))?;
    let [a, b, c, d] = ip.octets();
    if d != 1 {
        return Err(format!(
            "{pod0_ip} cannot be ordinal 0's IP: a StatefulSet's ordinal i has 127.A.B.(i + 1)"
        ));
    }
    Ok(format!("{a}.{b}.{c}"))
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
        let mut launchers = Vec::new();
        for (release, tag) in LAUNCHED {
            let bao = release.binary()?;
            let launcher_dir = dir.join(format!("openbao-{tag}"));
            std::fs::create_dir_all(&launcher_dir).map_err(io("creating a launcher dir"))?;
            let launcher = launcher_dir.join("bao");
            std::fs::write(&launcher, launcher_script(&bao, &seal_key, replicas))
                .map_err(io("writing a launcher"))?;
            std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755))
                .map_err(io("making a launcher executable"))?;
            launchers.push((format!("{IMAGE}:{tag}"), launcher));
        }
        Ok(Self {
            name: name.to_string(),
            replicas,
            prefix: None,
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

    /// Where the StatefulSet's Pods are: `pod0_ip` is `status.podIP` of `<name>-0` (`127.A.B.1`); ordinal `i` is
    /// then at `127.A.B.(i + 1)`. Call it once the StatefulSet exists and ordinal 0 has an IP.
    ///
    /// # Panics
    /// If `pod0_ip` is not an IPv4 address ending in `.1`.
    pub fn locate(&mut self, pod0_ip: &str) {
        let prefix =
            prefix_of(pod0_ip).unwrap_or_else(|error| panic!("locating {}: {error}", self.name));
        self.prefix = Some(prefix);
    }

    /// `http://127.A.B.(ordinal + 1):8200`, the API of the Pod with `ordinal`.
    ///
    /// # Panics
    /// Before [`Self::locate`]: the Pods' IPs are not known yet.
    pub fn addr(&self, ordinal: u32) -> String {
        let prefix = self.prefix.as_deref().unwrap_or_else(|| {
            panic!(
                "OpenBaoWorkload {:?} not located: call locate() with status.podIP of {}-0 first",
                self.name, self.name
            )
        });
        format!("http://{prefix}.{}:{API_PORT}", ordinal + 1)
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
                        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
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

    /// `127.A.B.0/24`, the Pods' network (for `spec.leaderHosts`).
    pub fn pod_network(&self) -> String {
        let addr = self.addr(0);
        let host = addr
            .trim_start_matches("http://")
            .split(':')
            .next()
            .unwrap_or_default();
        let prefix = host
            .rsplit_once('.')
            .map(|(prefix, _)| prefix)
            .unwrap_or(host);
        format!("{prefix}.0/24")
    }

    /// The address of the active node.
    pub async fn active_addr(&self) -> Result<String, OpenBaoError> {
        for ordinal in 0..self.replicas {
            if self.health(ordinal).await.is_ok_and(|h| h.is_active()) {
                return Ok(self.addr(ordinal));
            }
        }
        Err(OpenBaoError::Unexpected {
            what: "sys/health".into(),
            detail: format!("no active node among {} Pods", self.replicas),
        })
    }

    /// A request with the root token against the active node (after [`Self::initialize`]).
    pub async fn call_as_root(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, OpenBaoError> {
        let token = self.root_token()?;
        let active = self.active_addr().await?;
        let response = self
            .api
            .call_ok(method, &active, path, Some(token), body)
            .await?;
        Ok(response.json())
    }

    /// The same JWT auth as [`super::OpenBaoCluster::configure_jwt_auth`] (policies, mount, key and issuer, roles
    /// `backup` and `restore`), on the active Pod (after [`Self::initialize`]).
    pub async fn configure_jwt_auth(&self, setup: &JwtAuthSetup) -> Result<(), OpenBaoError> {
        let token = self.root_token()?;
        let active = self.active_addr().await?;
        configure_jwt_auth_at(&self.api, &active, token, setup).await
    }

    /// The root token [`Self::initialize`] returned.
    fn root_token(&self) -> Result<&str, OpenBaoError> {
        self.root_token
            .as_deref()
            .ok_or_else(|| OpenBaoError::Unexpected {
                what: format!("OpenBaoWorkload {:?}", self.name),
                detail: "not initialized".into(),
            })
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

/// The Pod's entrypoint: config from the Pod's IP (`POD_IP`), then `exec bao server`. Peers share the Pod's /24:
/// ordinal `j` is at `<prefix>.(j + 1)`.
fn launcher_script(bao: &Path, seal_key: &Path, replicas: u32) -> String {
    let joins: String = (0..replicas)
        .map(|ordinal| {
            format!(
                "  retry_join {{ leader_api_addr = \"http://$prefix.{}:{API_PORT}\" }}\n",
                ordinal + 1
            )
        })
        .collect();
    format!(
        r#"#!/bin/sh
set -eu
data="$1"
: "${{POD_IP:?POD_IP (status.podIP) is not set}}"
prefix="${{POD_IP%.*}}"
mkdir -p "$data/raft"
cat > "$data/config.hcl" <<HCL
ui = false
storage "raft" {{
  path = "$data/raft"
  node_id = "$HOSTNAME"
  performance_multiplier = 1
{joins}}}
listener "tcp" {{
  address = "$POD_IP:{API_PORT}"
  cluster_address = "$POD_IP:{CLUSTER_PORT}"
  tls_disable = true
}}
seal "static" {{
  current_key_id = "k1"
  current_key = "file://{seal_key}"
}}
api_addr = "http://$POD_IP:{API_PORT}"
cluster_addr = "https://$POD_IP:{CLUSTER_PORT}"
HCL
HOME="$data" exec '{bao}' server -config "$data/config.hcl"
"#,
        bao = bao.display(),
        seal_key = seal_key.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_comes_from_ordinal_0s_ip() {
        assert_eq!(prefix_of("127.12.34.1").unwrap(), "127.12.34");
        assert!(prefix_of("127.12.34.2").is_err());
        assert!(prefix_of("not-an-ip").is_err());
    }

    #[test]
    fn the_launcher_listens_on_the_pod_ip_and_joins_every_ordinal() {
        let script = launcher_script(Path::new("/bin/bao"), Path::new("/k"), 3);
        assert!(script.contains("address = \"$POD_IP:8200\""), "{script}");
        assert!(
            script.contains("cluster_address = \"$POD_IP:8201\""),
            "{script}"
        );
        assert!(
            script.contains("api_addr = \"http://$POD_IP:8200\""),
            "{script}"
        );
        assert!(
            script.contains("cluster_addr = \"https://$POD_IP:8201\""),
            "{script}"
        );
        for ip in ["$prefix.1", "$prefix.2", "$prefix.3"] {
            assert!(
                script.contains(&format!("leader_api_addr = \"http://{ip}:8200\"")),
                "{script}"
            );
        }
        assert!(!script.contains("$prefix.4"), "{script}");
    }
}

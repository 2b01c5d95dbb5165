//! Reaching the right node and logging in: ask any node for the leader, confirm the leader itself reports
//! active (a standby may answer a snapshot request with an empty 200), then authenticate there.

use super::config::{AuthConfig, CommonConfig};
use super::leader_scope::LeaderScope;
use super::stage::{AtStage, Failure, Reason, Stage};
use crate::openbao::{HealthBody, LeaderBody, NodeState, OpenBaoClient, OpenBaoError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaderError {
    #[error("no active leader: sys/leader on {0} names none")]
    NoLeader(String),
    #[error("the leader {address} reports {state:?}, not active")]
    NotActive { address: String, state: NodeState },
    /// `sys/leader` named an address the executor must not send its token to.
    #[error("sys/leader on {entry} names a leader address that is refused: {why}")]
    ForbiddenAddress { entry: String, why: String },
}

impl Reason for LeaderError {
    fn reason(&self) -> &'static str {
        match self {
            Self::NoLeader(_) => "NoLeader",
            Self::NotActive {
                state: NodeState::Sealed,
                ..
            } => "LeaderSealed",
            Self::NotActive { .. } => "LeaderNotActive",
            Self::ForbiddenAddress { .. } => "LeaderAddressForbidden",
        }
    }
}

/// Where to take the snapshot from, given the entry node's `sys/leader` answer.
/// The named leader is where the token goes next, so it is held to the same rule as a configured endpoint: no
/// link-local address, no cloud metadata service.
pub fn leader_address(entry_address: &str, leader: &LeaderBody) -> Result<String, LeaderError> {
    if !leader.leader_address.is_empty() {
        let address = leader.leader_address.trim_end_matches('/').to_owned();
        if let Some(why) = openbao_crds::validation::forbidden_endpoint(&address) {
            return Err(LeaderError::ForbiddenAddress {
                entry: entry_address.to_owned(),
                why,
            });
        }
        return Ok(address);
    }
    if leader.is_self {
        return Ok(entry_address.to_owned());
    }
    Err(LeaderError::NoLeader(entry_address.to_owned()))
}

pub fn require_active(address: &str, state: &NodeState) -> Result<(), LeaderError> {
    match state {
        NodeState::Active => Ok(()),
        other => Err(LeaderError::NotActive {
            address: address.to_owned(),
            state: other.clone(),
        }),
    }
}

/// A client bound to the confirmed active node, and that node's health answer (cluster id, version).
pub struct Leader {
    pub client: OpenBaoClient,
    pub health: HealthBody,
}

fn at_connect(err: OpenBaoError) -> Failure {
    let stage = match err {
        OpenBaoError::InvalidAddress { .. }
        | OpenBaoError::InvalidCa(_)
        | OpenBaoError::Client(_) => Stage::Config,
        _ => Stage::Leader,
    };
    err.at(stage)
}

pub async fn find_leader(common: &CommonConfig) -> Result<Leader, Failure> {
    let entry = OpenBaoClient::connect(&common.openbao_address, &common.openbao_tls)
        .await
        .map_err(at_connect)?;
    let leader_body = entry.leader().await.map_err(|e| e.at(Stage::Leader))?;
    let address = leader_address(entry.address(), &leader_body).map_err(|e| e.at(Stage::Leader))?;
    let client = if address == entry.address() {
        entry
    } else {
        LeaderScope::new(entry.address(), &common.namespace, &common.leader_hosts)
            .resolve()
            .await
            .check(&address)
            .map_err(|why| {
                LeaderError::ForbiddenAddress {
                    entry: entry.address().to_owned(),
                    why,
                }
                .at(Stage::Leader)
            })?;
        OpenBaoClient::connect(&address, &common.openbao_tls)
            .await
            .map_err(at_connect)?
    };
    let health = client.health().await.map_err(|e| e.at(Stage::Leader))?;
    require_active(&address, &health.state).map_err(|e| e.at(Stage::Leader))?;
    tracing::info!(leader = %address, version = %health.body.version, "found the active leader");
    Ok(Leader {
        client,
        health: health.body,
    })
}

/// Logs in, and refuses a root token: with a token file the token looks itself up first (a Secret's name says
/// nothing about what the token can do).
pub async fn login(client: OpenBaoClient, auth: &AuthConfig) -> Result<OpenBaoClient, Failure> {
    match auth {
        AuthConfig::Token(token) => {
            let client = client.with_token(token.clone());
            let policies = client
                .token_policies()
                .await
                .map_err(|err| err.at(Stage::Auth))?;
            if policies.includes_root() {
                return Err(OpenBaoError::RootToken.at(Stage::Auth));
            }
            Ok(client)
        }
        AuthConfig::Jwt { mount, role, jwt } => {
            let token = client.login_jwt(mount, role, jwt).await.map_err(|err| {
                let mut failure = err.at(Stage::Auth);
                if !matches!(failure.reason, "OpenBaoUnreachable" | "RootTokenRefused") {
                    failure.reason = "LoginRejected";
                }
                failure
            })?;
            tracing::info!(%mount, %role, "logged in with JWT");
            Ok(client.with_token(token))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(address: &str, is_self: bool) -> LeaderBody {
        LeaderBody {
            ha_enabled: true,
            is_self,
            leader_address: address.to_owned(),
        }
    }

    #[test]
    fn the_named_leader_wins_over_the_entry_node() {
        let entry = "http://127.0.0.1:8200";
        assert_eq!(
            leader_address(entry, &leader("http://127.0.0.1:8210/", false)).unwrap(),
            "http://127.0.0.1:8210"
        );
        assert_eq!(leader_address(entry, &leader("", true)).unwrap(), entry);
        assert_eq!(
            leader_address(entry, &leader("", false)),
            Err(LeaderError::NoLeader(entry.to_owned()))
        );
    }

    #[test]
    fn a_leader_address_at_the_metadata_service_is_refused() {
        let entry = "https://openbao.security.svc:8200";
        for named in ["http://169.254.169.254/", "http://metadata.google.internal"] {
            let refused = leader_address(entry, &leader(named, false)).unwrap_err();
            assert_eq!(refused.reason(), "LeaderAddressForbidden", "{named}");
        }
    }

    #[test]
    fn only_an_active_node_is_accepted() {
        assert!(require_active("a", &NodeState::Active).is_ok());
        for state in [
            NodeState::Standby,
            NodeState::Sealed,
            NodeState::Uninitialized,
            NodeState::Unavailable { status: 500 },
        ] {
            let err = require_active("a", &state).unwrap_err();
            let expected = if state == NodeState::Sealed {
                "LeaderSealed"
            } else {
                "LeaderNotActive"
            };
            assert_eq!(err.reason(), expected);
        }
    }
}

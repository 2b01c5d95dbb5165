//! `sys/health` and `sys/leader` answers and what they mean for the executor.

use serde::Deserialize;

/// `GET sys/health` body. OpenBao answers with a status code per state (200 active, 429 standby, 473
/// performance standby, 501 uninitialized, 503 sealed) and this body for all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct HealthBody {
    #[serde(default)]
    pub initialized: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub standby: bool,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub cluster_name: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// The node's state as the executor needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Unsealed and serving as the active node: snapshots come from here.
    Active,
    Standby,
    Sealed,
    Uninitialized,
    /// No parseable health answer (e.g. the 500s OpenBao gives while it installs a restored snapshot).
    Unavailable {
        status: u16,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub state: NodeState,
    pub body: HealthBody,
}

/// Classifies a health answer. The body decides where it is present; the status code only fills gaps.
pub fn classify(status: u16, body: Option<HealthBody>) -> Health {
    let Some(body) = body else {
        return Health {
            state: NodeState::Unavailable { status },
            body: HealthBody::default(),
        };
    };
    let state = if !body.initialized || status == 501 {
        NodeState::Uninitialized
    } else if body.sealed || status == 503 {
        NodeState::Sealed
    } else if body.standby || status == 429 || status == 473 {
        NodeState::Standby
    } else if status == 200 {
        NodeState::Active
    } else {
        NodeState::Unavailable { status }
    };
    Health { state, body }
}

/// `GET sys/leader` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct LeaderBody {
    #[serde(default)]
    pub ha_enabled: bool,
    #[serde(default)]
    pub is_self: bool,
    #[serde(default)]
    pub leader_address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(initialized: bool, sealed: bool, standby: bool) -> Option<HealthBody> {
        Some(HealthBody {
            initialized,
            sealed,
            standby,
            version: "2.7.2".into(),
            ..HealthBody::default()
        })
    }

    #[test]
    fn states_follow_body_then_status() {
        let cases = [
            (200, body(true, false, false), NodeState::Active),
            (429, body(true, false, true), NodeState::Standby),
            (473, body(true, false, false), NodeState::Standby),
            (503, body(true, true, true), NodeState::Sealed),
            (501, body(false, true, false), NodeState::Uninitialized),
            (500, None, NodeState::Unavailable { status: 500 }),
            (
                502,
                body(true, false, false),
                NodeState::Unavailable { status: 502 },
            ),
        ];
        for (status, body, expected) in cases {
            assert_eq!(classify(status, body).state, expected, "status {status}");
        }
    }

    #[test]
    fn real_answers_parse() {
        let active: HealthBody = serde_json::from_str(
            r#"{"initialized":true,"sealed":false,"standby":false,"replication_performance_mode":"primary",
            "server_time_utc":1795588358,"version":"2.7.2","cluster_name":"vault-cluster-db8fa729",
            "cluster_id":"a471aff0-c751-2991-5613-ca61a5583d59"}"#,
        )
        .unwrap();
        assert_eq!(classify(200, Some(active.clone())).state, NodeState::Active);
        assert_eq!(
            active.cluster_id.as_deref(),
            Some("a471aff0-c751-2991-5613-ca61a5583d59")
        );
        let leader: LeaderBody = serde_json::from_str(
            r#"{"ha_enabled":true,"is_self":true,"active_time":"2026-11-25T06:32:37Z",
            "leader_address":"http://127.0.0.1:18200","leader_cluster_address":"https://127.0.0.1:18201"}"#,
        )
        .unwrap();
        assert_eq!(leader.leader_address, "http://127.0.0.1:18200");
    }
}

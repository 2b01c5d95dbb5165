//! Label sets. Every per-cluster series carries `namespace` and `cluster`, so all of a deleted cluster's series
//! can be found and removed.

use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::metrics::ActorKind;
use openbao_crds::Operation;
use prometheus_client::encoding::EncodeLabelSet;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub namespace: String,
    pub cluster: String,
}

impl From<&ClusterKey> for ClusterLabels {
    fn from(key: &ClusterKey) -> Self {
        Self {
            namespace: key.namespace.clone(),
            cluster: key.name.clone(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub namespace: String,
    pub cluster: String,
    pub operation: String,
}

impl OperationLabels {
    pub fn new(key: &ClusterKey, operation: Operation) -> Self {
        Self {
            namespace: key.namespace.clone(),
            cluster: key.name.clone(),
            operation: operation.as_str().to_string(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabels {
    pub namespace: String,
    pub cluster: String,
    pub actor: String,
}

impl ActorLabels {
    pub fn new(key: &ClusterKey, actor: ActorKind) -> Self {
        Self {
            namespace: key.namespace.clone(),
            cluster: key.name.clone(),
            actor: actor.as_str().to_string(),
        }
    }
}

/// Every operation, for removing a cluster's per-operation series.
pub const OPERATIONS: [Operation; 3] = [Operation::Backup, Operation::Restore, Operation::Upgrade];
/// Every actor kind (the supervisor and a child per operation), for removing a cluster's per-actor series.
pub const ACTOR_KINDS: [ActorKind; 4] = [
    ActorKind::Supervisor,
    ActorKind::Child(Operation::Backup),
    ActorKind::Child(Operation::Restore),
    ActorKind::Child(Operation::Upgrade),
];

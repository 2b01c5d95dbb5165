//! Which OpenBaoCluster a message, actor or metric series belongs to.

use std::fmt;

use openbao_crds::OpenBaoCluster;

/// `namespace/name` of an OpenBaoCluster: the routing key of the manager and the label set of per-cluster metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterKey {
    pub namespace: String,
    pub name: String,
}

impl ClusterKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of an object read from the API; `None` when it lacks a name or namespace (never true for a stored
    /// namespaced object).
    pub fn of(cluster: &OpenBaoCluster) -> Option<Self> {
        Some(Self::new(
            cluster.metadata.namespace.clone()?,
            cluster.metadata.name.clone()?,
        ))
    }
}

impl fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

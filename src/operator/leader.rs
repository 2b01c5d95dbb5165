//! Leader election on a `coordination.k8s.io` Lease (kube-lease-manager). Only the holder runs actors; the lock
//! epoch in each cluster's status fences whatever a deposed leader still writes.

use std::time::Duration;

use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A renewal starts this long before the lease would expire.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
}

pub struct Election {
    /// `true` while this replica holds the Lease.
    pub leading: watch::Receiver<bool>,
    pub task: JoinHandle<Result<LeaseManager, kube_lease_manager::LeaseManagerError>>,
}

/// Grace for renewals: a third of the duration, at most [`RENEW_BEFORE_EXPIRY`], at least 1 s.
fn grace_seconds(duration: Duration) -> u64 {
    (duration.as_secs() / 3).clamp(1, RENEW_BEFORE_EXPIRY.as_secs())
}

/// Reaches the Lease (creating it if needed) and starts competing for it.
pub async fn start(
    client: kube::Client,
    settings: &LeaseSettings,
) -> Result<Election, kube_lease_manager::LeaseManagerError> {
    let manager = LeaseManagerBuilder::new(client, &settings.name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(settings.duration.as_secs())
        .with_grace(grace_seconds(settings.duration))
        .build()
        .await?;
    let (leading, task) = manager.watch().await;
    Ok(Election { leading, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_stays_below_the_duration() {
        assert_eq!(grace_seconds(Duration::from_secs(15)), 5);
        assert_eq!(grace_seconds(Duration::from_secs(6)), 2);
        assert_eq!(grace_seconds(Duration::from_secs(3)), 1);
    }
}

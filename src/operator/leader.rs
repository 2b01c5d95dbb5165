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

/// Whether an election that has not made this replica the leader is stuck: the Lease names this very identity
/// (a restarted container whose previous life held it) or nobody has renewed it for a whole extra duration. Either
/// way a working election would have taken it by now.
pub async fn stalled(client: &kube::Client, settings: &LeaseSettings) -> bool {
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client.clone(), &settings.namespace);
    let Ok(lease) = leases.get(&settings.name).await else {
        return false;
    };
    let Some(spec) = lease.spec else {
        return false;
    };
    if spec.holder_identity.as_deref() == Some(settings.identity.as_str()) {
        return true;
    }
    let renewed = spec.renew_time.map(|time| time.0.as_second());
    let duration = spec.lease_duration_seconds.map(i64::from);
    match (renewed, duration) {
        (Some(renewed), Some(duration)) => {
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            now > renewed + 2 * duration
        }
        _ => false,
    }
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

//! What an upgrade may do next, decided from observations only (versions from the Pods' `sys/health`, never
//! assumed from the spec): refuse a version change that cannot be done safely, and during a rollout replace one
//! Pod at a time, standbys first and the active node last, only while every other Pod is healthy.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use openbao_crds::conditions::ClusterConditionReason;
use openbao_crds::{OpenBaoCluster, UpgradePhase, UpgradeStatus};

use crate::effects::HolderLiveness;

/// An OpenBao release, `x.y.z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// `x.y.z` with decimal numbers and nothing else (no `v`, no pre-release suffix: image tags are exact).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let mut number = || -> Option<u64> {
            let part = parts.next()?;
            let plain = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            plain.then(|| part.parse().ok()).flatten()
        };
        let version = Self {
            major: number()?,
            minor: number()?,
            patch: number()?,
        };
        parts.next().is_none().then_some(version)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why the guard touches nothing: a condition reason and an actionable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: ClusterConditionReason,
    pub message: String,
}

/// An upgrade to carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionChange {
    pub from: Version,
    pub to: Version,
}

/// Whether `spec.version` asks for an upgrade from the observed `current` version. `Ok(None)`: nothing to do
/// (same version, or no observed version yet to compare with).
pub fn version_change(
    spec_version: &str,
    current: Option<&str>,
) -> Result<Option<VersionChange>, Refusal> {
    let Some(to) = Version::parse(spec_version) else {
        return Err(Refusal {
            reason: ClusterConditionReason::InvalidVersion,
            message: format!(
                "spec.version {spec_version:?} is not x.y.z (e.g. 2.7.2); it becomes the image tag, so it must \
                 name an exact release"
            ),
        });
    };
    let Some(current) = current else {
        return Ok(None);
    };
    let Some(from) = Version::parse(current) else {
        return Err(Refusal {
            reason: ClusterConditionReason::UnknownCurrentVersion,
            message: format!(
                "the cluster reports version {current:?}, which is not x.y.z; the guard cannot tell an upgrade \
                 from a downgrade"
            ),
        });
    };
    match to.cmp(&from) {
        Ordering::Equal => Ok(None),
        Ordering::Less => Err(Refusal {
            reason: ClusterConditionReason::DowngradeRefused,
            message: format!(
                "spec.version {to} is older than the running {from}: OpenBao does not support downgrades (the \
                 newer version may have changed the stored data); to go back, restore the pre-upgrade snapshot \
                 into a cluster running {to} (docs/runbooks/upgrade.md), or set spec.version back to {from}"
            ),
        }),
        Ordering::Greater => Ok(Some(VersionChange { from, to })),
    }
}

/// What the guard needs to know about the workload StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadFacts {
    pub name: String,
    /// `spec.updateStrategy.type`; `None` is Kubernetes' default, `RollingUpdate`.
    pub update_strategy: Option<String>,
    pub replicas: i32,
}

/// The guard replaces Pods itself, one at a time and in its own order; only `OnDelete` leaves that to it (with
/// `RollingUpdate` the StatefulSet controller would replace Pods by ordinal, the active node whenever its turn
/// comes).
pub fn drivable(workload: Option<&WorkloadFacts>, expected_name: &str) -> Result<(), Refusal> {
    let Some(workload) = workload else {
        return Err(Refusal {
            reason: ClusterConditionReason::WorkloadNotFound,
            message: format!(
                "StatefulSet {expected_name} does not exist in the cluster's namespace; set \
                 spec.workload.statefulSetName to the StatefulSet that runs OpenBao"
            ),
        });
    };
    match workload.update_strategy.as_deref() {
        Some("OnDelete") => Ok(()),
        other => Err(Refusal {
            reason: ClusterConditionReason::UpdateStrategyNotOnDelete,
            message: format!(
                "StatefulSet {} uses update strategy {}; the guard replaces Pods itself (standbys first, the \
                 active node last), which needs spec.updateStrategy.type: OnDelete (the OpenBao Helm chart's \
                 default)",
                workload.name,
                other.unwrap_or("RollingUpdate (the default)")
            ),
        }),
    }
}

/// One OpenBao Pod as observed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    pub name: String,
    pub ordinal: u32,
    /// The Pod's Ready condition.
    pub ready: bool,
    /// From `sys/health`; `None` when it did not answer.
    pub sealed: Option<bool>,
    /// From `sys/health`; `None` when it did not answer.
    pub version: Option<String>,
    /// The active (leader) node.
    pub active: bool,
}

impl PodFacts {
    fn healthy(&self) -> bool {
        self.ready && self.sealed == Some(false)
    }

    fn runs(&self, version: Version) -> bool {
        self.version.as_deref().and_then(Version::parse) == Some(version)
    }
}

/// The raft cluster as the active node reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftFacts {
    pub has_leader: bool,
    pub all_voters_healthy: bool,
}

/// The rollout's next move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutStep {
    /// Delete this Pod so it comes back on the new version.
    Replace(String),
    /// Something is not healthy yet; check again later (the actor's timeout turns a long wait into a failure).
    Wait { pod: Option<String>, why: String },
    /// A Pod replaced by this upgrade came back sealed: stop, replace nothing more.
    Stop {
        pod: String,
        reason: ClusterConditionReason,
        message: String,
    },
    /// Every Pod runs the new version, unsealed and ready, and raft has a leader with healthy voters.
    Done,
}

/// Decides the next move of a rollout to `target` of a StatefulSet of `replicas` Pods. `replaced` names the Pods this upgrade already deleted (kept
/// in `status.upgrade`, so a restarted operator never replaces a Pod twice).
pub fn next_step(
    pods: &[PodFacts],
    replicas: usize,
    raft: RaftFacts,
    target: Version,
    replaced: &BTreeSet<String>,
) -> RolloutStep {
    if pods.is_empty() {
        return RolloutStep::Wait {
            pod: None,
            why: "no OpenBao Pod is observed yet".into(),
        };
    }
    if let Some(pod) = pods
        .iter()
        .find(|pod| pod.sealed == Some(true) && replaced.contains(&pod.name))
    {
        return RolloutStep::Stop {
            pod: pod.name.clone(),
            reason: ClusterConditionReason::PodSealed,
            message: format!(
                "{} came back sealed after it was replaced; unseal it (Shamir-sealed clusters need their key \
                 holders), then retry the upgrade with a new openbao.org/retry-upgrade annotation",
                pod.name
            ),
        };
    }
    // A deleted Pod not recreated yet is missing from the list: it is down as surely as an unready one.
    if pods.len() < replicas {
        return RolloutStep::Wait {
            pod: None,
            why: format!("{} of {replicas} OpenBao Pods exist", pods.len()),
        };
    }
    // Never two Pods down: nothing is replaced while any Pod (or raft) is not healthy.
    if let Some(pod) = pods.iter().find(|pod| !pod.healthy()) {
        let why = if !pod.ready {
            "is not Ready"
        } else if pod.sealed.is_none() {
            "does not answer sys/health"
        } else {
            "is sealed"
        };
        return RolloutStep::Wait {
            pod: Some(pod.name.clone()),
            why: format!("{} {why}", pod.name),
        };
    }
    if !raft.has_leader || !raft.all_voters_healthy {
        return RolloutStep::Wait {
            pod: None,
            why: "raft has no leader or a voter is unhealthy".into(),
        };
    }
    let mut outdated: Vec<&PodFacts> = pods
        .iter()
        .filter(|pod| !pod.runs(target) && !replaced.contains(&pod.name))
        .collect();
    // A replaced Pod that still reports the old version has not been recreated yet: wait for it.
    if let Some(pod) = pods
        .iter()
        .find(|pod| !pod.runs(target) && replaced.contains(&pod.name))
    {
        return RolloutStep::Wait {
            pod: Some(pod.name.clone()),
            why: format!("{} was replaced and does not report {target} yet", pod.name),
        };
    }
    // Standbys first (highest ordinal first, as the StatefulSet controller would), the active node last.
    outdated.sort_by_key(|pod| (pod.active, std::cmp::Reverse(pod.ordinal)));
    match outdated.first() {
        Some(pod) => RolloutStep::Replace(pod.name.clone()),
        None => RolloutStep::Done,
    }
}

/// The version the cluster runs: the oldest any Pod reports (during a rollout, the one not yet replaced).
/// `None` when no Pod reports an `x.y.z` version.
pub fn observed_version(pods: &[PodFacts]) -> Option<Version> {
    pods.iter()
        .filter_map(|pod| pod.version.as_deref().and_then(Version::parse))
        .min()
}

/// The id of an attempt at `to_version`: it names the pre-upgrade backup Job, so the same attempt asked again (after
/// a restart) finds its Job, and a retry (a new token) takes a new snapshot.
pub fn attempt_id(to_version: &str, retry_token: Option<&str>) -> String {
    match retry_token {
        Some(token) => format!("{to_version}-{token}"),
        None => to_version.to_string(),
    }
}

/// An attempt at `spec_version` that stopped (`Blocked`, `Failed`) stays stopped until the version changes or the
/// `openbao.org/retry-upgrade` annotation gets a value that attempt did not answer.
pub fn stays_stopped(
    last: Option<&UpgradeStatus>,
    spec_version: &str,
    retry_token: Option<&str>,
) -> bool {
    last.is_some_and(|last| {
        last.to_version == spec_version
            && matches!(last.phase, UpgradePhase::Blocked | UpgradePhase::Failed)
            && last.retry_token.as_deref() == retry_token
    })
}

/// Whether the upgrade behind an `upgrade/<version>` lock still runs, judged from the cluster: its
/// `status.upgrade` for that version is in progress, or (granted before the status was written) the spec still
/// asks for that version.
pub fn upgrade_liveness(cluster: Option<&OpenBaoCluster>, holder_version: &str) -> HolderLiveness {
    let Some(cluster) = cluster else {
        return HolderLiveness::Missing;
    };
    let last = cluster
        .status
        .as_ref()
        .and_then(|status| status.upgrade.as_ref());
    match last {
        Some(last) if last.to_version == holder_version => {
            if is_terminal(last.phase) {
                HolderLiveness::Finished(None)
            } else {
                HolderLiveness::Active
            }
        }
        _ if cluster.spec.version == holder_version => HolderLiveness::Active,
        _ => HolderLiveness::Missing,
    }
}

pub fn is_terminal(phase: UpgradePhase) -> bool {
    matches!(
        phase,
        UpgradePhase::Completed | UpgradePhase::Blocked | UpgradePhase::Failed
    )
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

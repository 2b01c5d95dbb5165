use proptest::prelude::*;

use super::*;

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

fn pod(ordinal: u32, version: &str, active: bool) -> PodFacts {
    PodFacts {
        name: format!("openbao-{ordinal}"),
        ordinal,
        ready: true,
        sealed: Some(false),
        version: Some(version.into()),
        active,
    }
}

const HEALTHY: RaftFacts = RaftFacts {
    has_leader: true,
    all_voters_healthy: true,
};

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

#[test]
fn versions_are_exact_releases() {
    assert_eq!(
        v("2.7.2"),
        Version {
            major: 2,
            minor: 7,
            patch: 2
        }
    );
    assert!(v("2.10.0") > v("2.9.9"));
    for bad in [
        "",
        "2.7",
        "2.7.2.1",
        "v2.7.2",
        "2.7.2-rc1",
        "2.07.1",
        "2..1",
        "a.b.c",
        " 2.7.2",
    ] {
        assert_eq!(Version::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn a_version_change_is_an_upgrade_or_a_named_refusal() {
    assert_eq!(
        version_change("2.7.2", Some("2.6.2")),
        Ok(Some(VersionChange {
            from: v("2.6.2"),
            to: v("2.7.2")
        }))
    );
    assert_eq!(version_change("2.7.2", Some("2.7.2")), Ok(None));
    assert_eq!(version_change("2.7.2", None), Ok(None));
    assert_eq!(
        version_change("2.6.2", Some("2.7.2"))
            .unwrap_err()
            .reason
            .as_str(),
        "DowngradeRefused"
    );
    assert_eq!(
        version_change("latest", Some("2.7.2"))
            .unwrap_err()
            .reason
            .as_str(),
        "InvalidVersion"
    );
    assert_eq!(
        version_change("2.7.2", Some("2.7.2+ent"))
            .unwrap_err()
            .reason
            .as_str(),
        "UnknownCurrentVersion"
    );
}

#[test]
fn only_an_on_delete_statefulset_can_be_driven() {
    let workload = |strategy: Option<&str>| WorkloadFacts {
        name: "openbao".into(),
        update_strategy: strategy.map(str::to_string),
        replicas: 3,
    };
    assert_eq!(
        drivable(Some(&workload(Some("OnDelete"))), "openbao"),
        Ok(())
    );
    for strategy in [None, Some("RollingUpdate")] {
        let refused = drivable(Some(&workload(strategy)), "openbao").unwrap_err();
        assert_eq!(refused.reason.as_str(), "UpdateStrategyNotOnDelete");
        assert!(refused.message.contains("OnDelete"));
    }
    assert_eq!(
        drivable(None, "openbao").unwrap_err().reason.as_str(),
        "WorkloadNotFound"
    );
}

#[test]
fn standbys_go_first_highest_ordinal_first_and_the_active_node_last() {
    let target = v("2.7.2");
    let mut pods = vec![
        pod(0, "2.6.2", true),
        pod(1, "2.6.2", false),
        pod(2, "2.6.2", false),
    ];
    let mut replaced = none();
    let mut order = Vec::new();
    loop {
        match next_step(&pods, pods.len(), HEALTHY, target, &replaced) {
            RolloutStep::Replace(name) => {
                order.push(name.clone());
                replaced.insert(name.clone());
                // The Pod comes back on the new version.
                let pod = pods.iter_mut().find(|p| p.name == name).unwrap();
                pod.version = Some("2.7.2".into());
            }
            RolloutStep::Done => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(order, ["openbao-2", "openbao-1", "openbao-0"]);
}

#[test]
fn nothing_is_replaced_while_a_pod_or_raft_is_unhealthy() {
    let target = v("2.7.2");
    let mut pods = vec![
        pod(0, "2.6.2", true),
        pod(1, "2.7.2", false),
        pod(2, "2.6.2", false),
    ];
    pods[1].ready = false;
    let replaced = BTreeSet::from(["openbao-1".to_string()]);
    assert!(matches!(
        next_step(&pods, pods.len(), HEALTHY, target, &replaced),
        RolloutStep::Wait { pod: Some(p), .. } if p == "openbao-1"
    ));
    pods[1].ready = true;
    let no_leader = RaftFacts {
        has_leader: false,
        all_voters_healthy: true,
    };
    assert!(matches!(
        next_step(&pods, pods.len(), no_leader, target, &replaced),
        RolloutStep::Wait { pod: None, .. }
    ));
    assert_eq!(
        next_step(&pods, pods.len(), HEALTHY, target, &replaced),
        RolloutStep::Replace("openbao-2".into())
    );
}

#[test]
fn a_replaced_pod_that_comes_back_sealed_stops_the_rollout() {
    let target = v("2.7.2");
    let mut pods = vec![
        pod(0, "2.6.2", true),
        pod(1, "2.6.2", false),
        pod(2, "2.7.2", false),
    ];
    pods[2].sealed = Some(true);
    let replaced = BTreeSet::from(["openbao-2".to_string()]);
    match next_step(&pods, pods.len(), HEALTHY, target, &replaced) {
        RolloutStep::Stop {
            pod,
            reason,
            message,
        } => {
            assert_eq!(pod, "openbao-2");
            assert_eq!(reason.as_str(), "PodSealed");
            assert!(message.contains("unseal"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // A sealed Pod this upgrade did not touch is waited for, not blamed.
    assert!(matches!(
        next_step(&pods, pods.len(), HEALTHY, target, &none()),
        RolloutStep::Wait { .. }
    ));
}

#[test]
fn a_replaced_pod_is_never_replaced_again() {
    let target = v("2.7.2");
    let pods = vec![pod(0, "2.6.2", true), pod(1, "2.6.2", false)];
    let replaced = BTreeSet::from(["openbao-1".to_string()]);
    assert!(matches!(
        next_step(&pods, pods.len(), HEALTHY, target, &replaced),
        RolloutStep::Wait { pod: Some(p), .. } if p == "openbao-1"
    ));
}

fn any_pod(ordinal: u32) -> impl Strategy<Value = PodFacts> {
    (
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop_oneof![
            Just("2.6.2".to_string()),
            Just("2.7.2".to_string()),
            ".{0,6}"
        ]),
        any::<bool>(),
    )
        .prop_map(move |(ready, sealed, version, active)| PodFacts {
            name: format!("openbao-{ordinal}"),
            ordinal,
            ready,
            sealed,
            version,
            active,
        })
}

fn any_pods() -> impl Strategy<Value = Vec<PodFacts>> {
    (0u32..6).prop_flat_map(|count| (0..count).map(any_pod).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// Whatever the cluster looks like: a replacement only happens with every Pod healthy (so never two down),
    /// never to a Pod already replaced or already on the target, and to the active node only when no standby is
    /// left; `Done` only with every Pod healthy on the target.
    #[test]
    fn the_rollout_never_takes_a_second_pod_down(
        pods in any_pods(),
        missing in 0usize..2,
        has_leader in any::<bool>(),
        all_voters_healthy in any::<bool>(),
        replaced_mask in any::<u8>(),
    ) {
        let target = v("2.7.2");
        let replaced: BTreeSet<String> = pods
            .iter()
            .filter(|pod| replaced_mask & (1 << pod.ordinal) != 0)
            .map(|pod| pod.name.clone())
            .collect();
        let raft = RaftFacts { has_leader, all_voters_healthy };
        let all_healthy = pods.iter().all(|p| p.ready && p.sealed == Some(false));
        let replicas = pods.len() + missing;
        match next_step(&pods, replicas, raft, target, &replaced) {
            RolloutStep::Replace(name) => {
                prop_assert!(all_healthy && has_leader && all_voters_healthy);
                prop_assert_eq!(missing, 0, "a Pod that does not exist is down");
                prop_assert!(!replaced.contains(&name));
                let chosen = pods.iter().find(|p| p.name == name).unwrap();
                prop_assert!(!chosen.runs(target));
                if chosen.active {
                    prop_assert!(pods.iter().all(|p| p.active || p.runs(target) || replaced.contains(&p.name)));
                }
            }
            RolloutStep::Done => {
                prop_assert!(!pods.is_empty() && all_healthy && missing == 0);
                prop_assert!(pods.iter().all(|p| p.runs(target)));
            }
            RolloutStep::Stop { pod, .. } => prop_assert!(replaced.contains(&pod)),
            RolloutStep::Wait { .. } => {}
        }
    }
}

/// A deleted Pod that is not recreated yet is missing from the list: the others look healthy, but one is down.
#[test]
fn a_missing_pod_counts_as_down() {
    let pods = vec![pod(0, "2.6.2", true), pod(1, "2.6.2", false)];
    let replaced: BTreeSet<String> = ["openbao-2".to_string()].into();
    assert!(matches!(
        next_step(&pods, 3, HEALTHY, v("2.7.2"), &replaced),
        RolloutStep::Wait { .. }
    ));
    assert_eq!(
        next_step(&pods, 2, HEALTHY, v("2.7.2"), &none()),
        RolloutStep::Replace("openbao-1".into())
    );
}

#[test]
fn the_running_version_is_the_oldest_a_pod_reports() {
    let mut pods = vec![pod(0, "2.7.2", true), pod(1, "2.6.2", false)];
    pods.push(PodFacts {
        version: None,
        ..pod(2, "x", false)
    });
    assert_eq!(observed_version(&pods), Some(v("2.6.2")));
    assert_eq!(observed_version(&[]), None);
}

#[test]
fn a_stopped_attempt_waits_for_a_new_token_or_version() {
    let stopped = UpgradeStatus {
        from_version: "2.6.2".into(),
        to_version: "2.7.2".into(),
        phase: UpgradePhase::Blocked,
        pre_upgrade_snapshot_key: None,
        started_at: None,
        completed_at: None,
        pods_updated: Vec::new(),
        replacing: None,
        retry_token: Some("1".into()),
        message: None,
    };
    assert!(stays_stopped(Some(&stopped), "2.7.2", Some("1")));
    assert!(!stays_stopped(Some(&stopped), "2.7.2", Some("2")));
    assert!(!stays_stopped(Some(&stopped), "2.7.3", Some("1")));
    let completed = UpgradeStatus {
        phase: UpgradePhase::Completed,
        ..stopped.clone()
    };
    assert!(!stays_stopped(Some(&completed), "2.7.2", Some("1")));
    assert_eq!(attempt_id("2.7.2", None), "2.7.2");
    assert_eq!(attempt_id("2.7.2", Some("7")), "2.7.2-7");
}

#[test]
fn an_upgrade_lock_lives_while_its_attempt_is_in_progress_or_still_wanted() {
    let mut cluster = OpenBaoCluster::new("c", openbao_crds::OpenBaoClusterSpec::new("2.7.2"));
    assert_eq!(upgrade_liveness(None, "2.7.2"), HolderLiveness::Missing);
    // Granted, not recorded yet, still wanted.
    assert_eq!(
        upgrade_liveness(Some(&cluster), "2.7.2"),
        HolderLiveness::Active
    );
    assert_eq!(
        upgrade_liveness(Some(&cluster), "2.8.0"),
        HolderLiveness::Missing
    );
    let status = openbao_crds::OpenBaoClusterStatus {
        upgrade: Some(UpgradeStatus {
            from_version: "2.6.2".into(),
            to_version: "2.7.2".into(),
            phase: UpgradePhase::RollingOut,
            pre_upgrade_snapshot_key: None,
            started_at: None,
            completed_at: None,
            pods_updated: Vec::new(),
            replacing: None,
            retry_token: None,
            message: None,
        }),
        ..Default::default()
    };
    cluster.status = Some(status);
    assert_eq!(
        upgrade_liveness(Some(&cluster), "2.7.2"),
        HolderLiveness::Active
    );
    cluster
        .status
        .as_mut()
        .unwrap()
        .upgrade
        .as_mut()
        .unwrap()
        .phase = UpgradePhase::Failed;
    assert_eq!(
        upgrade_liveness(Some(&cluster), "2.7.2"),
        HolderLiveness::Finished(None)
    );
}

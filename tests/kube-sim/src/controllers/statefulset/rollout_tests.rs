use super::*;

fn replica(ordinal: u32, revision: &str, ready: bool) -> Replica {
    Replica {
        ordinal,
        revision: revision.to_string(),
        facts: PodFacts {
            name: format!("bao-{ordinal}"),
            phase: PodPhase::Running,
            terminating: false,
            ready,
            restarts: 0,
        },
    }
}

fn input(replicas: u32, strategy: UpdateStrategy, pods: Vec<Replica>) -> RolloutInput {
    RolloutInput {
        replicas,
        strategy,
        management: PodManagement::OrderedReady,
        current_revision: "bao-old".into(),
        update_revision: "bao-new".into(),
        pods,
    }
}

const ROLLING: UpdateStrategy = UpdateStrategy::RollingUpdate { partition: 0 };

fn create(ordinal: u32, revision: &str) -> RolloutAction {
    RolloutAction::Create {
        ordinal,
        revision: revision.to_string(),
    }
}

fn delete(ordinal: u32) -> RolloutAction {
    RolloutAction::Delete { ordinal }
}

#[test]
fn creates_pods_in_order_waiting_for_readiness() {
    assert_eq!(
        next_actions(&input(3, ROLLING, vec![])),
        [create(0, "bao-new")]
    );
    assert_eq!(
        next_actions(&input(3, ROLLING, vec![replica(0, "bao-new", false)])),
        []
    );
    assert_eq!(
        next_actions(&input(3, ROLLING, vec![replica(0, "bao-new", true)])),
        [create(1, "bao-new")]
    );
}

#[test]
fn parallel_management_creates_all_at_once() {
    let mut parallel = input(3, ROLLING, vec![replica(1, "bao-new", false)]);
    parallel.management = PodManagement::Parallel;
    assert_eq!(
        next_actions(&parallel),
        [create(0, "bao-new"), create(2, "bao-new")]
    );
}

#[test]
fn rolling_update_replaces_the_highest_outdated_ordinal_first_one_at_a_time() {
    let all_old = vec![
        replica(0, "bao-old", true),
        replica(1, "bao-old", true),
        replica(2, "bao-old", true),
    ];
    assert_eq!(next_actions(&input(3, ROLLING, all_old)), [delete(2)]);

    // Pod 2 was deleted: it comes back on the new revision before anything else happens.
    let two_missing = vec![replica(0, "bao-old", true), replica(1, "bao-old", true)];
    assert_eq!(
        next_actions(&input(3, ROLLING, two_missing)),
        [create(2, "bao-new")]
    );

    // The new pod 2 is not Ready yet: wait.
    let waiting = vec![
        replica(0, "bao-old", true),
        replica(1, "bao-old", true),
        replica(2, "bao-new", false),
    ];
    assert_eq!(next_actions(&input(3, ROLLING, waiting)), []);

    let next = vec![
        replica(0, "bao-old", true),
        replica(1, "bao-old", true),
        replica(2, "bao-new", true),
    ];
    assert_eq!(next_actions(&input(3, ROLLING, next)), [delete(1)]);

    let done = vec![
        replica(0, "bao-new", true),
        replica(1, "bao-new", true),
        replica(2, "bao-new", true),
    ];
    assert_eq!(next_actions(&input(3, ROLLING, done)), []);
}

#[test]
fn terminating_pods_block_the_next_step() {
    let mut terminating = replica(2, "bao-old", true);
    terminating.facts.terminating = true;
    let pods = vec![
        replica(0, "bao-old", true),
        replica(1, "bao-old", true),
        terminating,
    ];
    assert_eq!(next_actions(&input(3, ROLLING, pods)), []);
}

#[test]
fn partition_keeps_lower_ordinals_on_the_current_revision() {
    let partitioned = UpdateStrategy::RollingUpdate { partition: 2 };
    let pods = vec![
        replica(0, "bao-old", true),
        replica(1, "bao-old", true),
        replica(2, "bao-new", true),
    ];
    assert_eq!(
        next_actions(&input(3, partitioned, pods)),
        [],
        "ordinals below the partition stay"
    );

    // A deleted Pod below the partition comes back on the current revision.
    let pods = vec![replica(1, "bao-old", true), replica(2, "bao-new", true)];
    assert_eq!(
        next_actions(&input(3, partitioned, pods)),
        [create(0, "bao-old")]
    );
}

#[test]
fn on_delete_only_recreates_deleted_pods_on_the_update_revision() {
    let pods = vec![
        replica(0, "bao-old", true),
        replica(1, "bao-old", true),
        replica(2, "bao-old", true),
    ];
    assert_eq!(next_actions(&input(3, UpdateStrategy::OnDelete, pods)), []);
    let pods = vec![replica(0, "bao-old", true), replica(2, "bao-old", true)];
    assert_eq!(
        next_actions(&input(3, UpdateStrategy::OnDelete, pods)),
        [create(1, "bao-new")]
    );
}

#[test]
fn scale_down_removes_the_highest_ordinal_first() {
    let pods = vec![
        replica(0, "bao-new", true),
        replica(1, "bao-new", true),
        replica(2, "bao-new", true),
        replica(3, "bao-new", true),
    ];
    assert_eq!(next_actions(&input(2, ROLLING, pods)), [delete(3)]);
}

#[test]
fn failed_pods_are_replaced() {
    let mut failed = replica(1, "bao-new", false);
    failed.facts.phase = PodPhase::Failed;
    let pods = vec![replica(0, "bao-new", true), failed];
    assert_eq!(next_actions(&input(2, ROLLING, pods)), [delete(1)]);
}

#[test]
fn status_counts_revisions_and_completes_the_rollout() {
    let mid = vec![
        replica(0, "bao-old", true),
        replica(1, "bao-old", true),
        replica(2, "bao-new", false),
    ];
    assert_eq!(
        rollout_status(&input(3, ROLLING, mid)),
        RolloutStatus {
            replicas: 3,
            ready_replicas: 2,
            current_replicas: 2,
            updated_replicas: 1,
            current_revision: "bao-old".into()
        }
    );
    let done = vec![
        replica(0, "bao-new", true),
        replica(1, "bao-new", true),
        replica(2, "bao-new", true),
    ];
    assert_eq!(
        rollout_status(&input(3, ROLLING, done)),
        RolloutStatus {
            replicas: 3,
            ready_replicas: 3,
            current_replicas: 3,
            updated_replicas: 3,
            current_revision: "bao-new".into()
        }
    );
}

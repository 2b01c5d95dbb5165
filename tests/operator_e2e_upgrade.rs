//! End-to-end acceptance of the upgrade guard: the operator as its own process against the Kubernetes API
//! simulator, whose kubelet runs OpenBao as a StatefulSet of real `bao` processes (the image tag picks the
//! release) and the real executor; a real S3 server holds the pre-upgrade snapshot.

mod operator_support;

use std::time::Duration;

use openbao_crds::{OpenBaoClusterStatus, Operation, UpgradePhase};
use operator_support::kubectl::kubectl;
use operator_support::runbook::{run_blocks, runbook, section_blocks};
use operator_support::upgrade_world::{CLUSTER, NotReadySampler, REPLICAS, UpgradeWorld};
use operator_support::{Operator, eventually, wait_ready};
use serde_json::json;

/// A pre-upgrade snapshot and three Pod replacements (each about 10 s) on a busy machine.
const UPGRADE_DEADLINE: Duration = Duration::from_secs(420);
const OBSERVE_DEADLINE: Duration = Duration::from_secs(90);

fn upgrading(status: &OpenBaoClusterStatus) -> Option<(String, String)> {
    status
        .conditions
        .iter()
        .find(|condition| condition.type_ == "Upgrading")
        .map(|condition| (condition.status.clone(), condition.reason.clone()))
}

async fn start_operator(world: &UpgradeWorld, log: &str) -> Operator {
    let operator = Operator::start(&world.kubeconfig, &world.dir.path().join(log));
    wait_ready(&operator).await;
    operator
}

/// The upgrade ended in `phase` and released the lock (two writes: waited for together).
async fn ended(
    world: &UpgradeWorld,
    operator: &Operator,
    phase: UpgradePhase,
    deadline: Duration,
) -> OpenBaoClusterStatus {
    eventually(
        &format!("the upgrade ends {phase} and the lock is free"),
        deadline,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            (status.upgrade.as_ref()?.phase == phase && status.operation_lock.is_none())
                .then_some(status)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_change_rolls_2_6_2_to_2_7_2_after_a_pre_upgrade_snapshot_one_pod_at_a_time() {
    // The gate holds backup Pods: the pre-upgrade snapshot waits there while the upgrade holds the lock.
    let world = UpgradeWorld::start("2.6.2", false, false).await;
    world.create_cluster("2.6.2", "* * * * *").await;
    let operator = start_operator(&world, "operator.log").await;
    world.wait_for_version(&operator, "2.6.2").await;
    let status = world.status().await.unwrap();
    assert_eq!(
        upgrading(&status),
        Some(("False".into(), "UpgradeComplete".into()))
    );
    assert!(status.upgrade.is_none(), "nothing to upgrade yet");
    let sampler = NotReadySampler::start(world.client.clone());

    world
        .merge_patch_cluster(json!({"spec": {"version": "2.7.2"}}))
        .await;
    eventually(
        "the pre-upgrade snapshot runs under the upgrade's lock",
        OBSERVE_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            let upgrade = status.upgrade?;
            let lock = status.operation_lock?;
            (upgrade.phase == UpgradePhase::PreUpgradeSnapshot
                && lock.operation == Operation::Upgrade
                && lock.holder == "upgrade/2.7.2")
                .then_some(())
        },
    )
    .await;
    // While the upgrade holds the lock: scheduled windows fire, and a person asks for a manual backup.
    world
        .merge_patch_cluster(json!({"spec": {"backup": {"suspend": false}}}))
        .await;
    kubectl(
        &world.kubeconfig,
        &[
            "annotate",
            "obc",
            CLUSTER,
            "openbao.org/trigger-backup=during-upgrade",
        ],
    )
    .await;
    // The backup child runs the snapshot: a window that comes due meanwhile waits for it, then meets the
    // upgrade's lock.
    eventually(
        "a scheduled window comes due while the upgrade holds the lock",
        Duration::from_secs(90),
        operator.log_path(),
        || async {
            let next = world.status().await?.backup?.next_scheduled_backup?;
            (next < chrono::Utc::now()).then_some(())
        },
    )
    .await;
    assert_eq!(
        world.pod_creates().values().sum::<usize>(),
        REPLICAS as usize,
        "no Pod is replaced before the pre-upgrade snapshot"
    );
    world.gate.open();
    let skipped = eventually(
        "the window that came due during the upgrade is recorded as skipped",
        Duration::from_secs(120),
        operator.log_path(),
        || async {
            let skipped = world.events_with_reason("BackupSkipped").await;
            (!skipped.is_empty()).then_some(skipped)
        },
    )
    .await;
    let note = skipped[0].note.clone().unwrap_or_default();
    assert!(note.contains("Upgrade"), "{note}");

    let status = ended(&world, &operator, UpgradePhase::Completed, UPGRADE_DEADLINE).await;
    let most_not_ready = sampler.stop().await;

    let upgrade = status.upgrade.clone().unwrap();
    assert_eq!(
        (upgrade.from_version.as_str(), upgrade.to_version.as_str()),
        ("2.6.2", "2.7.2")
    );
    assert_eq!(status.current_version.as_deref(), Some("2.7.2"));
    assert_eq!(
        upgrading(&status),
        Some(("False".into(), "UpgradeComplete".into()))
    );
    assert!(
        status
            .operation_lock
            .as_ref()
            .is_none_or(|lock| lock.operation != Operation::Upgrade),
        "the upgrade released the lock: {:?}",
        status.operation_lock
    );
    let key = upgrade
        .pre_upgrade_snapshot_key
        .clone()
        .expect("the pre-upgrade snapshot key");
    assert!(key.contains("pre-upgrade"), "{key}");
    assert!(
        world.store.list_keys().contains(&key),
        "the pre-upgrade snapshot is in the bucket"
    );
    let mut updated = upgrade.pods_updated.clone();
    updated.sort();
    assert_eq!(
        updated,
        ["openbao-0", "openbao-1", "openbao-2"],
        "each Pod once"
    );
    let creates = world.pod_creates();
    assert_eq!(
        creates.values().copied().collect::<Vec<_>>(),
        vec![2; REPLICAS as usize],
        "every Pod created once at the start and once by its replacement: {creates:?}"
    );
    assert!(
        most_not_ready <= 1,
        "never two Pods down at once (at most {most_not_ready} not Ready)"
    );
    assert_eq!(
        world.versions().await,
        vec![Some("2.7.2".to_string()); REPLICAS as usize]
    );
    assert_eq!(world.read_kept().await.as_deref(), Some("written on 2.6.2"));
    for reason in [
        "UpgradeStarted",
        "PreUpgradeSnapshotTaken",
        "PodUpgraded",
        "UpgradeCompleted",
    ] {
        assert!(
            !world.events_with_reason(reason).await.is_empty(),
            "event {reason}"
        );
    }
    assert_eq!(world.events_with_reason("PodUpgraded").await.len(), 3);

    // The manual backup asked for during the upgrade runs after it.
    let backup = eventually(
        "the manual backup queued during the upgrade ran after it",
        Duration::from_secs(120),
        operator.log_path(),
        || async {
            let backup = world.status().await?.backup?;
            (backup.last_handled_trigger.as_deref() == Some("during-upgrade")
                && backup.last_success_time.is_some())
            .then_some(backup)
        },
    )
    .await;
    assert!(
        backup.last_attempt_time >= upgrade.completed_at,
        "the manual backup started after the upgrade completed: {:?} vs {:?}",
        backup.last_attempt_time,
        upgrade.completed_at
    );

    // The runbook's commands for following an upgrade and reading a stopped one, as written.
    let (path, text) = runbook("upgrade.md");
    let mut blocks = section_blocks(&text, "");
    blocks.extend(section_blocks(&text, "## Before you start"));
    blocks.extend(section_blocks(&text, "## 1."));
    blocks.extend(section_blocks(&text, "## 3."));
    let ran = run_blocks(&blocks, &path, &world.kubeconfig, operator.log_path(), &[]).await;
    assert_eq!(
        ran, 5,
        "the export, the look, following, waiting, reading a stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pre_upgrade_snapshot_blocks_the_upgrade_until_a_retry_and_a_downgrade_is_refused()
{
    let world = UpgradeWorld::start("2.6.2", true, true).await;
    world.create_cluster("2.6.2", "0 3 * * *").await;
    let operator = start_operator(&world, "operator.log").await;
    world.wait_for_version(&operator, "2.6.2").await;
    let before = world.stateful_set().await;

    world
        .merge_patch_cluster(json!({"spec": {"version": "2.7.2"}}))
        .await;
    let status = ended(
        &world,
        &operator,
        UpgradePhase::Blocked,
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(
        upgrading(&status),
        Some(("False".into(), "PreUpgradeSnapshotFailed".into()))
    );
    let message = status.upgrade.as_ref().unwrap().message.clone().unwrap();
    assert!(message.contains("retry-upgrade"), "{message}");
    let after = world.stateful_set().await;
    assert_eq!(
        (
            after.metadata.generation,
            after.spec.as_ref().unwrap().template.clone()
        ),
        (
            before.metadata.generation,
            before.spec.as_ref().unwrap().template.clone()
        ),
        "the StatefulSet is unchanged"
    );
    assert_eq!(world.stateful_set_patches(), 0);
    assert_eq!(
        world.pod_creates().values().sum::<usize>(),
        REPLICAS as usize
    );
    assert_eq!(world.events_with_reason("UpgradeBlocked").await.len(), 1);

    // Blocked stays blocked without a retry.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        world.status().await.unwrap().upgrade.unwrap().phase,
        UpgradePhase::Blocked
    );

    // The runbook's section on `Blocked`, as written: read why, fix (here: the credentials), retry and wait.
    world.set_store_credentials(true).await;
    let (path, text) = runbook("upgrade.md");
    let mut blocks = section_blocks(&text, "");
    blocks.extend(section_blocks(&text, "## 2."));
    let ran = run_blocks(&blocks, &path, &world.kubeconfig, operator.log_path(), &[]).await;
    assert_eq!(ran, 3, "the export, the look and the retry");
    let status = ended(&world, &operator, UpgradePhase::Completed, UPGRADE_DEADLINE).await;
    assert_eq!(status.current_version.as_deref(), Some("2.7.2"));
    assert!(
        status.upgrade.as_ref().unwrap().retry_token.is_some(),
        "the attempt answered the runbook's retry annotation"
    );
    assert_eq!(
        world.versions().await,
        vec![Some("2.7.2".to_string()); REPLICAS as usize]
    );

    // Back to 2.6.2: refused, nothing touched.
    let patches = world.stateful_set_patches();
    let creates = world.pod_creates();
    let epoch = status.last_lock_epoch;
    world
        .merge_patch_cluster(json!({"spec": {"version": "2.6.2"}}))
        .await;
    let status = eventually(
        "the downgrade is refused",
        OBSERVE_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            (upgrading(&status)? == ("False".into(), "DowngradeRefused".into())).then_some(status)
        },
    )
    .await;
    assert_eq!(world.events_with_reason("UpgradeRefused").await.len(), 1);
    assert_eq!(world.stateful_set_patches(), patches);
    assert_eq!(world.pod_creates(), creates);
    assert_eq!(status.last_lock_epoch, epoch, "no lock was taken");
    assert_eq!(status.current_version.as_deref(), Some("2.7.2"));
}

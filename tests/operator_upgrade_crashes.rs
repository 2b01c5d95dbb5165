//! SIGKILL the operator at seeded random points of upgrades. Each round starts a fresh StatefulSet of three real
//! 2.6.2 Pods, asks for 2.7.2 and kills the operator up to three times while the upgrade runs (restarting it
//! each time). The upgrade must complete with every Pod on 2.7.2; never two Pods down at once (sampled every
//! 100 ms); each Pod replaced exactly once (Pod creates counted in the simulator's request log); one pre-upgrade
//! backup Job (accepted Job creates); and the lock free at the end.
//!
//! The suite runs `UPGRADE_KILL_ROUNDS` rounds (default 1); `scripts/reliability.sh` runs 10.

mod operator_support;

use std::time::Duration;

use chrono::Utc;
use openbao_crds::UpgradePhase;
use operator_support::upgrade_world::{NotReadySampler, REPLICAS, UpgradeWorld};
use operator_support::wait::eventually_explained;
use operator_support::{Operator, wait_ready};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

const DEFAULT_ROUNDS: usize = 1;
const KILLS_PER_ROUND: usize = 3;
/// The snapshot and three replacements take about 20 s here: kill points spread over the whole upgrade.
const MAX_KILL_DELAY_MS: u64 = 8_000;
const ROUND_DEADLINE: Duration = Duration::from_secs(420);
const POD_NAME: &str = "operator-restarting";

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

/// What one round found wrong (empty: nothing).
async fn round(round: usize, seed: u64, rng: &mut StdRng) -> Vec<String> {
    let world = UpgradeWorld::start("2.6.2", false, true).await;
    world.create_cluster("2.6.2", "0 3 * * *").await;
    let log = |n: usize| world.dir.path().join(format!("operator-{n}.log"));
    let mut operator = Operator::start_as(&world.kubeconfig, &log(0), POD_NAME);
    wait_ready(&operator).await;
    world.wait_for_version(&operator, "2.6.2").await;

    let sampler = NotReadySampler::start(world.client.clone());

    world
        .merge_patch_cluster(json!({"spec": {"version": "2.7.2"}}))
        .await;
    let mut kills = Vec::new();
    for kill in 0..KILLS_PER_ROUND {
        let delay = rng.random_range(0..MAX_KILL_DELAY_MS);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let phase = world
            .status()
            .await
            .and_then(|status| status.upgrade)
            .map(|upgrade| upgrade.phase);
        if phase == Some(UpgradePhase::Completed) {
            break;
        }
        println!("round {round}: SIGKILL {delay} ms into {phase:?} (seed {seed})");
        kills.push((delay, phase));
        operator.kill();
        drop(operator);
        operator = Operator::start_as(&world.kubeconfig, &log(kill + 1), POD_NAME);
    }
    let context = format!("round {round} (seed {seed}, kills {kills:?})");
    let status = eventually_explained(
        &format!("{context}: the upgrade completed and the lock is free"),
        ROUND_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await.ok_or("no status")?;
            let phase = status.upgrade.as_ref().map(|upgrade| upgrade.phase);
            if phase != Some(UpgradePhase::Completed) {
                return Err(format!("phase {phase:?}"));
            }
            if let Some(lock) = &status.operation_lock {
                return Err(format!("lock held by {}", lock.holder));
            }
            Ok(status)
        },
    )
    .await;
    let most_not_ready = sampler.stop().await;

    let mut violations = Vec::new();
    if most_not_ready > 1 {
        violations.push(format!("{most_not_ready} Pods not Ready at once"));
    }
    let creates = world.pod_creates();
    if creates.values().any(|count| *count != 2) || creates.len() != REPLICAS as usize {
        violations.push(format!(
            "Pod creates {creates:?}: a Pod replaced twice or not at all"
        ));
    }
    let snapshots: Vec<_> = world
        .sim
        .requests_matching(kube_sim::Verb::Create, "jobs")
        .into_iter()
        .filter(|create| create.status == 201)
        .filter(|create| {
            create
                .name
                .as_deref()
                .is_some_and(|name| name.contains("-pre-upgrade-"))
        })
        .collect();
    if snapshots.len() != 1 {
        violations.push(format!("{} pre-upgrade Jobs created", snapshots.len()));
    }
    let versions = world.versions().await;
    if versions != vec![Some("2.7.2".to_string()); REPLICAS as usize] {
        violations.push(format!("versions {versions:?}"));
    }
    if status.current_version.as_deref() != Some("2.7.2") {
        violations.push(format!("currentVersion {:?}", status.current_version));
    }
    if world.read_kept().await.as_deref() != Some("written on 2.6.2") {
        violations.push("the secret written on 2.6.2 is gone".into());
    }
    println!(
        "round {round}: {} kills, violations {violations:?}",
        kills.len()
    );
    operator.kill();
    violations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_killed_at_random_points_of_upgrades_completes_them_one_pod_at_a_time() {
    let rounds = env_number("UPGRADE_KILL_ROUNDS").unwrap_or(DEFAULT_ROUNDS);
    let seed = env_number("OPERATOR_E2E_SEED")
        .unwrap_or_else(|| Utc::now().timestamp_millis().unsigned_abs());
    println!("{rounds} rounds, kill points from seed {seed} (replay: OPERATOR_E2E_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut found = Vec::new();
    for index in 0..rounds {
        for violation in round(index, seed, &mut rng).await {
            found.push(format!("round {index}: {violation}"));
        }
    }
    println!(
        "reliability-row: R7|operator SIGKILLed during upgrades ({KILLS_PER_ROUND} kills a round)|{rounds}|{}",
        found.len()
    );
    assert!(found.is_empty(), "seed {seed}: {found:#?}");
}

//! SIGKILL the operator at seeded random points of restores. A destructive restore must never start twice: each
//! request's restore Job is created at most once (counted in the simulator's log of every create it answered,
//! refused ones included), every request reaches a terminal phase, and the lock is never leaked.
//!
//! The suite runs `RESTORE_KILL_ROUNDS` rounds (default 20); `scripts/reliability.sh` runs the full count.

mod operator_support;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use kube_sim::Verb;
use openbao_crds::RestorePhase;
use operator_support::wait::eventually_explained;
use operator_support::world::{BackupSettings, World, WorldOptions, job_finished};
use operator_support::{Operator, eventually, wait_ready};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

const DEFAULT_ROUNDS: usize = 20;
/// A restore takes about 15 s here (validation, the restore, OpenBao settling): kills land in every phase.
const MAX_KILL_DELAY_MS: u64 = 16_000;
const ROUND_DEADLINE: Duration = Duration::from_secs(240);

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

/// The request ended, no restore Job runs, the lock is free and the finalizer is gone. `Err` says what is missing.
async fn settled(world: &World, name: &str) -> Result<RestorePhase, String> {
    let request = world
        .restores()
        .get(name)
        .await
        .map_err(|error| error.to_string())?;
    let phase = request
        .status
        .as_ref()
        .and_then(|status| status.phase)
        .ok_or("no phase yet")?;
    if !phase.is_terminal() {
        return Err(format!("phase {phase}"));
    }
    if !request.metadata.finalizers.unwrap_or_default().is_empty() {
        return Err("finalizer still set".into());
    }
    let running: Vec<String> = world
        .restore_jobs()
        .await
        .iter()
        .filter(|job| !job_finished(job))
        .filter_map(|job| job.metadata.name.clone())
        .collect();
    if !running.is_empty() {
        return Err(format!("restore Jobs still running: {running:?}"));
    }
    if let Some(lock) = world.status().await.and_then(|s| s.operation_lock) {
        return Err(format!("lock held by {}", lock.holder));
    }
    Ok(phase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_killed_at_random_points_of_restores_never_restores_twice() {
    let rounds = env_number("RESTORE_KILL_ROUNDS").unwrap_or(DEFAULT_ROUNDS);
    let seed = env_number("OPERATOR_E2E_SEED")
        .unwrap_or_else(|| Utc::now().timestamp_millis().unsigned_abs());
    println!("{rounds} rounds, kill points from seed {seed} (replay: OPERATOR_E2E_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);

    let world = World::start(WorldOptions::default()).await;
    let pod_name = "operator-restarting";
    let mut operator =
        Operator::start_as(&world.kubeconfig, &world.path("operator-0.log"), pod_name);
    wait_ready(&operator).await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    world.trigger_backup("to-restore").await;
    eventually(
        "a backup to restore",
        Duration::from_secs(90),
        operator.log_path(),
        || async { world.status().await?.backup?.last_backup_key },
    )
    .await;

    let mut outcomes: BTreeMap<String, (u64, RestorePhase, Option<String>)> = BTreeMap::new();
    for round in 0..rounds {
        world
            .bao
            .wait_healthy()
            .await
            .expect("OpenBao healthy between rounds");
        let name = format!("kill-{round}");
        world
            .create_restore(&name, json!({"source": {"latest": true}}))
            .await;
        let delay = rng.random_range(0..MAX_KILL_DELAY_MS);
        println!("round {round}: SIGKILL {delay} ms after creating {name} (seed {seed})");
        tokio::time::sleep(Duration::from_millis(delay)).await;
        operator.kill();
        drop(operator);
        operator = Operator::start_as(
            &world.kubeconfig,
            &world.path(&format!("operator-{}.log", round + 1)),
            pod_name,
        );
        let context = format!("round {round} (seed {seed}, kill after {delay} ms)");
        let phase = eventually_explained(
            &format!("{context}: {name} ended, no Job running, lock free"),
            ROUND_DEADLINE,
            operator.log_path(),
            || settled(&world, &name),
        )
        .await;
        let request = world.restores().get(&name).await.expect("the request");
        let status = request.status.expect("status");
        let reason = status
            .conditions
            .iter()
            .find(|c| c.type_ == "RestoreComplete")
            .map(|c| c.reason.clone());
        println!(
            "round {round}: {name} {phase} {reason:?} {:?}",
            status.message
        );
        outcomes.insert(name, (delay, phase, status.job_name.clone()));
    }

    // Counted where it happens: every Job create the simulator answered. A second restore for one request would
    // be a second accepted create of its Job (a repeat under the same name is refused with 409).
    let creates = world.sim.requests_matching(Verb::Create, "jobs");
    let accepted = world.accepted_job_creates();
    let refused: Vec<u16> = creates
        .iter()
        .map(|create| create.status)
        .filter(|status| *status != 201)
        .collect();
    println!("Job creates accepted: {accepted:?}; refused: {refused:?}");
    assert!(
        accepted.values().all(|count| *count == 1),
        "a Job name was created twice: {accepted:?}"
    );
    assert!(refused.iter().all(|status| *status == 409), "{refused:?}");
    let mut completed = 0;
    for (name, (delay, phase, job_name)) in &outcomes {
        if *phase == RestorePhase::Completed {
            completed += 1;
            let job = job_name
                .as_deref()
                .expect("a completed restore names its Job");
            assert_eq!(
                accepted.get(job),
                Some(&1),
                "{name} (kill after {delay} ms)"
            );
        }
    }
    // Per request: its destructive Jobs carry its name as a label; every accepted create is one of them.
    let is_destructive =
        |name: &str| name.contains("-restore-") && !name.contains("-restore-check-");
    let accepted_restores = accepted.keys().filter(|name| is_destructive(name)).count();
    let jobs = world.restore_jobs().await;
    let mut per_request: BTreeMap<String, usize> = BTreeMap::new();
    for job in &jobs {
        let name = job.metadata.name.as_deref().unwrap_or_default();
        if is_destructive(name) {
            let request = job
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get("openbao.org/restore"))
                .cloned()
                .unwrap_or_default();
            *per_request.entry(request).or_default() += 1;
        }
    }
    let violations = accepted.values().filter(|count| **count > 1).count()
        + per_request.values().filter(|count| **count > 1).count()
        + accepted_restores.abs_diff(per_request.values().sum::<usize>())
        + refused.iter().filter(|status| **status != 409).count();
    println!("reliability-row: R1|operator SIGKILLed during restores|{rounds}|{violations}");
    assert_eq!(
        per_request.values().sum::<usize>(),
        accepted_restores,
        "every accepted restore Job create is a Job that still exists: {accepted:?}"
    );
    assert!(
        per_request.values().all(|count| *count == 1),
        "at most one restore Job per request: {per_request:?}"
    );
    println!("{completed} of {rounds} requests completed; the others failed visibly");
    assert!(completed > 0, "no round restored anything: {outcomes:?}");
}

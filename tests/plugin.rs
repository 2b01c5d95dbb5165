//! `kubectl openbao`, the plugin, driven through the real kubectl (the tools' 1.37 and the machine's) against the
//! Kubernetes API simulator with the operator running, a real OpenBao cluster and a real S3 server: status, a
//! manual backup followed to its end, recovery points, a dry-run restore, the lock while a backup holds it, the
//! executor log, and every failure as one line on stderr with a non-zero exit.

mod operator_support;
#[path = "operator_support/plugin.rs"]
mod plugin_support;

use std::time::Duration;

use kube_sim::Sim;
use openbao_crds::RestorePhase;
use operator_support::world::{BackupSettings, CLUSTER, World, WorldOptions};
use operator_support::{Operator, apply_crds, eventually, wait_ready};
use plugin_support::{CLIENTS, Client, openbao, openbao_fails, openbao_ok};
use serde_json::Value;

/// A backup Job holding the lock on a busy machine.
const LOCK_DEADLINE: Duration = Duration::from_secs(90);

async fn started(options: WorldOptions) -> (World, Operator) {
    let world = World::start(options).await;
    let operator = Operator::start(&world.kubeconfig, &world.path("operator.log"));
    wait_ready(&operator).await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    (world, operator)
}

fn token_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| {
            line.split_once("queued: trigger ")
                .map(|(_, t)| t.trim().to_string())
        })
        .unwrap_or_else(|| panic!("a trigger token in {stdout:?}"))
}

/// Status before any backup; `backup --wait` through queued → running → succeeded with the key, size and digest
/// the status records; `points` newest first; a dry-run `restore --latest --wait` pinned to that key; the last
/// backup's executor log. Each through both kubectl binaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_backup_points_and_a_dry_run_restore_through_kubectl() {
    let (world, operator) = started(WorldOptions::default()).await;
    let kubeconfig = world.kubeconfig.clone();

    let table = openbao_ok(Client::Tools, &kubeconfig, &["status"]).await;
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with(CLUSTER)
            && row.contains("never")
            && row.contains("suspended")
            && row.contains("free"),
        "{table}"
    );

    for client in CLIENTS {
        let out = openbao_ok(
            client,
            &kubeconfig,
            &["backup", CLUSTER, "--wait", "--timeout", "100s"],
        )
        .await;
        println!("{client:?} backup --wait:\n{out}");
        let token = token_of(&out);
        let backup = world
            .status()
            .await
            .and_then(|s| s.backup)
            .expect("status.backup");
        assert_eq!(
            backup.last_handled_trigger.as_deref(),
            Some(token.as_str()),
            "{out}"
        );
        let key = backup.last_backup_key.expect("a key");
        for part in [
            "succeeded".to_string(),
            format!("key:       {key}"),
            format!(
                "digest:    {}",
                backup.last_backup_digest.expect("a digest")
            ),
            format!("({} bytes)", backup.last_backup_size.expect("a size")),
        ] {
            assert!(out.contains(&part), "{client:?}: {part:?} in\n{out}");
        }

        let points: Value = serde_json::from_str(
            &openbao_ok(client, &kubeconfig, &["points", CLUSTER, "-o", "json"]).await,
        )
        .expect("points as JSON");
        assert_eq!(points[0]["key"], key.as_str(), "newest first: {points}");
        let table = openbao_ok(client, &kubeconfig, &["points", CLUSTER]).await;
        assert!(
            table.lines().nth(1).is_some_and(|row| row.ends_with(&key)),
            "{table}"
        );

        let summary: Value = serde_json::from_str(
            &openbao_ok(
                client,
                &kubeconfig,
                &["status", CLUSTER, "-o", "json", "-n", "default"],
            )
            .await,
        )
        .expect("status as JSON");
        assert_eq!(summary["lastBackup"]["key"], key.as_str(), "{summary}");
        assert_eq!(summary["consecutiveFailures"], 0);
        let yaml = openbao_ok(client, &kubeconfig, &["status", CLUSTER, "-o", "yaml"]).await;
        assert!(yaml.contains(&format!("key: {key}")), "{yaml}");

        let out = openbao_ok(
            client,
            &kubeconfig,
            &["restore", CLUSTER, "--latest", "--dry-run", "--wait"],
        )
        .await;
        println!("{client:?} restore --dry-run --wait:\n{out}");
        let name = out
            .lines()
            .find_map(|line| line.strip_prefix("openbaorestore/"))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("a created restore in {out}"));
        assert!(name.starts_with(&format!("{CLUSTER}-restore-")), "{out}");
        assert!(
            out.contains(&format!("snapshot:   {key}")),
            "{client:?}:\n{out}"
        );
        assert!(
            out.contains("outcome:    Completed (DryRun)"),
            "{client:?}:\n{out}"
        );
        let request = world.restores().get(name).await.expect("the request");
        assert_eq!(
            request.status.and_then(|s| s.phase),
            Some(RestorePhase::Completed)
        );

        let log = openbao(client, &kubeconfig, &["logs", CLUSTER, "--last-backup"]).await;
        assert!(log.status.success(), "{}", log.stderr);
        assert!(log.stderr.contains("==> Job "), "{}", log.stderr);
        assert!(
            !log.stdout.trim().is_empty(),
            "the executor logged something"
        );
    }

    let all = openbao_ok(Client::Machine, &kubeconfig, &["status", "-A"]).await;
    assert!(
        all.starts_with("NAMESPACE   NAME")
            && all
                .lines()
                .nth(1)
                .is_some_and(|row| row.starts_with("default")),
        "{all}"
    );
    let script = openbao_ok(Client::Tools, &kubeconfig, &["completion", "bash"]).await;
    assert!(
        script.contains("kubectl-openbao") && script.contains("points"),
        "a bash completion script"
    );
    let refused = openbao_fails(
        Client::Tools,
        &kubeconfig,
        &["restore", CLUSTER, "--latest"],
    )
    .await;
    assert!(refused.contains("pass --yes"), "{refused}");
    let detail = openbao_ok(Client::Machine, &kubeconfig, &["status", CLUSTER]).await;
    assert!(
        detail.contains("Lock:          free") && detail.contains("Failures:      0"),
        "{detail}"
    );
    drop(operator);
}

/// While the gate holds a backup Job, `lock` names the Job, its epoch and the trigger queued behind it; `status`
/// shows the lock; `backup --wait --timeout 1s` gives up with one line while its trigger stays queued. A
/// `backup --wait` started before follows its backup from queued through running to succeeded once the gate opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_while_a_backup_holds_it_and_a_timeout() {
    let (world, operator) = started(WorldOptions {
        gate_open: false,
        gate_backups_only: true,
        ..WorldOptions::default()
    })
    .await;
    let kubeconfig = world.kubeconfig.clone();
    let followed = tokio::spawn({
        let kubeconfig = kubeconfig.clone();
        async move {
            openbao_ok(
                Client::Tools,
                &kubeconfig,
                &["backup", CLUSTER, "--wait", "--timeout", "100s"],
            )
            .await
        }
    });
    let lock = eventually(
        "the backup holds the lock",
        LOCK_DEADLINE,
        operator.log_path(),
        || async { world.status().await?.operation_lock },
    )
    .await;

    let output = openbao(
        Client::Machine,
        &kubeconfig,
        &["backup", CLUSTER, "--wait", "--timeout", "1s"],
    )
    .await;
    println!("timed out:\n{}{}", output.stdout, output.stderr);
    let timeout = openbao_fails(
        Client::Machine,
        &kubeconfig,
        &["backup", CLUSTER, "--wait", "--timeout", "1s"],
    )
    .await;
    assert!(
        timeout.contains("timed out after 1s waiting for backup"),
        "{timeout}"
    );
    assert!(
        output
            .stdout
            .contains("queued (1 of 1 in status.backup.pendingTriggers"),
        "{}",
        output.stdout
    );
    let queued = world
        .status()
        .await
        .and_then(|s| s.backup)
        .map(|b| b.pending_triggers)
        .unwrap_or_default();
    assert_eq!(queued.len(), 2, "the timed-out triggers stay queued");

    for client in CLIENTS {
        let out = openbao_ok(client, &kubeconfig, &["lock", CLUSTER]).await;
        println!("{client:?} lock:\n{out}");
        for part in [
            format!("held for Backup by {}", lock.holder),
            format!("epoch:     {}", lock.epoch),
            format!("manual backup {} (queued)", queued[0]),
            format!("manual backup {} (queued)", queued[1]),
        ] {
            assert!(out.contains(&part), "{client:?}: {part:?} in\n{out}");
        }
        let table = openbao_ok(client, &kubeconfig, &["status"]).await;
        println!("{client:?} status:\n{table}");
        assert!(
            table.contains(&format!("Backup by {}", lock.holder)),
            "{table}"
        );
    }

    world.gate.open();
    let out = followed.await.expect("the followed backup");
    println!("followed backup:\n{out}");
    for part in ["running (Job ", "succeeded", "digest:    sha256:"] {
        assert!(out.contains(part), "{part:?} in\n{out}");
    }
    eventually(
        "the lock is free and the queue empty",
        LOCK_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            let backup = status.backup?;
            (status.operation_lock.is_none() && backup.pending_triggers.is_empty()).then_some(())
        },
    )
    .await;
    let out = openbao_ok(Client::Tools, &kubeconfig, &["lock", CLUSTER]).await;
    assert!(out.contains(": free (last epoch"), "{out}");
}

/// An unknown cluster, a server without the CRDs, an unreachable server: one line on stderr, non-zero exit,
/// through both kubectl binaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_one_line_and_non_zero() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let with_crds = Sim::start().await.expect("simulator");
    apply_crds(&with_crds.client().await.expect("client")).await;
    let with_crds_config = dir.path().join("with-crds");
    with_crds
        .write_kubeconfig(&with_crds_config)
        .expect("kubeconfig");
    let without_crds = Sim::start().await.expect("simulator");
    let without_crds_config = dir.path().join("without-crds");
    without_crds
        .write_kubeconfig(&without_crds_config)
        .expect("kubeconfig");
    let closed_port = openbao_test_harness::ports::free_port().expect("a free port");
    let unreachable_config = dir.path().join("unreachable");
    let text = std::fs::read_to_string(&with_crds_config).expect("kubeconfig text");
    std::fs::write(
        &unreachable_config,
        text.replace(
            &with_crds.address().to_string(),
            &format!("127.0.0.1:{closed_port}"),
        ),
    )
    .expect("kubeconfig");

    // Two different kubectl binaries run the plugin.
    let versions = CLIENTS.map(|client| {
        plugin_support::kubectl(client, &with_crds_config).run_ok(&["version", "--client"])
    });
    assert_ne!(versions[0], versions[1], "{versions:?}");

    for client in CLIENTS {
        let line = openbao_fails(client, &with_crds_config, &["status", "nope"]).await;
        assert_eq!(
            line,
            "error: OpenBaoCluster \"nope\" not found in namespace \"default\""
        );
        let line = openbao_fails(
            client,
            &with_crds_config,
            &["backup", "nope", "-n", "elsewhere"],
        )
        .await;
        assert!(
            line.contains("\"nope\" not found in namespace \"elsewhere\""),
            "{line}"
        );
        for args in [&["status"][..], &["points", "prod"], &["lock", "prod"]] {
            let line = openbao_fails(client, &without_crds_config, args).await;
            assert!(
                line.contains("does not serve openbaoclusters"),
                "{args:?}: {line}"
            );
        }
        let line = openbao_fails(client, &unreachable_config, &["status"]).await;
        println!("{client:?}: {line}");
        assert!(
            line.contains(&format!(
                "cannot reach the Kubernetes API at https://127.0.0.1:{closed_port}"
            )),
            "{line}"
        );
        let line = openbao_fails(
            client,
            &with_crds_config,
            &["status", "--kubeconfig", "/nonexistent/kubeconfig"],
        )
        .await;
        assert!(line.contains("cannot load the kubeconfig"), "{line}");
        let line = openbao_fails(client, &with_crds_config, &["status", "--context", "nope"]).await;
        assert!(
            line.contains("cannot load the kubeconfig") && line.contains("nope"),
            "{line}"
        );
    }
}

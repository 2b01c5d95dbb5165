//! The runbooks in `docs/runbooks/` are run as written: every ```sh block is extracted from the file (never
//! copied into the test) and run with bash against the simulator, with the operator, a real OpenBao and a real S3
//! server behind it. A block that starts with `# runbook-test: skip (<why>)` is left out, and must say why. The
//! `kubectl openbao` plugin built with the test is on PATH, so the blocks that use it run too.

mod operator_support;

use std::time::Duration;

use openbao_crds::RestorePhase;
use operator_support::runbook::{SKIP_MARKER, run_block, runbook, shell_blocks};
use operator_support::world::{BackupSettings, World, WorldOptions};
use operator_support::{Operator, eventually, wait_ready};
use serde_json::json;

#[test]
fn blocks_are_extracted_with_their_lines_and_skips_say_why() {
    let blocks = shell_blocks(
        "text\n```sh\necho one\n```\n```yaml\nno: 1\n```\n```sh\n# runbook-test: skip (x)\n```\n",
    );
    assert_eq!(blocks.len(), 2);
    assert_eq!((blocks[0].line, blocks[0].text.as_str()), (2, "echo one\n"));
    let (_, upgrade) = runbook("upgrade.md");
    let (_, restore) = runbook("restore.md");
    for block in shell_blocks(&restore)
        .into_iter()
        .chain(shell_blocks(&upgrade))
    {
        if let Some(rest) = block.text.trim_start().strip_prefix(SKIP_MARKER) {
            assert!(
                rest.trim_start().starts_with("(") && rest.len() > 8,
                "line {}: a skip says why",
                block.line
            );
        }
    }
}

/// `docs/runbooks/restore.md` from top to bottom: look, dry run, restore `latest`, restore one key, the failure
/// and after-restore checks. Afterwards every request it created has completed and the backed-up value is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restore_runbook_runs_as_written() {
    let world = World::start(WorldOptions::default()).await;
    world
        .bao
        .write_secret("runbook", &json!({"value": "backed up"}))
        .await
        .expect("secret written");
    let operator = Operator::start(&world.kubeconfig, &world.path("operator.log"));
    wait_ready(&operator).await;
    world.create_cluster(&BackupSettings::manual_only()).await;
    world.trigger_backup("before-runbook").await;
    eventually(
        "a backup to restore",
        Duration::from_secs(90),
        operator.log_path(),
        || async { world.status().await?.backup?.last_backup_key },
    )
    .await;
    world
        .bao
        .write_secret("runbook", &json!({"value": "changed"}))
        .await
        .expect("secret changed");

    let (path, text) = runbook("restore.md");
    let blocks = shell_blocks(&text);
    assert!(
        blocks.len() >= 6,
        "{} has {} blocks",
        path.display(),
        blocks.len()
    );
    let mut ran = 0;
    for block in &blocks {
        if block.text.trim_start().starts_with(SKIP_MARKER) {
            continue;
        }
        run_block(block, &path, &world.kubeconfig, operator.log_path(), &[]).await;
        ran += 1;
    }
    assert!(ran >= 6, "ran {ran} blocks");
    for name in ["rehearse", "bring-back", "bring-back-one"] {
        let request = world
            .restores()
            .get(name)
            .await
            .expect("the runbook's request");
        assert_eq!(
            request.status.and_then(|s| s.phase),
            Some(RestorePhase::Completed),
            "{name}"
        );
    }
    world.bao.wait_healthy().await.expect("OpenBao healthy");
    let value = world
        .bao
        .read_secret("runbook")
        .await
        .expect("read")
        .expect("the secret");
    assert_eq!(value["value"], "backed up");
}

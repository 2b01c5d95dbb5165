//! End to end: a spec the schema admits but the operator refuses (an unknown IANA time zone) sets
//! `BackupConfigurationReady=False` naming the field, starts nothing (not even a manual trigger), and once fixed
//! the queued trigger runs. The operator binary runs as its own process against the simulator, real OpenBao and S3.

mod operator_support;

use std::time::Duration;

use openbao_crds::OpenBaoClusterStatus;
use operator_support::kubectl::kubectl;
use operator_support::world::{BackupSettings, CLUSTER, World, WorldOptions};
use operator_support::{Operator, eventually, wait_ready};

use operator_support::wait::STARTUP_DEADLINE;
const BACKUP_DEADLINE: Duration = Duration::from_secs(90);
const CONDITION: &str = "BackupConfigurationReady";

fn configuration_condition(
    status: &OpenBaoClusterStatus,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    status.conditions.iter().find(|c| c.type_ == CONDITION)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_spec_starts_nothing_and_says_which_field_until_it_is_fixed() {
    let world = World::start(WorldOptions::default()).await;
    let operator = Operator::start(&world.kubeconfig, &world.path("operator.log"));
    wait_ready(&operator).await;

    let mut cluster = world.cluster_manifest(&BackupSettings {
        trigger: Some("while-refused"),
        ..BackupSettings::default()
    });
    cluster.spec.backup.as_mut().unwrap().time_zone = "Mars/Olympus_Mons".into();
    world
        .clusters()
        .create(&Default::default(), &cluster)
        .await
        .expect("the schema admits the object; the operator refuses it");

    let refused = eventually(
        "BackupConfigurationReady=False",
        STARTUP_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            configuration_condition(&status)
                .filter(|c| c.status == "False")
                .cloned()
        },
    )
    .await;
    assert_eq!(refused.reason, "InvalidTimeZone");
    assert!(
        refused.message.contains("spec.backup.timeZone") && refused.message.contains("Mars"),
        "{}",
        refused.message
    );
    let warning = eventually(
        "a BackupConfigurationInvalid event",
        STARTUP_DEADLINE,
        operator.log_path(),
        || async {
            world
                .events_with_reason("BackupConfigurationInvalid")
                .await
                .into_iter()
                .next()
        },
    )
    .await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    // What a user sees with kubectl.
    let shown = kubectl(
        &world.kubeconfig,
        &[
            "get",
            "obc",
            CLUSTER,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"BackupConfigurationReady\")].reason}",
        ],
    )
    .await;
    assert_eq!(shown.trim(), "InvalidTimeZone");

    let status = world.status().await.expect("status");
    assert!(
        world.backup_jobs().await.is_empty(),
        "a refused spec starts no backup, not even the manual trigger"
    );
    assert!(status.operation_lock.is_none(), "and takes no lock");
    assert!(
        status
            .backup
            .as_ref()
            .is_none_or(|b| b.next_scheduled_backup.is_none() && b.last_handled_trigger.is_none()),
        "{:?}",
        status.backup
    );

    kubectl(
        &world.kubeconfig,
        &[
            "patch",
            "obc",
            CLUSTER,
            "--type=merge",
            "-p",
            r#"{"spec":{"backup":{"timeZone":"UTC"}}}"#,
        ],
    )
    .await;
    let backup = eventually(
        "the queued manual backup once the spec is fixed",
        BACKUP_DEADLINE,
        operator.log_path(),
        || async {
            let status = world.status().await?;
            let ready = configuration_condition(&status)?.status == "True";
            let backup = status.backup?;
            (ready
                && backup.last_handled_trigger.as_deref() == Some("while-refused")
                && backup.last_backup_key.is_some())
            .then_some(backup)
        },
    )
    .await;
    assert_eq!(backup.consecutive_failures, 0, "{:?}", backup.last_failure);
    assert!(backup.next_scheduled_backup.is_some());
}

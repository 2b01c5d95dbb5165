//! The operator binary as its own process against the Kubernetes API simulator over HTTPS (kubeconfig), with the
//! project's CRDs applied the way an install does: a `* * * * *` cluster gets its backup Job, lock and status;
//! the process survives SIGKILL without duplicating the Job; `/metrics`, `/healthz` and `/readyz` answer.

mod operator_support;

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ListParams, PostParams};
use kube_sim::Sim;
use openbao_crds::OpenBaoCluster;
use operator_support::{NAMESPACE, Operator, apply_crds, eventually, wait_ready};

/// A `* * * * *` window opens within 60 s; the rest is a busy 2-core machine's slack.
const JOB_DEADLINE: Duration = Duration::from_secs(150);
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

const CLUSTER: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: prod, namespace: default}
spec:
  version: 2.4.1
  endpoint: https://openbao.default.svc:8200
  allowPlainHttp: true
  backup:
    schedule: "* * * * *"
    target:
      provider: s3
      bucket: snapshots
      s3: {endpoint: "http://127.0.0.1:9", region: us-east-1, forcePathStyle: true}
      credentialsSecretRef: {name: backup-s3}
    auth:
      jwt: {role: backup}
"#;

async fn backup_jobs(jobs: &Api<Job>) -> Vec<Job> {
    jobs.list(
        &ListParams::default().labels("openbao.org/cluster=prod,openbao.org/operation=backup"),
    )
    .await
    .map(|list| list.items)
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backup_job_lock_and_status_survive_an_operator_kill() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Sim::start().await.expect("simulator starts");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let client = sim.client().await.expect("client");
    apply_crds(&client).await;

    let log = dir.path().join("operator.log");
    let mut operator = Operator::start(&kubeconfig, &log);
    wait_ready(&operator).await;
    let (status, body) = operator.get("/healthz").await.expect("/healthz answers");
    assert_eq!((status, body.as_str()), (200, "ok"));

    let clusters: Api<OpenBaoCluster> = Api::namespaced(client.clone(), NAMESPACE);
    let cluster: OpenBaoCluster = serde_norway::from_str(CLUSTER).unwrap();
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .expect("cluster created");

    let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
    let job = eventually(
        "the operator to create a backup Job",
        JOB_DEADLINE,
        &log,
        || async { backup_jobs(&jobs).await.into_iter().next() },
    )
    .await;
    let job_name = job.metadata.name.clone().unwrap();
    assert!(job_name.starts_with("prod-backup-"), "{job_name}");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("OpenBaoCluster", Some(true))
    );

    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    accounts
        .get("prod-backup")
        .await
        .expect("the backup ServiceAccount exists");

    let observed = eventually(
        "lock and status.backup to be written",
        JOB_DEADLINE,
        &log,
        || async {
            let cluster = clusters.get("prod").await.ok()?;
            let status = cluster.status.clone()?;
            let lock = status.operation_lock.as_ref()?;
            status.backup.as_ref()?.last_attempt_time?;
            (lock.holder == format!("backup/{job_name}")).then_some(cluster)
        },
    )
    .await;
    let status = observed.status.unwrap();
    let epoch = status.operation_lock.as_ref().unwrap().epoch;
    assert!(epoch >= 1);
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "BackingUp" && c.status == "True"),
        "{:?}",
        status.conditions
    );
    let events: Api<Event> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("a BackupStarted event", JOB_DEADLINE, &log, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|event| event.reason.as_deref() == Some("BackupStarted"))
            .then_some(())
    })
    .await;
    let metrics = eventually("lock metrics", STARTUP_DEADLINE, &log, || async {
        let (_, text) = operator.get("/metrics").await?;
        text.contains(r#"openbao_operation_lock_held{namespace="default",cluster="prod",operation="Backup"} 1"#)
            .then_some(text)
    })
    .await;
    assert!(
        metrics.contains("openbao_actor_messages_total{"),
        "{metrics}"
    );
    assert!(
        metrics.contains("openbao_operation_lock_grants_total{"),
        "{metrics}"
    );

    // SIGKILL mid-backup (the Job never finishes: nothing runs it), then a new process takes over.
    operator.kill();
    let log2 = dir.path().join("operator-2.log");
    let operator = Operator::start(&kubeconfig, &log2);
    eventually("the new operator to lead and adopt the lock", JOB_DEADLINE, &log2, || async {
        let (_, text) = operator.get("/metrics").await?;
        text.contains(r#"openbao_actor_messages_total{namespace="default",cluster="prod",actor="supervisor"}"#)
            .then_some(())
    })
    .await;
    let after = clusters.get("prod").await.unwrap().status.unwrap();
    let lock = after
        .operation_lock
        .expect("the lock is kept while its Job runs");
    assert_eq!(
        (lock.holder.as_str(), lock.epoch),
        (format!("backup/{job_name}").as_str(), epoch)
    );
    assert_eq!(
        backup_jobs(&jobs).await.len(),
        1,
        "a restarted operator must not start a second backup while the first runs"
    );
    drop(sim);
}

/// The whole path: the operator creates the Job, the simulator's kubelet runs the real executor binary, which
/// logs in to a real OpenBao with the Job's projected ServiceAccount token (JWT auth trusting the simulator's
/// issuer) and uploads a verified snapshot to a real S3 server; the operator records it in status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backup_reaches_the_bucket_and_status_end_to_end() {
    use k8s_openapi::api::core::v1::Secret;
    use openbao_test_harness::{
        JwtAuthSetup, OpenBaoCluster as Bao, OpenBaoOptions, S3Options, S3Server,
    };

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let bao = Bao::start(1, OpenBaoOptions::default())
        .await
        .expect("OpenBao starts (install it with scripts/install-test-tools.sh)");
    let store = S3Server::start(S3Options::default()).expect("S3 server starts");

    let controllers = kube_sim::controllers::ControllersConfig::new(
        dir.path().join("pods"),
        dir.path().join("logs"),
    )
    .image(
        "openbao-operator:test",
        env!("CARGO_BIN_EXE_openbao-operator"),
    );
    let sim = Sim::builder()
        .controllers(controllers)
        .start()
        .await
        .expect("simulator starts");
    let mut setup =
        JwtAuthSetup::for_signer(&openbao_test_harness::TestJwtSigner::new(sim.issuer()));
    setup.public_key_pem = sim.service_account_public_key_pem();
    setup.backup_subject = "system:serviceaccount:default:prod-backup".into();
    bao.configure_jwt_auth(&setup)
        .await
        .expect("JWT auth configured");

    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let client = sim.client().await.expect("client");
    apply_crds(&client).await;
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "backup-s3", "namespace": NAMESPACE},
        "stringData": {"AWS_ACCESS_KEY_ID": store.access_key(), "AWS_SECRET_ACCESS_KEY": store.secret_key()},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await
        .expect("credentials Secret");

    let log = dir.path().join("operator.log");
    let operator = Operator::start(&kubeconfig, &log);
    let leader = bao.leader_addr().await.expect("leader address");
    let yaml = CLUSTER
        .replace("https://openbao.default.svc:8200", &leader)
        .replace("http://127.0.0.1:9", &store.endpoint())
        .replace("bucket: snapshots", &format!("bucket: {}", store.bucket()))
        .replace("region: us-east-1", &format!("region: {}", store.region()));
    let cluster: OpenBaoCluster = serde_norway::from_str(&yaml).unwrap();
    let clusters: Api<OpenBaoCluster> = Api::namespaced(client.clone(), NAMESPACE);
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .expect("cluster created");

    let backup = eventually(
        "a verified backup in status.backup",
        JOB_DEADLINE + Duration::from_secs(60),
        &log,
        || async {
            let status = clusters.get("prod").await.ok()?.status?;
            let backup = status.backup?;
            if backup.consecutive_failures > 0 {
                panic!("the backup failed: {:?}", backup.last_failure);
            }
            backup.last_backup_key.is_some().then_some(backup)
        },
    )
    .await;
    let key = backup.last_backup_key.clone().unwrap();
    assert!(
        key.starts_with("default/prod/") && key.contains("-scheduled-") && key.ends_with(".snap"),
        "{key}"
    );
    assert!(
        store.list_keys().iter().any(|stored| stored == &key),
        "{key} not in the bucket: {:?}",
        store.list_keys()
    );
    assert_eq!(backup.consecutive_failures, 0);
    assert!(backup.last_success_time.is_some() && backup.next_scheduled_backup.is_some());
    let metrics = eventually("success metrics", STARTUP_DEADLINE, &log, || async {
        let (_, text) = operator.get("/metrics").await?;
        text.contains(r#"openbao_backup_last_size_bytes{namespace="default",cluster="prod"}"#)
            .then_some(text)
    })
    .await;
    assert!(
        metrics.contains("openbao_backup_successes_total"),
        "{metrics}"
    );
    // Every family is populated by now (backup, lock, actor): Prometheus' linter must accept all of it.
    operator_support::promtool::assert_promtool_clean(&metrics);
    drop(operator);
    drop(sim);
}

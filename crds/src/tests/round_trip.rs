//! Serde round trips of complete objects written as users write them, and the documented defaults.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use crate::*;

const FULL_CLUSTER: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata:
  name: vault
  namespace: security
  annotations:
    openbao.org/trigger-backup: "2025-01-01-1"
spec:
  version: 2.4.1
  image: registry.example.com/openbao/openbao
  replicas: 5
  workload:
    statefulSetName: openbao
    containerName: bao
  endpoint: https://openbao.security.svc:8200
  tls:
    caSecretRef:
      name: openbao-ca
      key: ca.pem
    serverName: openbao.internal
  backup:
    schedule: "0 */6 * * *"
    timeZone: Europe/Berlin
    suspend: true
    jitterSeconds: 120
    startingDeadlineSeconds: 600
    timeoutSeconds: 900
    target:
      provider: s3
      bucket: openbao-snapshots
      pathPrefix: prod/openbao
      s3:
        endpoint: https://minio.storage.svc:9000
        region: eu-west-1
        forcePathStyle: true
        roleArn: arn:aws:iam::123456789012:role/openbao-backup
      credentialsSecretRef:
        name: backup-s3-credentials
      workloadIdentity:
        serviceAccountAnnotations:
          eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/openbao-backup
      caSecretRef:
        name: minio-ca
        key: ca.crt
    auth:
      jwt:
        role: backup
        mountPath: kubernetes-jwt
        audience: openbao-backup
    retention:
      keepLast: 24
      maxAge: 30d
      keepDaily: 7
      keepWeekly: 4
      keepMonthly: 12
      keepPreUpgrade: 5
    executor:
      image: ghcr.io/openbao-operator/openbao-operator:0.1.0
      resources:
        requests:
          cpu: 100m
          memory: 64Mi
        limits:
          memory: 256Mi
  upgrade:
    preUpgradeSnapshot: false
status:
  observedGeneration: 7
  currentVersion: 2.4.0
  conditions:
  - type: BackupHealthy
    status: "True"
    reason: BackupSucceeded
    message: the newest backup was verified
    lastTransitionTime: "2025-01-01T02:00:42Z"
    observedGeneration: 7
  backup:
    lastAttemptTime: "2025-01-01T02:00:00Z"
    lastAttemptScheduledTime: "2025-01-01T02:00:00Z"
    nextScheduledBackup: "2025-01-01T08:00:00Z"
    lastSuccessTime: "2025-01-01T02:00:42Z"
    lastBackupKey: prod/openbao/security/vault/20250101T020000Z-scheduled-1a2b3c4d.snap
    lastBackupSize: 3145728
    lastBackupDigest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    lastBackupDuration: 42s
    consecutiveFailures: 1
    lastFailure:
      time: "2024-12-31T20:00:30Z"
      reason: StorageError
      message: upload to s3://openbao-snapshots failed; check the bucket policy
    lastHandledTrigger: "2025-01-01-1"
    recoveryPoints:
    - key: prod/openbao/security/vault/20250101T020000Z-scheduled-1a2b3c4d.snap
      time: "2025-01-01T02:00:00Z"
      size: 3145728
      digest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      kind: scheduled
    - key: prod/openbao/security/vault/20241231T120000Z-pre-upgrade-0badcafe.snap
      time: "2024-12-31T12:00:00Z"
      size: 3000000
      digest: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
      kind: pre-upgrade
  operationLock:
    operation: Upgrade
    holder: upgrade-2.4.1
    message: rolling out 2.4.1
    acquiredAt: "2025-01-01T03:00:00Z"
    renewedAt: "2025-01-01T03:05:00Z"
    epoch: 12
  upgrade:
    fromVersion: 2.4.0
    toVersion: 2.4.1
    phase: RollingOut
    preUpgradeSnapshotKey: prod/openbao/security/vault/20241231T120000Z-pre-upgrade-0badcafe.snap
    startedAt: "2025-01-01T03:00:00Z"
"#;

const FULL_RESTORE: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoRestore
metadata:
  name: restore-before-incident
  namespace: security
spec:
  cluster: vault
  source:
    key: prod/openbao/security/vault/20250101T020000Z-scheduled-1a2b3c4d.snap
    target:
      provider: gcs
      bucket: openbao-dr
      gcs:
        endpoint: http://127.0.0.1:4443
  auth:
    tokenSecretRef:
      name: openbao-restore-token
      key: value
  force: true
  dryRun: true
  overrideOperationLock: true
status:
  phase: Completed
  startTime: "2025-01-02T10:00:00Z"
  completionTime: "2025-01-02T10:01:10Z"
  snapshot:
    key: prod/openbao/security/vault/20250101T020000Z-scheduled-1a2b3c4d.snap
    size: 3145728
    digest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    createdAt: "2025-01-01T02:00:00Z"
    sourceClusterID: 6c1f8a7e-3b7f-4a7c-9a8e-0d2f6b1c5e44
    version: 2.4.0
  jobName: restore-before-incident-x7k2p
  message: dry run passed; no destructive call was made
  conditions:
  - type: Validated
    status: "True"
    reason: ValidationSucceeded
    message: snapshot digest and archive verified
    lastTransitionTime: "2025-01-02T10:00:30Z"
  observedGeneration: 1
"#;

fn yaml_value(yaml: &str) -> Value {
    serde_norway::from_str(yaml).expect("test YAML parses")
}

#[test]
fn full_cluster_survives_a_round_trip_unchanged() {
    let cluster: OpenBaoCluster =
        serde_norway::from_str(FULL_CLUSTER).expect("full cluster deserializes");
    assert_eq!(
        serde_json::to_value(&cluster).expect("serializes"),
        yaml_value(FULL_CLUSTER)
    );

    let backup = cluster.spec.backup.as_ref().expect("backup is set");
    assert_eq!(backup.target.provider, StorageProvider::S3);
    assert_eq!(
        backup.auth.method(),
        Some(AuthMethod::Jwt(backup.auth.jwt.as_ref().expect("jwt")))
    );
    let status = cluster.status.as_ref().expect("status is set");
    let lock = status.operation_lock.as_ref().expect("lock is set");
    assert_eq!((lock.operation, lock.epoch), (Operation::Upgrade, 12));
    let points = &status
        .backup
        .as_ref()
        .expect("backup status")
        .recovery_points;
    assert_eq!(points[1].kind, BackupKind::PreUpgrade);
    assert_eq!(
        points[0].time,
        Utc.with_ymd_and_hms(2025, 1, 1, 2, 0, 0).unwrap()
    );
    assert_eq!(
        status.upgrade.as_ref().map(|upgrade| upgrade.phase),
        Some(UpgradePhase::RollingOut)
    );
    assert!(
        !cluster.spec.pre_upgrade_snapshot_enabled(),
        "explicit false wins over the backup default"
    );
}

#[test]
fn full_restore_survives_a_round_trip_unchanged() {
    let restore: OpenBaoRestore =
        serde_norway::from_str(FULL_RESTORE).expect("full restore deserializes");
    assert_eq!(
        serde_json::to_value(&restore).expect("serializes"),
        yaml_value(FULL_RESTORE)
    );

    let status = restore.status.as_ref().expect("status is set");
    assert_eq!(status.phase, Some(RestorePhase::Completed));
    assert!(RestorePhase::Completed.is_terminal());
    let snapshot = status.snapshot.as_ref().expect("snapshot is set");
    assert_eq!(
        snapshot.source_cluster_id.as_deref(),
        Some("6c1f8a7e-3b7f-4a7c-9a8e-0d2f6b1c5e44")
    );
    assert_eq!(
        restore.spec.source.selection(),
        Some(SnapshotSelection::Key(
            "prod/openbao/security/vault/20250101T020000Z-scheduled-1a2b3c4d.snap"
        ))
    );
    assert_eq!(
        restore.spec.auth.method(),
        Some(AuthMethod::Token(&TokenSecretRef {
            name: "openbao-restore-token".into(),
            key: "value".into(),
        }))
    );
}

const MINIMAL_CLUSTER: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata:
  name: vault
  namespace: security
spec:
  version: 2.4.1
  backup:
    schedule: "@daily"
    target:
      provider: s3
      bucket: openbao-snapshots
      s3: {}
    auth:
      jwt:
        role: backup
    retention: {}
"#;

#[test]
fn omitted_cluster_fields_take_the_documented_defaults() {
    let cluster: OpenBaoCluster =
        serde_norway::from_str(MINIMAL_CLUSTER).expect("minimal cluster deserializes");
    let spec = &cluster.spec;
    assert_eq!(spec.image, "quay.io/openbao/openbao");
    assert_eq!(spec.replicas, 3);
    assert_eq!(
        spec.workload,
        WorkloadSpec {
            stateful_set_name: None,
            container_name: "openbao".into()
        }
    );
    assert_eq!(cluster.stateful_set_name(), Some("vault"));
    assert_eq!(
        cluster.endpoint().as_deref(),
        Some("https://vault.security.svc:8200")
    );
    assert!(
        spec.pre_upgrade_snapshot_enabled(),
        "on by default when backup is set"
    );

    let backup = spec.backup.as_ref().expect("backup is set");
    assert_eq!(backup.time_zone, "UTC");
    assert!(!backup.suspend);
    assert_eq!(backup.jitter_seconds, 0);
    assert_eq!(backup.starting_deadline_seconds, 3600);
    assert_eq!(backup.timeout_seconds, 1800);
    assert!(
        !backup
            .target
            .s3
            .as_ref()
            .expect("s3 block")
            .force_path_style
    );
    assert_eq!(backup.auth, AuthSpec::jwt_role("backup"));
    assert_eq!(
        backup
            .auth
            .jwt
            .as_ref()
            .map(|jwt| (jwt.mount_path.as_str(), jwt.audience.as_str())),
        Some(("jwt", "openbao-internal"))
    );
    assert_eq!(backup.retention, Some(RetentionPolicy::default()));
    assert_eq!(
        backup
            .retention
            .as_ref()
            .map(|retention| retention.keep_pre_upgrade),
        Some(3)
    );
    assert_eq!(
        *backup,
        BackupSpec {
            retention: Some(RetentionPolicy::default()),
            ..BackupSpec::new(
                "@daily",
                BackupTarget {
                    s3: Some(S3Options::default()),
                    ..BackupTarget::new(StorageProvider::S3, "openbao-snapshots")
                },
                AuthSpec::jwt_role("backup")
            )
        }
    );

    let without_backup = OpenBaoClusterSpec::new("2.4.1");
    assert!(
        !without_backup.pre_upgrade_snapshot_enabled(),
        "nothing to snapshot without backup"
    );
}

#[test]
fn omitted_restore_fields_take_the_documented_defaults() {
    let restore: OpenBaoRestore = serde_norway::from_str(
        r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoRestore
metadata: { name: r, namespace: security }
spec:
  cluster: vault
  source: { latest: true }
  auth: { tokenSecretRef: { name: openbao-restore-token } }
"#,
    )
    .expect("minimal restore deserializes");
    assert!(!restore.spec.force && !restore.spec.dry_run && !restore.spec.override_operation_lock);
    assert_eq!(restore.spec.source, RestoreSource::latest());
    assert_eq!(
        restore.spec.source.selection(),
        Some(SnapshotSelection::Latest)
    );
    assert_eq!(
        restore.spec.auth.token_secret_ref,
        Some(TokenSecretRef::named("openbao-restore-token"))
    );
    assert_eq!(restore.status, None);
}

/// The API server fills defaults from the schema, the operator from serde: both must agree, or a field would mean
/// one thing in `kubectl get -o yaml` and another in the operator.
#[test]
fn schema_defaults_match_serde_defaults() {
    for (crd, minimal) in [
        (OpenBaoCluster::crd_schema(), MINIMAL_CLUSTER),
        (OpenBaoRestore::crd_schema(), MINIMAL_RESTORE),
    ] {
        let raw = yaml_value(minimal);
        let defaulted_by_schema = kube_cel::apply_defaults(&crd, &raw);
        assert_ne!(defaulted_by_schema, raw, "the schema has defaults to apply");
        let typed: Value = match raw["kind"].as_str() {
            Some("OpenBaoCluster") => {
                serde_json::to_value(serde_json::from_value::<OpenBaoCluster>(raw.clone()).unwrap())
                    .unwrap()
            }
            _ => {
                serde_json::to_value(serde_json::from_value::<OpenBaoRestore>(raw.clone()).unwrap())
                    .unwrap()
            }
        };
        assert_eq!(defaulted_by_schema, typed);
    }
}

const MINIMAL_RESTORE: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoRestore
metadata: { name: r, namespace: security }
spec:
  cluster: vault
  source: { key: a/b.snap }
  auth: { jwt: { role: restore } }
"#;

trait CrdSchema {
    fn crd_schema() -> Value;
}

impl<K: kube::CustomResourceExt> CrdSchema for K {
    fn crd_schema() -> Value {
        let crd = K::crd();
        serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|schema| schema.open_api_v3_schema.as_ref())
                .unwrap(),
        )
        .unwrap()
    }
}

#[test]
fn enums_serialize_to_the_api_strings() {
    let strings = |values: Vec<Value>| {
        values
            .into_iter()
            .map(|value| value.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strings(vec![
            json!(StorageProvider::S3),
            json!(StorageProvider::Gcs),
            json!(StorageProvider::Azure)
        ]),
        ["s3", "gcs", "azure"]
    );
    assert_eq!(
        strings(vec![
            json!(BackupKind::Scheduled),
            json!(BackupKind::Manual),
            json!(BackupKind::PreUpgrade)
        ]),
        ["scheduled", "manual", "pre-upgrade"]
    );
    assert_eq!(
        strings(vec![
            json!(Operation::Backup),
            json!(Operation::Restore),
            json!(Operation::Upgrade)
        ]),
        ["Backup", "Restore", "Upgrade"]
    );
    let phases = [
        RestorePhase::Pending,
        RestorePhase::Validating,
        RestorePhase::Running,
        RestorePhase::Completed,
        RestorePhase::Failed,
    ];
    assert_eq!(
        strings(phases.iter().map(|phase| json!(phase)).collect()),
        ["Pending", "Validating", "Running", "Completed", "Failed"]
    );
    for phase in phases {
        assert_eq!(json!(phase), json!(phase.as_str()));
    }
    for kind in [
        BackupKind::Scheduled,
        BackupKind::Manual,
        BackupKind::PreUpgrade,
    ] {
        assert_eq!(json!(kind), json!(kind.to_string()));
    }
    assert!(serde_json::from_value::<StorageProvider>(json!("s4")).is_err());
}

#[test]
fn condition_names_are_the_documented_api_strings() {
    use crate::conditions::*;
    assert_eq!(
        ClusterConditionType::ALL.map(ClusterConditionType::as_str),
        [
            "BackupConfigurationReady",
            "BackingUp",
            "BackupHealthy",
            "Upgrading",
            "Restoring"
        ]
    );
    assert_eq!(
        RestoreConditionType::ALL.map(RestoreConditionType::as_str),
        ["Validated", "LockAcquired", "RestoreComplete"]
    );
    assert_eq!(ConditionStatus::from(true).as_str(), "True");
    assert_eq!(
        ClusterConditionReason::ScheduleMissed.to_string(),
        "ScheduleMissed"
    );
    assert_eq!(
        RestoreConditionReason::LockOverridden.to_string(),
        "LockOverridden"
    );
}

#[test]
fn crd_yaml_is_deterministic_and_describes_both_resources() {
    let yaml = crd_yaml();
    assert_eq!(yaml, crd_yaml());
    assert!(yaml.starts_with("---\n"));
    let documents: Vec<Value> = yaml
        .split("---\n")
        .filter(|document| !document.trim().is_empty())
        .map(yaml_value)
        .collect();
    assert_eq!(documents.len(), 2);
    let summary: Vec<(String, String, String)> = documents
        .iter()
        .map(|crd| {
            (
                crd["metadata"]["name"].as_str().unwrap().to_owned(),
                crd["spec"]["names"]["shortNames"][0]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                crd["spec"]["scope"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "openbaoclusters.openbao.org".into(),
                "obc".into(),
                "Namespaced".into()
            ),
            (
                "openbaorestores.openbao.org".into(),
                "obrestore".into(),
                "Namespaced".into()
            )
        ]
    );
    let columns = |crd: &Value| -> Vec<String> {
        crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|column| column["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        columns(&documents[0]),
        [
            "Version",
            "Last Backup",
            "Next Backup",
            "Failures",
            "Lock",
            "Upgrade",
            "Age"
        ]
    );
    assert_eq!(
        columns(&documents[1]),
        ["Cluster", "Phase", "Snapshot", "Age"]
    );
    for crd in &documents {
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert_eq!(version["subresources"]["status"], json!({}));
    }
}

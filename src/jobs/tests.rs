//! The Job and ServiceAccount built from clusters written as YAML, the way users write them.

use chrono::TimeZone;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec, Volume};
use openbao_actors::backup::effects::BackupJobRequest;
use openbao_crds::{BackupKind, OpenBaoCluster};

use super::*;

fn cluster(yaml: &str) -> OpenBaoCluster {
    serde_norway::from_str(yaml).expect("cluster YAML parses")
}

const S3_JWT: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: prod, namespace: security, uid: 0b0e6f6c-1111-4b9a-9c1e-000000000001}
spec:
  version: 2.4.1
  endpoint: https://openbao.security.svc:8200
  leaderHosts: [10.244.0.0/16, "*.openbao-internal.security.svc"]
  tls:
    caSecretRef: {name: openbao-server-tls, key: ca.crt}
    serverName: openbao.internal
  backup:
    schedule: "0 */6 * * *"
    timeZone: Europe/Berlin
    timeoutSeconds: 900
    target:
      provider: s3
      bucket: acme-snapshots
      pathPrefix: prod/eu
      s3: {endpoint: "http://127.0.0.1:9000", region: eu-central-1, forcePathStyle: true}
      credentialsSecretRef: {name: backup-s3}
    auth:
      jwt: {role: backup, mountPath: jwt, audience: openbao-internal}
    retention: {keepLast: 8, maxAge: 30d}
    executor:
      resources:
        requests: {cpu: 100m, memory: 64Mi}
"#;

const GCS_TOKEN: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: dev, namespace: team-a, uid: uid-2}
spec:
  version: 2.4.1
  backup:
    schedule: "@daily"
    target:
      provider: gcs
      bucket: dev-snapshots
      gcs: {endpoint: "http://127.0.0.1:4443"}
      credentialsSecretRef: {name: gcs-key}
      caSecretRef: {name: store-ca, key: bundle.pem}
    auth:
      tokenSecretRef: {name: backup-token, key: value}
    executor: {image: "registry.local/executor:test"}
"#;

const AZURE_WORKLOAD_IDENTITY: &str = r#"
apiVersion: openbao.org/v1alpha1
kind: OpenBaoCluster
metadata: {name: az, namespace: ops, uid: uid-3}
spec:
  version: 2.4.1
  backup:
    schedule: "30 2 * * 1-5"
    target:
      provider: azure
      bucket: snapshots
      azure: {storageAccount: acmebackups, endpoint: "http://127.0.0.1:10000/acmebackups"}
      workloadIdentity:
        serviceAccountAnnotations:
          azure.workload.identity/client-id: 00000000-0000-0000-0000-000000000000
    auth:
      jwt: {role: backup}
"#;

fn request(kind: BackupKind) -> BackupJobRequest {
    BackupJobRequest {
        job_name: "prod-backup-202603010200".into(),
        kind,
        epoch: 7,
        scheduled_time: Some(chrono::Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap()),
        trigger: None,
    }
}

fn settings() -> JobSettings {
    JobSettings::new("ghcr.io/openbao-operator/openbao-operator:v0.1.0")
}

fn build(yaml: &str, kind: BackupKind) -> Job {
    backup_job(&cluster(yaml), &request(kind), &settings()).expect("job builds")
}

fn pod(job: &Job) -> &PodSpec {
    job.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn container(job: &Job) -> &Container {
    &pod(job).containers[0]
}

fn env<'a>(job: &'a Job, name: &str) -> Option<&'a str> {
    container(job)
        .env
        .iter()
        .flatten()
        .find(|var| var.name == name)
        .and_then(|var| var.value.as_deref())
}

fn volume<'a>(job: &'a Job, name: &str) -> &'a Volume {
    pod(job)
        .volumes
        .iter()
        .flatten()
        .find(|volume| volume.name == name)
        .unwrap_or_else(|| panic!("volume {name} missing"))
}

#[test]
fn s3_jwt_job_matches_the_expected_yaml() {
    let job = build(S3_JWT, BackupKind::Scheduled);
    let yaml = serde_norway::to_string(&job).unwrap();
    let expected = r#"apiVersion: batch/v1
kind: Job
metadata:
  annotations:
    openbao.org/lock-epoch: '7'
    openbao.org/scheduled-time: 2026-03-01T02:00:00+00:00
  labels:
    app.kubernetes.io/component: backup
    app.kubernetes.io/managed-by: openbao-operator
    app.kubernetes.io/name: openbao-executor
    openbao.org/backup-kind: scheduled
    openbao.org/cluster: prod
    openbao.org/operation: backup
  name: prod-backup-202603010200
  namespace: security
  ownerReferences:
  - apiVersion: openbao.org/v1alpha1
    blockOwnerDeletion: true
    controller: true
    kind: OpenBaoCluster
    name: prod
    uid: 0b0e6f6c-1111-4b9a-9c1e-000000000001
spec:
  activeDeadlineSeconds: 900
  backoffLimit: 0
  template:
    metadata:
      annotations:
        openbao.org/lock-epoch: '7'
        openbao.org/scheduled-time: 2026-03-01T02:00:00+00:00
      labels:
        app.kubernetes.io/component: backup
        app.kubernetes.io/managed-by: openbao-operator
        app.kubernetes.io/name: openbao-executor
        openbao.org/backup-kind: scheduled
        openbao.org/cluster: prod
        openbao.org/operation: backup
    spec:
      automountServiceAccountToken: false
      containers:
      - args:
        - executor
        - backup
        env:
        - name: EXECUTOR_NAMESPACE
          value: security
        - name: EXECUTOR_CLUSTER
          value: prod
        - name: EXECUTOR_OPENBAO_ADDR
          value: https://openbao.security.svc:8200
        - name: EXECUTOR_REPORT_PATH
          value: /dev/termination-log
        - name: EXECUTOR_OPENBAO_TLS_SERVER_NAME
          value: openbao.internal
        - name: EXECUTOR_OPENBAO_LEADER_HOSTS
          value: 10.244.0.0/16,*.openbao-internal.security.svc
        - name: EXECUTOR_KIND
          value: scheduled
        - name: EXECUTOR_AUTH_JWT_MOUNT
          value: jwt
        - name: EXECUTOR_AUTH_JWT_ROLE
          value: backup
        - name: EXECUTOR_STORE_PROVIDER
          value: s3
        - name: EXECUTOR_STORE_BUCKET
          value: acme-snapshots
        - name: EXECUTOR_STORE_PATH_PREFIX
          value: prod/eu
        - name: EXECUTOR_STORE_ENDPOINT
          value: http://127.0.0.1:9000
        - name: EXECUTOR_STORE_REGION
          value: eu-central-1
        - name: EXECUTOR_STORE_FORCE_PATH_STYLE
          value: 'true'
        - name: EXECUTOR_RETENTION
          value: '{"keepLast":8,"maxAge":"30d","keepPreUpgrade":3}'
        - name: EXECUTOR_RETENTION_TIME_ZONE
          value: Europe/Berlin
        - name: EXECUTOR_AUTH_JWT_FILE
          value: /var/run/secrets/openbao-operator/openbao-jwt/token
        - name: EXECUTOR_OPENBAO_CA_FILE
          value: /var/run/secrets/openbao-operator/openbao-ca/ca.crt
        - name: EXECUTOR_STORE_CREDENTIALS_DIR
          value: /var/run/secrets/openbao-operator/store-credentials
        image: ghcr.io/openbao-operator/openbao-operator:v0.1.0
        imagePullPolicy: IfNotPresent
        name: executor
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          privileged: false
          readOnlyRootFilesystem: true
          runAsGroup: 65532
          runAsNonRoot: true
          runAsUser: 65532
          seccompProfile:
            type: RuntimeDefault
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: FallbackToLogsOnError
        volumeMounts:
        - mountPath: /var/run/secrets/openbao-operator/openbao-jwt
          name: openbao-jwt
          readOnly: true
        - mountPath: /var/run/secrets/openbao-operator/openbao-ca
          name: openbao-ca
          readOnly: true
        - mountPath: /var/run/secrets/openbao-operator/store-credentials
          name: store-credentials
          readOnly: true
        - mountPath: /tmp
          name: tmp
      enableServiceLinks: false
      restartPolicy: Never
      securityContext:
        fsGroup: 65532
        runAsGroup: 65532
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
      serviceAccountName: prod-backup
      volumes:
      - name: openbao-jwt
        projected:
          defaultMode: 288
          sources:
          - serviceAccountToken:
              audience: openbao-internal
              expirationSeconds: 600
              path: token
      - name: openbao-ca
        secret:
          defaultMode: 288
          items:
          - key: ca.crt
            path: ca.crt
          optional: false
          secretName: openbao-server-tls
      - name: store-credentials
        secret:
          defaultMode: 288
          optional: false
          secretName: backup-s3
      - emptyDir:
          sizeLimit: 64Mi
        name: tmp
  ttlSecondsAfterFinished: 86400
"#;
    if yaml != expected {
        panic!("built Job differs from the expected YAML:\n{yaml}");
    }
}

#[test]
fn token_auth_mounts_the_token_secret_and_never_uses_jwt() {
    let mut manual = request(BackupKind::Manual);
    manual.job_name = "dev-manual-0123456789".into();
    manual.scheduled_time = None;
    manual.trigger = Some("ad hoc 2026-03-01".into());
    let job = backup_job(&cluster(GCS_TOKEN), &manual, &settings()).unwrap();

    assert_eq!(
        env(&job, "EXECUTOR_AUTH_TOKEN_FILE"),
        Some("/var/run/secrets/openbao-operator/openbao-token/token")
    );
    assert_eq!(env(&job, "EXECUTOR_AUTH_JWT_FILE"), None);
    assert_eq!(env(&job, "EXECUTOR_AUTH_JWT_ROLE"), None);
    let token = volume(&job, "openbao-token").secret.as_ref().unwrap();
    assert_eq!(token.secret_name.as_deref(), Some("backup-token"));
    let item = &token.items.as_ref().unwrap()[0];
    assert_eq!((item.key.as_str(), item.path.as_str()), ("value", "token"));
    assert!(
        pod(&job)
            .volumes
            .iter()
            .flatten()
            .all(|v| v.projected.is_none())
    );

    assert_eq!(env(&job, "EXECUTOR_STORE_PROVIDER"), Some("gcs"));
    assert_eq!(
        env(&job, "EXECUTOR_STORE_ENDPOINT"),
        Some("http://127.0.0.1:4443")
    );
    assert_eq!(
        env(&job, "EXECUTOR_STORE_CA_FILE"),
        Some("/var/run/secrets/openbao-operator/store-ca/ca.crt")
    );
    assert_eq!(env(&job, "EXECUTOR_KIND"), Some("manual"));
    assert_eq!(
        env(&job, "EXECUTOR_OPENBAO_ADDR"),
        Some("https://dev.team-a.svc:8200"),
        "the default endpoint"
    );
    assert_eq!(
        env(&job, "EXECUTOR_RETENTION"),
        None,
        "no retention block keeps everything"
    );
    assert_eq!(
        container(&job).image.as_deref(),
        Some("registry.local/executor:test")
    );
    let labels = job.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["openbao.org/backup-kind"], "manual");
    let annotations = job.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations["openbao.org/trigger"], "ad hoc 2026-03-01");
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(
        spec.active_deadline_seconds,
        Some(1800),
        "the default timeout"
    );
}

#[test]
fn azure_with_workload_identity_has_no_credentials_volume() {
    let job = build(AZURE_WORKLOAD_IDENTITY, BackupKind::PreUpgrade);
    assert_eq!(env(&job, "EXECUTOR_STORE_PROVIDER"), Some("azure"));
    assert_eq!(
        env(&job, "EXECUTOR_STORE_AZURE_ACCOUNT"),
        Some("acmebackups")
    );
    assert_eq!(
        env(&job, "EXECUTOR_STORE_ENDPOINT"),
        Some("http://127.0.0.1:10000/acmebackups")
    );
    assert_eq!(env(&job, "EXECUTOR_STORE_CREDENTIALS_DIR"), None);
    assert_eq!(env(&job, "EXECUTOR_KIND"), Some("pre-upgrade"));
    let jwt = volume(&job, "openbao-jwt").projected.as_ref().unwrap();
    let token = jwt.sources.as_ref().unwrap()[0]
        .service_account_token
        .as_ref()
        .unwrap();
    assert_eq!(
        token.audience.as_deref(),
        Some("openbao-internal"),
        "the default audience"
    );

    let account = backup_service_account(&cluster(AZURE_WORKLOAD_IDENTITY)).unwrap();
    assert_eq!(account.metadata.name.as_deref(), Some("az-backup"));
    assert_eq!(
        account.metadata.annotations.as_ref().unwrap()["azure.workload.identity/client-id"],
        "00000000-0000-0000-0000-000000000000"
    );
    let owner = &account.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("OpenBaoCluster", "uid-3")
    );
}

#[test]
fn s3_role_arn_annotates_the_service_account() {
    let yaml = S3_JWT.replace(
        "forcePathStyle: true}",
        "forcePathStyle: true, roleArn: 'arn:aws:iam::123456789012:role/openbao-backup'}",
    );
    let account = backup_service_account(&cluster(&yaml)).unwrap();
    assert_eq!(
        account.metadata.annotations.unwrap()["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/openbao-backup"
    );
}

/// The executor's variables that carry no secret.
const PLAIN_SETTINGS: &[&str] = &[
    "EXECUTOR_NAMESPACE",
    "EXECUTOR_CLUSTER",
    "EXECUTOR_KIND",
    "EXECUTOR_OPENBAO_ADDR",
    "EXECUTOR_REPORT_PATH",
    "EXECUTOR_OPENBAO_TLS_SERVER_NAME",
    "EXECUTOR_OPENBAO_LEADER_HOSTS",
    "EXECUTOR_AUTH_JWT_MOUNT",
    "EXECUTOR_AUTH_JWT_ROLE",
    "EXECUTOR_STORE_PROVIDER",
    "EXECUTOR_STORE_BUCKET",
    "EXECUTOR_STORE_PATH_PREFIX",
    "EXECUTOR_STORE_ENDPOINT",
    "EXECUTOR_STORE_REGION",
    "EXECUTOR_STORE_FORCE_PATH_STYLE",
    "EXECUTOR_STORE_AZURE_ACCOUNT",
    "EXECUTOR_RETENTION",
    "EXECUTOR_RETENTION_TIME_ZONE",
];

#[test]
fn no_secret_value_is_ever_in_the_environment() {
    for yaml in [S3_JWT, GCS_TOKEN, AZURE_WORKLOAD_IDENTITY] {
        let job = build(yaml, BackupKind::Scheduled);
        for var in container(&job).env.iter().flatten() {
            assert!(
                var.value_from.is_none(),
                "{} must not be filled from a Secret",
                var.name
            );
            // Every variable is either a known plain setting or names a file; nothing else may appear.
            let plain = PLAIN_SETTINGS.contains(&var.name.as_str());
            let names_a_file = var.name.ends_with("_FILE") || var.name.ends_with("_DIR");
            assert!(
                plain || names_a_file,
                "{} is neither a plain setting nor a file path",
                var.name
            );
            if names_a_file {
                let path = var.value.as_deref().unwrap_or_default();
                assert!(
                    path.starts_with("/var/run/secrets/openbao-operator/"),
                    "{}={path}",
                    var.name
                );
            }
        }
        for mount in container(&job).volume_mounts.iter().flatten() {
            if mount.name != "tmp" {
                assert_eq!(
                    mount.read_only,
                    Some(true),
                    "{} must be read-only",
                    mount.name
                );
            }
        }
    }
}

#[test]
fn the_same_request_builds_the_same_job() {
    assert_eq!(
        build(S3_JWT, BackupKind::Scheduled),
        build(S3_JWT, BackupKind::Scheduled)
    );
}

#[test]
fn unusable_clusters_are_refused_with_a_reason() {
    let without_uid = S3_JWT.replace(", uid: 0b0e6f6c-1111-4b9a-9c1e-000000000001", "");
    let error = backup_job(
        &cluster(&without_uid),
        &request(BackupKind::Scheduled),
        &settings(),
    )
    .unwrap_err();
    assert_eq!(error, JobBuildError::MissingMetadata("uid"));

    let mut no_backup = cluster(S3_JWT);
    no_backup.spec.backup = None;
    let error = backup_job(&no_backup, &request(BackupKind::Scheduled), &settings()).unwrap_err();
    assert_eq!(error.reason(), "BackupNotConfigured");

    let mut both = cluster(S3_JWT);
    if let Some(backup) = both.spec.backup.as_mut() {
        backup.auth.token_secret_ref = Some(openbao_crds::TokenSecretRef::named("t"));
    }
    let error = backup_job(&both, &request(BackupKind::Scheduled), &settings()).unwrap_err();
    assert_eq!(error.reason(), "InvalidAuth");
}

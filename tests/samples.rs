//! Every object in `deploy/samples/` is accepted by the generated CRDs exactly as the API server would check it:
//! the structural schema (types, enums, patterns, bounds, required and unknown fields) and the CEL rules, with schema
//! defaults applied first. Broken variants of the samples prove that each rule can fail, with the message users see.

use std::path::{Path, PathBuf};

use openbao_crds::schema_check::{CrdValidator, Rejected, ViolationOrigin, openbao_validators};
use openbao_crds::validation::{validate_cluster_spec, validate_restore_spec};
use openbao_crds::{OpenBaoCluster, OpenBaoRestore};
use serde::Deserialize;
use serde_json::{Value, json};

struct Sample {
    file: String,
    object: Value,
}

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/samples")
}

fn discover_samples() -> Vec<Sample> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .expect("deploy/samples exists")
        .map(|entry| entry.expect("directory entry is readable").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml" || extension == "yml")
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let file = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(path).expect("sample is readable");
            serde_norway::Deserializer::from_str(&text)
                .map(|document| {
                    Value::deserialize(document)
                        .unwrap_or_else(|error| panic!("{file}: invalid YAML: {error}"))
                })
                .filter(|object| !object.is_null())
                .map(|object| Sample {
                    file: file.clone(),
                    object,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn sample(file: &str) -> Value {
    let samples = discover_samples();
    let mut matching = samples.into_iter().filter(|sample| sample.file == file);
    let found = matching
        .next()
        .unwrap_or_else(|| panic!("deploy/samples/{file} holds an object"));
    assert!(matching.next().is_none(), "{file} holds exactly one object");
    found.object
}

fn validator_for(object: &Value) -> CrdValidator {
    openbao_validators()
        .into_iter()
        .find(|validator| validator.handles(object))
        .unwrap_or_else(|| {
            panic!(
                "no OpenBao CRD for apiVersion {} kind {}",
                object["apiVersion"], object["kind"]
            )
        })
}

fn create(object: &Value) -> Result<Value, Rejected> {
    validator_for(object).validate_create(object)
}

/// Sets the field at a JSON pointer, creating it in its parent object if absent.
fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, field) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{parent} is an object"));
    parent.insert(field.to_owned(), value);
}

fn remove(object: &mut Value, pointer: &str) {
    let (parent, field) = pointer.rsplit_once('/').expect("pointer has a parent");
    let removed = object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|parent| parent.remove(field));
    assert!(removed.is_some(), "{pointer} exists in the sample");
}

/// Asserts that the sample is valid as written and invalid after `mutate`, with a violation of `origin` at
/// `field` whose message contains `message`.
fn assert_rejected(
    file: &str,
    mutate: impl FnOnce(&mut Value),
    origin: ViolationOrigin,
    field: &str,
    message: &str,
) {
    let mut object = sample(file);
    if let Err(rejected) = create(&object) {
        panic!("{file} must be valid before the mutation: {rejected}");
    }
    mutate(&mut object);
    let rejected = create(&object).expect_err("the mutated object must be rejected");
    assert!(
        rejected
            .violations
            .iter()
            .any(|violation| violation.origin == origin
                && violation.field == field
                && violation.message.contains(message)),
        "expected a {origin:?} violation at {field:?} containing {message:?}, got: {rejected}"
    );
}

#[test]
fn every_sample_is_accepted_by_schema_and_rules() {
    let samples = discover_samples();
    let kinds: Vec<&str> = samples
        .iter()
        .filter_map(|sample| sample.object["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"OpenBaoCluster") && kinds.contains(&"OpenBaoRestore"),
        "samples cover both kinds: {kinds:?}"
    );

    for Sample { file, object } in &samples {
        let stored = create(object).unwrap_or_else(|rejected| panic!("{file}: {rejected}"));
        // What the API server stores must load into the operator's types, pass the operator's own semantic checks
        // (cron, time zone, durations, Secret names), and serialize back without inventing or dropping fields.
        let reserialized = match object["kind"].as_str() {
            Some("OpenBaoCluster") => {
                let cluster: OpenBaoCluster = serde_json::from_value(stored.clone())
                    .unwrap_or_else(|error| panic!("{file}: {error}"));
                if let Err(errors) = validate_cluster_spec(&cluster.spec) {
                    panic!("{file}: the operator refuses the spec: {errors}");
                }
                serde_json::to_value(cluster)
            }
            Some("OpenBaoRestore") => {
                let restore: OpenBaoRestore = serde_json::from_value(stored.clone())
                    .unwrap_or_else(|error| panic!("{file}: {error}"));
                if let Err(errors) = validate_restore_spec(&restore.spec) {
                    panic!("{file}: the operator refuses the spec: {errors}");
                }
                serde_json::to_value(restore)
            }
            other => panic!("{file}: unexpected kind {other:?}"),
        }
        .expect("typed object serializes");
        assert_eq!(
            reserialized, stored,
            "{file}: typed round trip changes the stored object"
        );
    }
}

#[test]
fn accepted_objects_carry_the_schema_defaults() {
    let stored = create(&sample("restore-latest.yaml")).expect("sample is valid");
    assert_eq!(stored["spec"]["force"], json!(false));
    assert_eq!(stored["spec"]["dryRun"], json!(false));
    assert_eq!(stored["spec"]["overrideOperationLock"], json!(false));
    assert_eq!(
        stored["spec"]["auth"]["jwt"],
        json!({ "role": "restore", "mountPath": "jwt", "audience": "openbao-internal" })
    );

    let stored = create(&sample("cluster-gcs.yaml")).expect("sample is valid");
    assert_eq!(stored["spec"]["image"], json!("quay.io/openbao/openbao"));
    assert_eq!(stored["spec"]["replicas"], json!(3));
    assert_eq!(
        stored["spec"]["workload"],
        json!({ "containerName": "openbao" })
    );
    let backup = &stored["spec"]["backup"];
    assert_eq!(
        [
            &backup["suspend"],
            &backup["jitterSeconds"],
            &backup["startingDeadlineSeconds"],
            &backup["timeoutSeconds"]
        ],
        [&json!(false), &json!(0), &json!(3600), &json!(1800)]
    );
    assert_eq!(backup["retention"]["keepPreUpgrade"], json!(3));
}

#[test]
fn unknown_provider_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| set(object, "/spec/backup/target/provider", json!("s4")),
        ViolationOrigin::Schema,
        "spec.backup.target.provider",
        r#""s4" is not one of"#,
    );
}

#[test]
fn restore_source_with_key_and_latest_is_rejected() {
    assert_rejected(
        "restore-latest.yaml",
        |object| {
            set(
                object,
                "/spec/source/key",
                json!("prod/a/b/20250101T000000Z-manual-00000000.snap"),
            )
        },
        ViolationOrigin::Rule,
        "spec.source",
        "set exactly one of source.key or source.latest",
    );
}

#[test]
fn restore_source_with_neither_key_nor_latest_is_rejected() {
    assert_rejected(
        "restore-latest.yaml",
        |object| remove(object, "/spec/source/latest"),
        ViolationOrigin::Rule,
        "spec.source",
        "set exactly one of source.key or source.latest",
    );
}

#[test]
fn restore_source_latest_false_is_rejected() {
    assert_rejected(
        "restore-latest.yaml",
        |object| set(object, "/spec/source/latest", json!(false)),
        ViolationOrigin::Rule,
        "spec.source",
        "source.latest must be true when set",
    );
}

#[test]
fn override_operation_lock_without_force_is_rejected() {
    assert_rejected(
        "restore-latest.yaml",
        |object| set(object, "/spec/overrideOperationLock", json!(true)),
        ViolationOrigin::Rule,
        "spec",
        "overrideOperationLock requires force: true",
    );
}

#[test]
fn backup_auth_with_both_methods_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| {
            set(
                object,
                "/spec/backup/auth/tokenSecretRef",
                json!({ "name": "openbao-backup-token" }),
            )
        },
        ViolationOrigin::Rule,
        "spec.backup.auth",
        "set exactly one auth method: jwt or tokenSecretRef",
    );
}

#[test]
fn restore_auth_without_a_method_is_rejected() {
    assert_rejected(
        "restore-latest.yaml",
        |object| remove(object, "/spec/auth/jwt"),
        ViolationOrigin::Rule,
        "spec.auth",
        "set exactly one auth method: jwt or tokenSecretRef",
    );
}

#[test]
fn s3_block_with_provider_gcs_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| set(object, "/spec/backup/target/provider", json!("gcs")),
        ViolationOrigin::Rule,
        "spec.backup.target",
        "s3 settings require provider: s3",
    );
}

#[test]
fn azure_provider_without_storage_account_is_rejected() {
    assert_rejected(
        "cluster-azure.yaml",
        |object| remove(object, "/spec/backup/target/azure"),
        ViolationOrigin::Rule,
        "spec.backup.target",
        "provider azure requires azure.storageAccount",
    );
}

#[test]
fn wrong_type_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| set(object, "/spec/replicas", json!("three")),
        ViolationOrigin::Schema,
        "spec.replicas",
        r#""three" is not of type "integer""#,
    );
}

#[test]
fn unknown_field_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| set(object, "/spec/backup/scheduel", json!("@daily")),
        ViolationOrigin::Schema,
        "spec.backup",
        "unknown field spec.backup.scheduel",
    );
}

#[test]
fn negative_jitter_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| set(object, "/spec/backup/jitterSeconds", json!(-5)),
        ViolationOrigin::Schema,
        "spec.backup.jitterSeconds",
        "less than the minimum of 0",
    );
}

#[test]
fn timeout_below_a_minute_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| set(object, "/spec/backup/timeoutSeconds", json!(30)),
        ViolationOrigin::Schema,
        "spec.backup.timeoutSeconds",
        "less than the minimum of 60",
    );
}

#[test]
fn zero_replicas_are_rejected() {
    assert_rejected(
        "cluster-gcs.yaml",
        |object| set(object, "/spec/replicas", json!(0)),
        ViolationOrigin::Schema,
        "spec.replicas",
        "less than the minimum of 1",
    );
}

#[test]
fn zero_keep_last_is_rejected() {
    assert_rejected(
        "cluster-azure.yaml",
        |object| set(object, "/spec/backup/retention/keepLast", json!(0)),
        ViolationOrigin::Schema,
        "spec.backup.retention.keepLast",
        "less than the minimum of 1",
    );
}

#[test]
fn malformed_max_age_is_rejected() {
    assert_rejected(
        "cluster-azure.yaml",
        |object| set(object, "/spec/backup/retention/maxAge", json!("30days")),
        ViolationOrigin::Schema,
        "spec.backup.retention.maxAge",
        "does not match",
    );
}

/// `..` would climb out of the folder the operator's keys and retention are confined to.
#[test]
fn path_prefix_with_a_dot_segment_is_rejected() {
    for prefix in ["prod/../other", "..", "prod/.", ".hidden/x"] {
        assert_rejected(
            "cluster-s3-jwt.yaml",
            |object| set(object, "/spec/backup/target/pathPrefix", json!(prefix)),
            ViolationOrigin::Schema,
            "spec.backup.target.pathPrefix",
            "does not match",
        );
    }
}

#[test]
fn path_prefix_with_a_leading_slash_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| {
            set(
                object,
                "/spec/backup/target/pathPrefix",
                json!("/prod/eu-central-1"),
            )
        },
        ViolationOrigin::Schema,
        "spec.backup.target.pathPrefix",
        "does not match",
    );
}

#[test]
fn secret_reference_that_is_not_a_kubernetes_name_is_rejected() {
    assert_rejected(
        "cluster-s3-jwt.yaml",
        |object| {
            set(
                object,
                "/spec/backup/target/credentialsSecretRef/name",
                json!("Backup_Credentials"),
            )
        },
        ViolationOrigin::Schema,
        "spec.backup.target.credentialsSecretRef.name",
        "does not match",
    );
}

#[test]
fn invalid_bucket_name_is_rejected() {
    assert_rejected(
        "cluster-gcs.yaml",
        |object| {
            set(
                object,
                "/spec/backup/target/bucket",
                json!("Acme Snapshots"),
            )
        },
        ViolationOrigin::Schema,
        "spec.backup.target.bucket",
        "does not match",
    );
}

#[test]
fn missing_version_is_rejected() {
    assert_rejected(
        "cluster-gcs.yaml",
        |object| remove(object, "/spec/version"),
        ViolationOrigin::Schema,
        "spec",
        r#""version" is a required property"#,
    );
}

#[test]
fn explicit_null_of_a_defaulted_field_is_pruned_and_defaulted() {
    let mut object = sample("restore-latest.yaml");
    set(&mut object, "/spec/force", Value::Null);
    let stored = create(&object).expect("null of a non-nullable field is pruned, then defaulted");
    assert_eq!(stored["spec"]["force"], json!(false));
}

#[test]
fn restore_spec_change_is_rejected_on_update() {
    let old = sample("restore-by-key-dry-run.yaml");
    let validator = validator_for(&old);
    let stored = validator.validate_create(&old).expect("sample is valid");

    let mut changed = old.clone();
    set(
        &mut changed,
        "/spec/source/key",
        json!("staging/security/openbao/20250102T020000Z-manual-0badcafe.snap"),
    );
    validator
        .validate_create(&changed)
        .expect("the changed spec is valid on its own");
    let rejected = validator
        .validate_update(&changed, &stored)
        .expect_err("changing source.key of an existing restore is refused");
    assert!(
        rejected
            .violations
            .iter()
            .any(|violation| violation.origin == ViolationOrigin::Rule
                && violation.field == "spec"
                && violation.message == "spec is immutable: create a new OpenBaoRestore instead"),
        "got: {rejected}"
    );

    let mut not_dry_run = old.clone();
    set(&mut not_dry_run, "/spec/dryRun", json!(false));
    assert!(
        validator
            .validate_update(&not_dry_run, &stored)
            .unwrap_err()
            .mentions("spec is immutable")
    );
}

#[test]
fn restore_update_without_spec_change_is_accepted() {
    let old = sample("restore-by-key-dry-run.yaml");
    let validator = validator_for(&old);
    let stored = validator.validate_create(&old).expect("sample is valid");

    validator
        .validate_update(&old, &stored)
        .expect("an identical update is accepted");

    // Omitting defaulted fields is no change: defaults are applied before the rule compares.
    let mut relabelled = stored.clone();
    set(
        &mut relabelled,
        "/metadata/labels",
        json!({ "team": "security" }),
    );
    remove(&mut relabelled, "/spec/overrideOperationLock");
    validator
        .validate_update(&relabelled, &stored)
        .expect("metadata changes and omitted defaults are accepted");
}

#[test]
fn samples_of_another_api_group_are_not_handled() {
    let mut object = sample("restore-latest.yaml");
    set(&mut object, "/apiVersion", json!("openbao.org/v1"));
    assert!(
        openbao_validators()
            .iter()
            .all(|validator| !validator.handles(&object))
    );
    let rejected = openbao_validators()[1]
        .validate_create(&object)
        .expect_err("wrong apiVersion");
    assert!(
        rejected
            .violations
            .iter()
            .any(|violation| violation.origin == ViolationOrigin::TypeMeta)
    );
}

#[test]
fn unknown_fields_are_dropped_without_strict_validation() {
    let mut object = sample("cluster-s3-jwt.yaml");
    set(&mut object, "/spec/backup/scheduel", json!("@daily"));
    set(
        &mut object,
        "/status",
        json!({ "backup": { "lastBackupKey": "a.snap", "lastBackupColour": "green" } }),
    );
    let validator = validator_for(&object);
    let mut pruned = validator.prune_unknown_fields(&mut object);
    pruned.sort();
    assert_eq!(
        pruned,
        ["spec.backup.scheduel", "status.backup.lastBackupColour"]
    );
    assert_eq!(
        object["metadata"]["name"],
        json!("openbao"),
        "metadata is kept"
    );
    validator
        .validate_create(&object)
        .expect("the pruned object is valid");
}

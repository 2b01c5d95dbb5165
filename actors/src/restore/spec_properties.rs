//! Whole generated `OpenBaoRestore` requests against generated clusters: validation and admission give a verdict,
//! never a panic, and an admitted request without `force` only ever names a snapshot in the cluster's own folder.

use openbao_crds::validation::validate_restore_spec;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?",
        "[a-z0-9.-]{1,253}",
        ".{0,20}"
    ]
}

fn path_prefix() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "[A-Za-z0-9_-][A-Za-z0-9._-]{0,10}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,10}){0,3}",
        "[a-z/]{0,12}",
    ])
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/]{0,20}/vault/prod/[0-9A-Z-]{1,30}\\.snap",
        "vault/prod/[a-z0-9./-]{0,30}(\\.snap)?",
        "(\\.\\./|/)?[a-z0-9./]{0,30}\\.snap",
        any::<String>(),
    ]
}

fn target() -> impl Strategy<Value = Value> {
    (
        path_prefix(),
        proptest::option::of(prop_oneof![
            "https?://[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
            ".{0,20}"
        ]),
    )
        .prop_map(|(prefix, endpoint)| {
            let mut target = json!({"provider": "s3", "bucket": "backups"});
            if let Some(prefix) = prefix {
                target["pathPrefix"] = prefix.into();
            }
            if let Some(endpoint) = endpoint {
                target["s3"] = json!({"endpoint": endpoint});
            }
            target
        })
}

fn auth() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"jwt": {"role": "restore"}})),
        Just(json!({"tokenSecretRef": {"name": "restore-token"}})),
        Just(json!({"jwt": {"role": "restore"}, "tokenSecretRef": {"name": "t"}})),
        Just(json!({})),
        name().prop_map(|role| json!({"jwt": {"role": role, "mountPath": "a/b"}})),
    ]
}

prop_compose! {
    fn request()(
        cluster in name(),
        key in proptest::option::of(key()),
        latest in proptest::option::of(any::<bool>()),
        source_target in proptest::option::of(target()),
        auth in auth(),
        force in any::<bool>(),
        dry_run in any::<bool>(),
        override_lock in any::<bool>(),
        uid in "[a-f0-9-]{0,40}",
    ) -> OpenBaoRestore {
        let mut source = json!({});
        if let Some(key) = key {
            source["key"] = key.into();
        }
        if let Some(latest) = latest {
            source["latest"] = latest.into();
        }
        if let Some(target) = source_target {
            source["target"] = target;
        }
        serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoRestore",
            "metadata": {"name": "r", "namespace": "vault", "uid": uid},
            "spec": {
                "cluster": cluster,
                "source": source,
                "auth": auth,
                "force": force,
                "dryRun": dry_run,
                "overrideOperationLock": override_lock,
            },
        }))
        .expect("a request of the right shape")
    }
}

prop_compose! {
    fn cluster()(
        backup_target in proptest::option::of(target()),
        allow_plain_http in any::<bool>(),
    ) -> OpenBaoCluster {
        let mut spec = json!({"version": "2.7.2", "allowPlainHttp": allow_plain_http});
        if let Some(target) = backup_target {
            spec["backup"] = json!({
                "schedule": "0 3 * * *",
                "target": target,
                "auth": {"jwt": {"role": "backup"}},
            });
        }
        serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1",
            "kind": "OpenBaoCluster",
            "metadata": {"name": "prod", "namespace": "vault"},
            "spec": spec,
        }))
        .expect("a cluster of the right shape")
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn any_request_gets_a_verdict_and_unforced_keys_stay_in_the_cluster_folder(
        request in request(),
        cluster in cluster(),
    ) {
        let _ = validate_restore_spec(&request.spec);
        let uid = request.metadata.uid.clone().unwrap_or_default();
        for job in [preflight_job_name("prod", &uid), restore_job_name("prod", &uid)] {
            prop_assert!(job.len() <= 63, "{}", job);
        }
        match admit(&cluster, &request) {
            Err(refusal) => prop_assert!(!refusal.reason.is_empty() && !refusal.message.is_empty()),
            Ok(()) => {
                let target = source_target(&cluster, &request);
                prop_assert!(target.is_some(), "admitted with nowhere to read from");
                prop_assert!(request.spec.auth.method().is_some());
                if let (Some(key), false) = (&request.spec.source.key, request.spec.force) {
                    let folder = cluster_folder(
                        target.and_then(|t| t.path_prefix.as_deref()),
                        "vault",
                        "prod",
                    );
                    let name = key.strip_prefix(&folder);
                    prop_assert!(
                        name.is_some_and(|name| !name.contains('/') && name.ends_with(".snap")),
                        "{} admitted outside {}",
                        key,
                        folder
                    );
                }
            }
        }
    }
}

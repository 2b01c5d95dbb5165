use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::restore::status::condition_reason;

const DIGEST: &str = "sha256:0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
}

/// A request on cluster `prod` in namespace `vault`; `extra` is merged into its spec.
fn request(
    name: &str,
    created: &str,
    phase: Option<&str>,
    extra: serde_json::Value,
) -> OpenBaoRestore {
    let mut spec = json!({
        "cluster": "prod",
        "source": { "latest": true },
        "auth": { "jwt": { "role": "restore" } },
    });
    for (field, value) in extra.as_object().into_iter().flatten() {
        spec[field] = value.clone();
    }
    let mut value = json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoRestore",
        "metadata": {
            "name": name,
            "namespace": "vault",
            "uid": format!("uid-{name}"),
            "creationTimestamp": created,
        },
        "spec": spec,
    });
    if let Some(phase) = phase {
        value["status"] = json!({ "phase": phase });
    }
    serde_json::from_value(value).expect("valid OpenBaoRestore")
}

/// Request `r`, with `extra` merged into its spec.
fn with_spec(extra: serde_json::Value) -> OpenBaoRestore {
    request("r", "2026-03-02T03:00:00Z", None, extra)
}

fn with_key(key: &str, force: bool) -> OpenBaoRestore {
    with_spec(json!({ "source": { "key": key }, "force": force }))
}

/// Cluster `vault/prod`, backing up to `path_prefix` when `backup` is set.
fn cluster(backup: bool, path_prefix: Option<&str>) -> OpenBaoCluster {
    let mut value = json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoCluster",
        "metadata": { "name": "prod", "namespace": "vault" },
        "spec": { "version": "2.7.2" },
    });
    if backup {
        let mut target = json!({ "provider": "s3", "bucket": "backups" });
        if let Some(prefix) = path_prefix {
            target["pathPrefix"] = json!(prefix);
        }
        value["spec"]["backup"] = json!({
            "schedule": "0 3 * * *",
            "target": target,
            "auth": { "jwt": { "role": "backup" } },
        });
    }
    serde_json::from_value(value).expect("valid OpenBaoCluster")
}

fn succeeded(report: Option<serde_json::Value>) -> JobState {
    JobState::Succeeded {
        finished_at: at(3, 5),
        termination_message: report.map(|r| r.to_string()),
    }
}

fn failed(job_reason: Option<&str>, report: Option<serde_json::Value>) -> JobState {
    JobState::Failed {
        finished_at: at(3, 5),
        job_reason: job_reason.map(str::to_string),
        termination_message: report.map(|r| r.to_string()),
    }
}

fn refused(reason: &str, message: &str) -> Option<PreflightVerdict> {
    Some(PreflightVerdict::Refused {
        reason: reason.into(),
        message: message.into(),
    })
}

fn names(requests: &[Arc<OpenBaoRestore>]) -> Vec<&str> {
    requests
        .iter()
        .map(|r| r.metadata.name.as_deref().unwrap())
        .collect()
}

#[test]
fn the_queue_is_oldest_first_then_by_name_without_terminal_requests() {
    let requests = [
        request("late", "2026-03-02T03:00:09Z", None, json!({})),
        request("b-same", "2026-03-02T03:00:01Z", Some("Pending"), json!({})),
        request("done", "2026-03-02T02:00:00Z", Some("Completed"), json!({})),
        request("a-same", "2026-03-02T03:00:01Z", None, json!({})),
        request("first", "2026-03-02T03:00:00Z", Some("Running"), json!({})),
        request("broken", "2026-03-02T01:00:00Z", Some("Failed"), json!({})),
        request(
            "checking",
            "2026-03-02T03:00:05Z",
            Some("Validating"),
            json!({}),
        ),
    ];
    let queue = queue(requests.into_iter().map(Arc::new).collect());
    assert_eq!(
        names(&queue),
        ["first", "a-same", "b-same", "checking", "late"]
    );
    assert!(super::queue(Vec::new()).is_empty());
}

#[test]
fn job_names_are_stable_per_uid_distinct_per_uid_and_kind() {
    let (uid, other) = (
        "6f1c1f3e-0000-4000-8000-000000000001",
        "6f1c1f3e-0000-4000-8000-000000000002",
    );
    for name in [preflight_job_name, restore_job_name] {
        assert_eq!(name("prod", uid), name("prod", uid));
        assert_ne!(name("prod", uid), name("prod", other));
    }
    assert_ne!(
        preflight_job_name("prod", uid),
        restore_job_name("prod", uid)
    );
    let tag = uid_tag(uid);
    assert_eq!(restore_job_name("prod", uid), format!("prod-restore-{tag}"));
    assert_eq!(
        preflight_job_name("prod", uid),
        format!("prod-restore-check-{tag}")
    );
    assert!(
        tag.len() == 10 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
        "{tag}"
    );
}

#[test]
fn job_names_of_long_cluster_names_are_valid_kubernetes_names_of_at_most_63_characters() {
    // 253 characters (the longest name), and one whose cut falls right after a dot (`….-restore-…` is invalid).
    for cluster in [
        "a".repeat(253),
        format!("{}.example.internal", "a".repeat(35)),
    ] {
        let (preflight, restore) = (
            preflight_job_name(&cluster, "uid-1"),
            restore_job_name(&cluster, "uid-1"),
        );
        assert_ne!(preflight, restore);
        for name in [preflight, restore] {
            assert!(name.len() <= 63, "{name} is {} long", name.len());
            assert!(is_dns_subdomain(&name), "{name}");
        }
    }
}

/// Kubernetes' DNS-1123 subdomain: dot-separated labels of `[a-z0-9-]`, each starting and ending alphanumeric.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[test]
fn admit_needs_somewhere_to_read_from() {
    let refusal = admit(&cluster(false, None), &with_key("vault/prod/a.snap", false)).unwrap_err();
    assert_eq!(refusal.reason, "NoBackupTarget");
    assert!(refusal.message.contains("prod"), "{}", refusal.message);
    // The request's own target is enough.
    let target = json!({ "provider": "s3", "bucket": "elsewhere" });
    let own = with_spec(json!({ "source": { "latest": true, "target": target } }));
    assert_eq!(admit(&cluster(false, None), &own), Ok(()));
}

#[test]
fn a_plain_http_source_target_needs_the_clusters_opt_in() {
    let target =
        json!({ "provider": "s3", "bucket": "b", "s3": { "endpoint": "http://minio:9000" } });
    let request = with_spec(json!({ "source": { "latest": true, "target": target } }));
    let refusal = admit(&cluster(false, None), &request).unwrap_err();
    assert_eq!(refusal.reason, "PlainHttpNotAllowed");
    assert!(
        refusal.message.contains("http://minio:9000"),
        "{}",
        refusal.message
    );
    let mut allowing = cluster(false, None);
    allowing.spec.allow_plain_http = true;
    assert_eq!(admit(&allowing, &request), Ok(()));
}

#[test]
fn admit_keeps_named_keys_inside_the_clusters_folder_unless_forced() {
    let cluster = cluster(true, None);
    assert_eq!(
        admit(&cluster, &with_key("vault/prod/a.snap", false)),
        Ok(())
    );
    for outside in [
        "vault/other/a.snap",
        "vault/prod2/a.snap",
        "vault/prod/sub/a.snap",
        "vault/prod/a.tar",
        "vault/prod/",
        "/vault/prod/a.snap",
        "prod/a.snap",
    ] {
        let Refusal { reason, message } = admit(&cluster, &with_key(outside, false)).unwrap_err();
        assert_eq!(reason, "KeyOutsideClusterFolder", "{outside}");
        assert!(message.contains("vault/prod/"), "{message}");
        assert_eq!(
            admit(&cluster, &with_key(outside, true)),
            Ok(()),
            "{outside}"
        );
    }
    // `latest` names no key: nothing to check.
    assert_eq!(admit(&cluster, &with_spec(json!({}))), Ok(()));
}

#[test]
fn admit_reads_the_folder_under_a_path_prefix_with_stray_slashes() {
    assert_eq!(
        cluster_folder(Some("/team/openbao/"), "vault", "prod"),
        "team/openbao/vault/prod/"
    );
    assert_eq!(cluster_folder(Some("/"), "vault", "prod"), "vault/prod/");
    assert_eq!(cluster_folder(None, "vault", "prod"), "vault/prod/");
    let cluster = cluster(true, Some("/team/openbao/"));
    assert_eq!(
        admit(&cluster, &with_key("team/openbao/vault/prod/a.snap", false)),
        Ok(())
    );
    let refusal = admit(&cluster, &with_key("vault/prod/a.snap", false)).unwrap_err();
    assert_eq!(refusal.reason, "KeyOutsideClusterFolder");
}

#[test]
fn admit_refuses_a_request_without_exactly_one_auth_method() {
    let refusal = admit(&cluster(true, None), &with_spec(json!({ "auth": {} })));
    assert_eq!(refusal.unwrap_err().reason, "InvalidAuth");
}

fn dry_run_report() -> serde_json::Value {
    json!({
        "operation": "restore",
        "outcome": "dryRun",
        "key": "vault/prod/a.snap",
        "digest": DIGEST,
        "size": 4096,
        "clusterId": "c0ffee",
        "version": "2.7.2",
        "created": "2026-03-02T03:00:00Z",
    })
}

fn failure_report() -> serde_json::Value {
    json!({
        "operation": "restore",
        "outcome": "failed",
        "stage": "verify",
        "reason": "DigestMismatch",
        "message": "the snapshot's digest differs from its manifest",
    })
}

#[test]
fn preflight_verdicts_for_every_job_state() {
    assert_eq!(preflight_verdict(&JobState::Active), None);
    assert!(matches!(
        preflight_verdict(&JobState::Missing),
        Some(PreflightVerdict::Refused { reason, .. }) if reason == "PreflightJobLost"
    ));

    let Some(PreflightVerdict::Pinned(snapshot)) =
        preflight_verdict(&succeeded(Some(dry_run_report())))
    else {
        panic!("a dry-run report with key and digest pins the snapshot");
    };
    assert_eq!(snapshot.key, "vault/prod/a.snap");
    assert_eq!(snapshot.digest.as_deref(), Some(DIGEST));
    assert_eq!(snapshot.size, Some(4096));
    assert_eq!(snapshot.source_cluster_id.as_deref(), Some("c0ffee"));
    assert_eq!(snapshot.version.as_deref(), Some("2.7.2"));
    assert_eq!(snapshot.created_at, Some(at(3, 0)));

    for missing in ["digest", "key"] {
        let mut report = dry_run_report();
        report.as_object_mut().unwrap().remove(missing);
        assert_eq!(
            preflight_verdict(&succeeded(Some(report))),
            refused(
                "ReportUnreadable",
                "the validation Job's report names no snapshot key and digest"
            ),
            "{missing}"
        );
    }
    assert_eq!(
        preflight_verdict(&succeeded(None)),
        refused(
            "ReportUnreadable",
            "the validation Job succeeded without a report"
        )
    );
    // An executor that did not run dry is not a validation.
    assert!(matches!(
        preflight_verdict(&succeeded(Some(json!({ "outcome": "succeeded", "key": "k", "digest": DIGEST })))),
        Some(PreflightVerdict::Refused { reason, .. }) if reason == "ValidationFailed"
    ));

    for state in [
        failed(Some("BackoffLimitExceeded"), Some(failure_report())),
        succeeded(Some(failure_report())),
    ] {
        assert_eq!(
            preflight_verdict(&state),
            refused(
                "DigestMismatch",
                "stage verify: the snapshot's digest differs from its manifest"
            )
        );
    }
    let Some(PreflightVerdict::Refused { reason, message }) =
        preflight_verdict(&failed(Some("DeadlineExceeded"), None))
    else {
        panic!("a failed Job is refused");
    };
    assert_eq!(reason, "DeadlineExceeded");
    assert!(message.contains("DeadlineExceeded"), "{message}");
    assert!(matches!(
        preflight_verdict(&failed(None, None)),
        Some(PreflightVerdict::Refused { reason, .. }) if reason == "ValidationFailed"
    ));
}

#[test]
fn unreadable_reports_are_refusals_not_panics() {
    let too_long = format!("{{\"message\":\"{}\"}}", "x".repeat(20_000));
    for text in [
        "",
        "not json",
        "{\"outcome\": \"dryRun\", \"key\": \"k\", \"digest\": \"md5:00\"}",
        "[1,2,3]",
        too_long.as_str(),
    ] {
        let state = JobState::Succeeded {
            finished_at: at(3, 5),
            termination_message: Some(text.to_string()),
        };
        assert!(
            matches!(
                preflight_verdict(&state),
                Some(PreflightVerdict::Refused { ref reason, .. }) if reason == "ReportUnreadable"
            ),
            "{text:.40}"
        );
        let verdict = restore_verdict(&state).expect("terminal");
        assert_eq!(
            (verdict.phase, verdict.reason.as_str()),
            (RestorePhase::Failed, "ReportUnreadable"),
            "{text:.40}"
        );
        // A failed Job with an unreadable report is judged by the Job's own reason.
        let state = JobState::Failed {
            finished_at: at(3, 5),
            job_reason: Some("BackoffLimitExceeded".into()),
            termination_message: Some(text.to_string()),
        };
        assert_eq!(
            restore_verdict(&state).unwrap().reason,
            "BackoffLimitExceeded"
        );
    }
}

#[test]
fn restore_verdicts_for_every_job_state() {
    assert_eq!(restore_verdict(&JobState::Active), None);
    let lost = restore_verdict(&JobState::Missing).unwrap();
    assert_eq!(
        (lost.phase, lost.reason.as_str(), lost.sealed),
        (RestorePhase::Failed, "RestoreJobLost", false)
    );
    assert!(
        lost.message.contains("never re-created"),
        "{}",
        lost.message
    );

    let done = restore_verdict(&succeeded(Some(
        json!({ "outcome": "succeeded", "key": "vault/prod/a.snap" }),
    )))
    .unwrap();
    assert_eq!(
        (done.phase, done.reason.as_str(), done.sealed),
        (RestorePhase::Completed, "RestoreSucceeded", false)
    );
    assert!(
        done.message.contains("vault/prod/a.snap"),
        "{}",
        done.message
    );

    let sealed =
        restore_verdict(&succeeded(Some(json!({ "outcome": "succeededSealed" })))).unwrap();
    assert_eq!(
        (sealed.phase, sealed.reason.as_str(), sealed.sealed),
        (RestorePhase::Completed, "RestoredSealed", true)
    );
    assert!(sealed.message.contains("unseal"), "{}", sealed.message);

    for state in [
        failed(Some("BackoffLimitExceeded"), Some(failure_report())),
        succeeded(Some(failure_report())),
    ] {
        let verdict = restore_verdict(&state).unwrap();
        assert_eq!(verdict.phase, RestorePhase::Failed);
        assert_eq!(verdict.reason, "DigestMismatch");
        assert_eq!(
            verdict.message,
            "stage verify: the snapshot's digest differs from its manifest"
        );
    }
    // A dry-run report from the destructive Job is not a restore.
    let dry = restore_verdict(&succeeded(Some(dry_run_report()))).unwrap();
    assert_eq!(
        (dry.phase, dry.reason.as_str()),
        (RestorePhase::Failed, "RestoreFailed")
    );
    let stage_only = restore_verdict(&failed(None, Some(json!({ "stage": "auth" })))).unwrap();
    assert_eq!(
        (stage_only.reason.as_str(), stage_only.message.as_str()),
        ("RestoreFailed", "failed at stage auth")
    );

    let by_job = restore_verdict(&failed(Some("DeadlineExceeded"), None)).unwrap();
    assert_eq!(
        (by_job.phase, by_job.reason.as_str()),
        (RestorePhase::Failed, "DeadlineExceeded")
    );
    assert_eq!(
        restore_verdict(&failed(None, None)).unwrap().reason,
        "RestoreFailed"
    );
    assert_eq!(
        restore_verdict(&succeeded(None)).unwrap().reason,
        "ReportUnreadable"
    );
}

#[test]
fn elapsed_is_measured_from_the_start_and_never_negative() {
    assert_eq!(
        elapsed_since(Some(at(3, 0)), at(3, 5)),
        Some(std::time::Duration::from_secs(300))
    );
    assert_eq!(elapsed_since(Some(at(3, 5)), at(3, 0)), None);
    assert_eq!(elapsed_since(None, at(3, 0)), None);
}

/// What the API server accepts as a condition reason.
fn is_condition_reason(reason: &str) -> bool {
    let bytes = reason.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 1024
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b',' | b':'))
        && !matches!(bytes[bytes.len() - 1], b',' | b':')
}

/// Termination messages: free text, and JSON reports whose fields are free text, valid values, or wrong types.
fn termination_message() -> impl Strategy<Value = Option<String>> {
    let text = || {
        prop_oneof![
            ".{0,40}",
            "[A-Za-z][A-Za-z0-9_,:]{0,12}",
            Just(String::new())
        ]
    };
    let field = |name: &'static str, value: BoxedStrategy<serde_json::Value>| {
        proptest::option::of(value).prop_map(move |v| v.map(|v| (name, v)))
    };
    let string = || text().prop_map(|t| json!(t)).boxed();
    let outcomes = ["dryRun", "succeeded", "succeededSealed", "failed"].map(|o| json!(o));
    let report = (
        field(
            "outcome",
            prop_oneof![
                proptest::sample::select(outcomes.to_vec()),
                string(),
                Just(json!(7))
            ]
            .boxed(),
        ),
        field("key", string()),
        field("digest", prop_oneof![Just(json!(DIGEST)), string()].boxed()),
        field("size", any::<u64>().prop_map(|n| json!(n)).boxed()),
        field(
            "durationSeconds",
            any::<f64>().prop_map(|n| json!(n)).boxed(),
        ),
        field("created", string()),
        field("stage", string()),
        field("reason", string()),
        field("message", string()),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i)| {
            let fields = [a, b, c, d, e, f, g, h, i];
            let object: serde_json::Map<_, _> = fields
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            serde_json::Value::Object(object).to_string()
        });
    proptest::option::of(prop_oneof![report, text(), any::<String>()])
}

fn job_state() -> impl Strategy<Value = JobState> {
    let finished = (0i64..4_000_000_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap());
    prop_oneof![
        Just(JobState::Active),
        Just(JobState::Missing),
        (finished.clone(), termination_message()).prop_map(|(finished_at, termination_message)| {
            JobState::Succeeded {
                finished_at,
                termination_message,
            }
        }),
        (
            finished,
            proptest::option::of(prop_oneof![".{0,20}", "[A-Z][A-Za-z]{0,20}"]),
            termination_message()
        )
            .prop_map(
                |(finished_at, job_reason, termination_message)| JobState::Failed {
                    finished_at,
                    job_reason,
                    termination_message,
                }
            ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_job_state_gets_a_verdict_with_a_valid_condition_reason(state in job_state()) {
        let preflight = preflight_verdict(&state);
        let restore = restore_verdict(&state);
        prop_assert_eq!(preflight.is_none(), state == JobState::Active);
        prop_assert_eq!(restore.is_none(), state == JobState::Active);
        if let Some(PreflightVerdict::Refused { reason, message }) = &preflight {
            let valid = condition_reason(reason, "ValidationFailed");
            prop_assert!(is_condition_reason(&valid), "{valid:?}");
            prop_assert!(message.len() < 20_000);
        }
        if let Some(PreflightVerdict::Pinned(snapshot)) = &preflight {
            prop_assert!(!snapshot.key.is_empty());
            prop_assert_eq!(snapshot.digest.as_deref(), Some(DIGEST));
        }
        if let Some(verdict) = &restore {
            let valid = condition_reason(&verdict.reason, "RestoreFailed");
            prop_assert!(is_condition_reason(&valid), "{valid:?}");
            prop_assert!(!verdict.sealed || verdict.phase == RestorePhase::Completed);
            prop_assert!(
                verdict.phase == RestorePhase::Failed || matches!(state, JobState::Succeeded { .. }),
                "only a succeeded Job completes a restore"
            );
        }
    }

    #[test]
    fn condition_reason_keeps_valid_reasons_and_replaces_the_rest(reason in prop_oneof![
        ".{0,30}",
        "[A-Za-z][A-Za-z0-9_,:]{0,30}",
    ]) {
        let kept = condition_reason(&reason, "RestoreFailed");
        prop_assert!(is_condition_reason(&kept), "{kept:?}");
        prop_assert_eq!(kept == reason, is_condition_reason(&reason));
    }

    #[test]
    fn job_names_are_dns_subdomains_of_at_most_63_characters(
        labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", 1..12),
        uid in "[a-f0-9-]{1,36}",
    ) {
        let cluster: String = labels.join(".").chars().take(253).collect();
        let cluster = cluster.trim_end_matches(['.', '-']);
        prop_assume!(is_dns_subdomain(cluster));
        for name in [preflight_job_name(cluster, &uid), restore_job_name(cluster, &uid)] {
            prop_assert!(name.len() <= 63, "{name}");
            prop_assert!(is_dns_subdomain(&name), "{name}");
        }
    }
}

//! Generated specs: whatever a user (or the schema) lets through, validation answers with a verdict, never a
//! panic, and a spec it accepts yields schedules and jitter the actors can compute with.

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;

fn cron_field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        "[0-9]{1,3}",
        "[0-9]{1,2}-[0-9]{1,2}",
        "\\*/[0-9]{1,3}",
        "[0-9]{1,2}(,[0-9]{1,2}){0,3}",
        "(MON|TUE|SUN|JAN|DEC|L|W|#|\\?)",
        ".{0,4}",
    ]
}

fn schedule() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(cron_field(), 1..8).prop_map(|fields| fields.join(" ")),
        Just("@daily".to_string()),
        "@[a-z]{0,8}",
        ".{0,30}",
    ]
}

fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{1,20}[wdhms]", "([0-9]{1,6}[wdhms]){1,5}", ".{0,12}"]
}

fn endpoint() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "https?://[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
        "https?://[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}/",
        "http://\\[[0-9a-f:]{2,20}\\]/",
        ".{0,20}",
    ])
}

prop_compose! {
    fn cluster_spec()(
        schedule in schedule(),
        time_zone in prop_oneof![Just("UTC".to_string()), Just("Europe/Berlin".to_string()), ".{0,20}"],
        jitter in any::<i32>(),
        deadline in any::<i64>(),
        timeout in any::<i64>(),
        max_age in proptest::option::of(duration_text()),
        endpoint in endpoint(),
        store_endpoint in endpoint(),
        secret in "[a-z0-9-]{1,20}",
        allow_plain_http in any::<bool>(),
        leader_hosts in proptest::collection::vec(prop_oneof![
            "[a-z0-9.*-]{0,20}",
            "[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,3})?",
            "[0-9a-f:]{2,20}(/[0-9]{1,3})?",
            ".{0,12}",
        ], 0..3),
    ) -> OpenBaoClusterSpec {
        let mut value = serde_json::json!({
            "version": "2.7.2",
            "allowPlainHttp": allow_plain_http,
            "leaderHosts": leader_hosts,
            "backup": {
                "schedule": schedule,
                "timeZone": time_zone,
                "jitterSeconds": jitter,
                "startingDeadlineSeconds": deadline,
                "timeoutSeconds": timeout,
                "target": {"provider": "s3", "bucket": "b", "credentialsSecretRef": {"name": secret}},
                "auth": {"tokenSecretRef": {"name": "backup-token"}},
            },
        });
        if let Some(max_age) = max_age {
            value["backup"]["retention"] = serde_json::json!({"maxAge": max_age});
        }
        if let Some(endpoint) = endpoint {
            value["endpoint"] = endpoint.into();
        }
        if let Some(endpoint) = store_endpoint {
            value["backup"]["target"]["s3"] = serde_json::json!({"endpoint": endpoint});
        }
        serde_json::from_value(value).expect("a spec of the right shape")
    }
}

/// 10,000 generated specs in the suite; `SPEC_PROPERTY_CASES` raises it (`scripts/reliability.sh`). Prints a
/// reliability row from the runner's own count.
#[test]
fn any_spec_gets_a_verdict_and_an_accepted_one_can_be_scheduled() {
    let cases = std::env::var("SPEC_PROPERTY_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(10_000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
    let result = runner.run(&(cluster_spec(), 0i64..4_102_444_800), |(spec, now)| {
        check_spec(&spec, now)
    });
    println!(
        "reliability-row: R4|generated OpenBaoCluster specs (cron, zones, durations, endpoints, names)|{cases}|{}",
        u8::from(result.is_err())
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

fn check_spec(spec: &OpenBaoClusterSpec, now: i64) -> Result<(), TestCaseError> {
    {
        match validate_cluster_spec(spec) {
            Err(errors) => prop_assert!(!errors.is_empty()),
            Ok(None) => prop_assert!(false, "a spec with backup validated to no backup"),
            Ok(Some(config)) => {
                let now = DateTime::<Utc>::from_timestamp(now, 0).unwrap();
                let _ = config.schedule.next_fire_after(now);
                let _ = config.jitter_for("ns", "name");
                let _ = now.checked_add_signed(config.starting_deadline);
                if let Some(max_age) = config.max_age {
                    let _ = now.checked_sub_signed(max_age.as_chrono());
                }
            }
        }
    }
    Ok(())
}

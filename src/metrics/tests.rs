//! The `/metrics` text checked by a small OpenMetrics parser: what `promtool check metrics` would lint (types
//! declared before samples, suffixes per type, label syntax, unique series, consistent histograms), plus the
//! per-cluster series lifecycle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use openbao_actors::cluster_key::ClusterKey;
use openbao_actors::metrics::{ActorKind, ActorMetrics, MailboxGauge};
use openbao_crds::{OpenBaoCluster, OpenBaoClusterSpec};

use super::OperatorMetrics;

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Exposition {
    types: HashMap<String, String>,
    samples: Vec<Sample>,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("label without =\" in {text:?}"))?;
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?} in {text:?}")),
                },
                Some((index, '"')) => break index,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in {text:?}")),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} repeated in {text:?}"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Ok(labels)
}

fn allowed_suffixes(metric_type: &str) -> &'static [&'static str] {
    match metric_type {
        "counter" => &["_total", "_created"],
        "gauge" => &[""],
        "histogram" => &["_bucket", "_count", "_sum", "_created"],
        _ => &[],
    }
}

fn parse(text: &str) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    let mut helped = HashSet::new();
    let mut seen_series = HashSet::new();
    let mut saw_eof = false;
    for line in text.lines() {
        if saw_eof {
            return Err(format!("content after # EOF: {line:?}"));
        }
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').ok_or("HELP without text")?;
            helped.insert(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, metric_type) = rest.split_once(' ').ok_or("TYPE without type")?;
            if !is_metric_name(name) {
                return Err(format!("bad metric name {name:?}"));
            }
            if allowed_suffixes(metric_type).is_empty() {
                return Err(format!("unknown type {metric_type:?}"));
            }
            if metric_type == "counter" && name.ends_with("_total") {
                return Err(format!("counter family {name} must not end in _total"));
            }
            if exposition
                .types
                .insert(name.to_string(), metric_type.to_string())
                .is_some()
            {
                return Err(format!("{name} declared twice"));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("sample without value: {line:?}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (
                name,
                parse_labels(
                    labels
                        .strip_suffix('}')
                        .ok_or_else(|| format!("unclosed labels: {line:?}"))?,
                )?,
            ),
            None => (series, BTreeMap::new()),
        };
        let family = exposition
            .types
            .iter()
            .find(|(family, metric_type)| {
                allowed_suffixes(metric_type)
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family.as_str()))
            })
            .map(|(family, _)| family.clone())
            .ok_or_else(|| format!("sample {name} has no declared family"))?;
        if !helped.contains(&family) {
            return Err(format!("{family} has no HELP"));
        }
        if !seen_series.insert(format!("{name}{labels:?}")) {
            return Err(format!("duplicate series {name}{labels:?}"));
        }
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .map_err(|_| format!("bad value {other:?} in {line:?}"))?,
        };
        exposition.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    if !saw_eof {
        return Err("missing # EOF".into());
    }
    check_histograms(&exposition)?;
    Ok(exposition)
}

/// Buckets are cumulative and the `+Inf` bucket equals `_count`.
fn check_histograms(exposition: &Exposition) -> Result<(), String> {
    for (family, metric_type) in &exposition.types {
        if metric_type != "histogram" {
            continue;
        }
        let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts = HashMap::new();
        for sample in &exposition.samples {
            let mut series = sample.labels.clone();
            if sample.name == format!("{family}_bucket") {
                let le = series.remove("le").ok_or("bucket without le")?;
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().map_err(|_| format!("bad le {le}"))?
                };
                buckets
                    .entry(format!("{series:?}"))
                    .or_default()
                    .push((bound, sample.value));
            } else if sample.name == format!("{family}_count") {
                counts.insert(format!("{series:?}"), sample.value);
            }
        }
        for (series, mut bucket) in buckets {
            bucket.sort_by(|a, b| a.0.total_cmp(&b.0));
            if bucket.windows(2).any(|pair| pair[1].1 < pair[0].1) {
                return Err(format!("{family}{series}: buckets not cumulative"));
            }
            let last = bucket.last().ok_or("empty histogram")?;
            if !last.0.is_infinite() || Some(&last.1) != counts.get(&series) {
                return Err(format!("{family}{series}: +Inf bucket differs from _count"));
            }
        }
    }
    Ok(())
}

fn cluster(namespace: &str, name: &str, status_yaml: &str) -> OpenBaoCluster {
    let mut cluster = OpenBaoCluster::new(name, OpenBaoClusterSpec::new("2.4.1"));
    cluster.metadata.namespace = Some(namespace.into());
    cluster.status = Some(serde_norway::from_str(status_yaml).unwrap());
    cluster
}

fn values<'a>(exposition: &'a Exposition, name: &str, cluster: &str) -> Vec<&'a Sample> {
    exposition
        .samples
        .iter()
        .filter(|s| s.name == name && s.labels.get("cluster").map(String::as_str) == Some(cluster))
        .collect()
}

#[test]
fn the_exposition_is_valid_and_series_go_with_their_cluster() {
    let metrics = OperatorMetrics::new();
    metrics.set_leader(true);
    let prod = ClusterKey::new("security", "prod");
    let dev = ClusterKey::new("team-a", "dev");
    metrics.observe_cluster(&cluster(
        "security",
        "prod",
        "backup: {consecutiveFailures: 0}",
    ));
    metrics.observe_cluster(&cluster(
        "security",
        "prod",
        r#"
conditions:
- {type: BackingUp, status: "False", reason: Idle, message: idle, lastTransitionTime: "2026-03-01T02:00:40Z"}
operationLock: {operation: Backup, holder: backup/prod-backup-202603010200, acquiredAt: "2026-03-01T02:00:00Z", epoch: 3}
backup:
  lastAttemptTime: "2026-03-01T02:00:01Z"
  lastSuccessTime: "2026-03-01T02:00:40Z"
  lastBackupKey: p/security/prod/20260301T020001Z-scheduled-0a1b2c3d.snap
  lastBackupSize: 3100000
  lastBackupDuration: 39s
  consecutiveFailures: 0
"#,
    ));
    metrics.observe_cluster(&cluster(
        "team-a",
        "dev",
        r#"backup: {consecutiveFailures: 2, lastFailure: {time: "2026-03-01T02:00:05Z", reason: "Auth \"x\"", message: m}}"#,
    ));
    for key in [&prod, &dev] {
        metrics.message_handled(key, ActorKind::Supervisor, Duration::from_millis(3));
        metrics.message_handled(key, ActorKind::BACKUP, Duration::from_secs(2));
        metrics.mailbox_depth(key, ActorKind::BACKUP, 1);
        metrics.actor_restarted(key, ActorKind::BACKUP);
        metrics.lock.denied(key);
    }

    let text = metrics.encode();
    let exposition = parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    for family in [
        "openbao_backup_last_success_timestamp_seconds",
        "openbao_backup_last_attempt_timestamp_seconds",
        "openbao_backup_last_duration_seconds",
        "openbao_backup_last_size_bytes",
        "openbao_backup_successes",
        "openbao_backup_failures",
        "openbao_backup_consecutive_failures",
        "openbao_backup_in_progress",
        "openbao_operation_lock_held",
        "openbao_operation_lock_denials",
        "openbao_actor_messages",
        "openbao_actor_mailbox_depth",
        "openbao_actor_handler_seconds",
        "openbao_actor_restarts",
    ] {
        assert!(
            exposition.types.contains_key(family),
            "{family} missing:\n{text}"
        );
    }
    let successes = values(&exposition, "openbao_backup_successes_total", "prod");
    assert_eq!(
        successes[0].value, 1.0,
        "the second observation brought a new backup"
    );
    assert_eq!(
        values(&exposition, "openbao_backup_last_size_bytes", "prod")[0].value,
        3_100_000.0
    );
    assert_eq!(
        values(&exposition, "openbao_backup_last_duration_seconds", "prod")[0].value,
        39.0
    );
    assert_eq!(
        values(
            &exposition,
            "openbao_backup_last_success_timestamp_seconds",
            "prod"
        )[0]
        .value,
        Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 40)
            .unwrap()
            .timestamp() as f64
    );
    assert_eq!(
        values(&exposition, "openbao_backup_consecutive_failures", "dev")[0].value,
        2.0
    );
    assert_eq!(
        values(&exposition, "openbao_backup_failures_total", "dev")[0].value,
        0.0,
        "a failure from before the first observation is not counted"
    );
    let held: Vec<_> = values(&exposition, "openbao_operation_lock_held", "prod")
        .into_iter()
        .map(|s| (s.labels["operation"].clone(), s.value))
        .collect();
    assert!(held.contains(&("Backup".to_string(), 1.0)), "{held:?}");
    assert!(held.contains(&("Restore".to_string(), 0.0)), "{held:?}");
    let handler = values(&exposition, "openbao_actor_handler_seconds_count", "dev");
    assert_eq!(handler.len(), 2, "one histogram per actor");

    metrics.remove_cluster(&prod);
    let text = metrics.encode();
    let exposition = parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert!(
        exposition
            .samples
            .iter()
            .all(|s| s.labels.get("cluster").map(String::as_str) != Some("prod")),
        "series of a deleted cluster remain:\n{text}"
    );
    assert!(!values(&exposition, "openbao_actor_messages_total", "dev").is_empty());
}

#[test]
fn the_parser_rejects_what_promtool_rejects() {
    for bad in [
        "# TYPE a_total counter\n# HELP a_total x\na_total_total 1\n# EOF\n",
        "# HELP g x\n# TYPE g gauge\ng{a=\"1\",a=\"2\"} 1\n# EOF\n",
        "# HELP g x\n# TYPE g gauge\ng 1\ng 2\n# EOF\n",
        "# HELP g x\n# TYPE g gauge\nh 1\n# EOF\n",
        "# HELP g x\n# TYPE g gauge\ng 1\n",
        "# HELP g x\n# TYPE g gauge\ng{1a=\"x\"} 1\n# EOF\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn restore_series_count_outcomes_and_go_with_their_cluster() {
    use openbao_actors::restore::effects::{RestoreMetricOutcome, RestoreMetrics};
    let metrics = OperatorMetrics::new();
    metrics.set_leader(true);
    let key = ClusterKey::new("security", "vault");
    metrics.restore.restore_running(&key, true);
    metrics.restore.restore_finished(
        &key,
        RestoreMetricOutcome::Succeeded,
        Some(Duration::from_secs(42)),
    );
    metrics.restore.restore_running(&key, false);
    let text = metrics.encode();
    let exposition = parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    check_histograms(&exposition).unwrap();
    let total = values(&exposition, "openbao_restore_total", "vault");
    assert_eq!(total.len(), 1, "{text}");
    assert_eq!(total[0].labels["outcome"], "succeeded");
    assert_eq!(total[0].value, 1.0);
    let in_progress = values(&exposition, "openbao_restore_in_progress", "vault");
    assert_eq!(in_progress[0].value, 0.0);
    let count = values(
        &exposition,
        "openbao_restore_duration_seconds_count",
        "vault",
    );
    assert_eq!(count[0].value, 1.0);
    metrics.forget_cluster(&key);
    let after = metrics.encode();
    assert!(!after.contains("vault"), "{after}");
}

const FAILING_WITH_POINTS: &str = r#"
operationLock: {operation: Backup, holder: backup/prod-backup-202603010200, acquiredAt: "2026-03-01T02:00:00Z", epoch: 3}
backup:
  lastSuccessTime: "2026-03-01T01:00:40Z"
  lastBackupKey: p/security/prod/20260301T010001Z-scheduled-0a1b2c3d.snap
  nextScheduledBackup: "2026-03-01T03:00:00Z"
  consecutiveFailures: 2
  lastFailure: {time: "2026-03-01T02:00:05Z", reason: StorageError, message: denied}
  recoveryPoints:
  - {key: p/security/prod/20260301T010001Z-scheduled-0a1b2c3d.snap, time: "2026-03-01T01:00:30Z", size: 10, digest: "sha256:00", kind: scheduled}
  - {key: p/security/prod/20260301T000001Z-scheduled-0a1b2c3d.snap, time: "2026-03-01T00:00:30Z", size: 10, digest: "sha256:00", kind: scheduled}
"#;

/// Follower, restart and re-election: what a scrape of one replica says must not depend on its history.
#[test]
fn a_follower_exports_no_cluster_series_and_a_new_leader_shows_status_at_once() {
    let follower = OperatorMetrics::new();
    let mut prod = cluster("security", "prod", FAILING_WITH_POINTS);
    prod.spec.backup = Some(serde_norway::from_str(
        r#"{schedule: "0 * * * *", timeoutSeconds: 900, target: {provider: s3, bucket: b, s3: {region: r}, credentialsSecretRef: {name: s}}, auth: {jwt: {role: backup}}}"#,
    )
    .unwrap());
    follower.observe_cluster(&prod);
    let text = follower.encode();
    let exposition = parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert!(
        exposition
            .samples
            .iter()
            .all(|s| !s.labels.contains_key("cluster")),
        "a follower exports per-cluster series:\n{text}"
    );
    assert!(text.contains("openbao_operator_leader 0"), "{text}");
    assert!(text.contains("process_start_time_seconds"), "{text}");

    // A fresh process (restart) or a follower taking over: state gauges come from status at once.
    follower.set_leader(true);
    let text = follower.encode();
    let exposition = parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert!(text.contains("openbao_operator_leader 1"), "{text}");
    let one = |name: &str| {
        let found = values(&exposition, name, "prod");
        assert_eq!(found.len(), 1, "{name}:\n{text}");
        found[0].value
    };
    assert_eq!(one("openbao_backup_consecutive_failures"), 2.0);
    assert_eq!(one("openbao_backup_recovery_points"), 2.0);
    assert_eq!(one("openbao_backup_schedule_interval_seconds"), 3600.0);
    assert_eq!(
        one("openbao_backup_next_scheduled_timestamp_seconds"),
        Utc.with_ymd_and_hms(2026, 3, 1, 3, 0, 0)
            .unwrap()
            .timestamp() as f64
    );
    let newest = Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 30).unwrap();
    let age = one("openbao_backup_newest_recovery_point_age_seconds");
    let expected = (Utc::now() - newest).num_seconds() as f64;
    assert!(
        (age - expected).abs() < 5.0,
        "age {age}, expected about {expected}"
    );
    let held = values(&exposition, "openbao_operation_lock_held_seconds", "prod");
    assert_eq!(held.len(), 1, "only the holding operation:\n{text}");
    assert_eq!(held[0].labels["operation"], "Backup");
    let acquired = Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap();
    assert!((held[0].value - (Utc::now() - acquired).num_seconds() as f64).abs() < 5.0);
    let timeout = values(&exposition, "openbao_operation_timeout_seconds", "prod");
    assert_eq!(
        (timeout[0].labels["operation"].as_str(), timeout[0].value),
        ("Backup", 900.0)
    );
    assert_eq!(
        one("openbao_backup_failures_total"),
        0.0,
        "history from before leading is not counted"
    );
}

#[test]
fn counters_move_only_while_leading() {
    let metrics = OperatorMetrics::new();
    let failed = |count: i32, second: u32| {
        cluster(
            "security",
            "prod",
            &format!(
                r#"backup: {{consecutiveFailures: {count}, lastFailure: {{time: "2026-03-01T02:00:{second:02}Z", reason: StorageError, message: m}}}}"#
            ),
        )
    };
    metrics.observe_cluster(&failed(1, 1));
    metrics.observe_cluster(&failed(2, 2));
    metrics.set_leader(true);
    metrics.observe_cluster(&failed(3, 3));
    let text = metrics.encode();
    let exposition = parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert_eq!(
        values(&exposition, "openbao_backup_failures_total", "prod")[0].value,
        1.0,
        "only the failure handled while leading:\n{text}"
    );
}

fn actor_values(exposition: &Exposition, name: &str, actor: &str) -> Vec<f64> {
    exposition
        .samples
        .iter()
        .filter(|s| s.name == name && s.labels.get("actor").map(String::as_str) == Some(actor))
        .map(|s| s.value)
        .collect()
}

fn scrape(metrics: &OperatorMetrics) -> Exposition {
    let text = metrics.encode();
    parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

/// A handler that never returns reports nothing, yet the messages queued behind it show at the next scrape: the
/// depth is read from the actor's live gauge.
#[test]
fn the_mailbox_depth_is_read_from_the_live_gauge_at_scrape_time() {
    let metrics = OperatorMetrics::new();
    metrics.set_leader(true);
    let key = ClusterKey::new("security", "prod");
    let mailbox = MailboxGauge::default();
    metrics.actor_started(&key, ActorKind::BACKUP, mailbox.clone());
    assert_eq!(
        actor_values(&scrape(&metrics), "openbao_actor_mailbox_depth", "backup"),
        [0.0],
        "exported from the start"
    );
    for _ in 0..12 {
        mailbox.sent();
    }
    assert_eq!(
        actor_values(&scrape(&metrics), "openbao_actor_mailbox_depth", "backup"),
        [12.0],
        "enqueued, none handled"
    );
    mailbox.handled();
    assert_eq!(
        actor_values(&scrape(&metrics), "openbao_actor_mailbox_depth", "backup"),
        [11.0]
    );

    // The actor ended: its gauge is not read any more; a restarted one starts from its own.
    metrics.actor_stopped(&key, ActorKind::BACKUP);
    assert!(actor_values(&scrape(&metrics), "openbao_actor_mailbox_depth", "backup").is_empty());
    let restarted = MailboxGauge::default();
    restarted.sent();
    metrics.actor_started(&key, ActorKind::BACKUP, restarted);
    assert_eq!(
        actor_values(&scrape(&metrics), "openbao_actor_mailbox_depth", "backup"),
        [1.0]
    );

    metrics.remove_cluster(&key);
    let text = metrics.encode();
    assert!(!text.contains("prod"), "{text}");
}

/// `increase()` needs a sample before the first restart: the counter exists at 0 once the actor started.
#[test]
fn restart_counters_exist_at_zero_from_an_actors_start() {
    let metrics = OperatorMetrics::new();
    metrics.set_leader(true);
    let key = ClusterKey::new("security", "prod");
    metrics.actor_started(&key, ActorKind::Supervisor, MailboxGauge::default());
    metrics.actor_started(&key, ActorKind::BACKUP, MailboxGauge::default());
    let exposition = scrape(&metrics);
    let restarts = |exposition: &Exposition, actor| {
        actor_values(exposition, "openbao_actor_restarts_total", actor)
    };
    assert_eq!(restarts(&exposition, "supervisor"), [0.0]);
    assert_eq!(restarts(&exposition, "backup"), [0.0]);
    assert!(restarts(&exposition, "upgrade").is_empty(), "never started");

    metrics.actor_restarted(&key, ActorKind::BACKUP);
    metrics.actor_stopped(&key, ActorKind::BACKUP);
    metrics.actor_started(&key, ActorKind::BACKUP, MailboxGauge::default());
    let exposition = scrape(&metrics);
    assert_eq!(
        restarts(&exposition, "backup"),
        [1.0],
        "a restart does not reset it"
    );
    assert_eq!(restarts(&exposition, "supervisor"), [0.0]);
    metrics.remove_cluster(&key);
    assert!(restarts(&scrape(&metrics), "supervisor").is_empty());
}

/// A cluster that never had a verified backup has no last-success time: the backup age alert measures from its
/// creation instead, exported for clusters with `spec.backup` only.
#[test]
fn the_creation_time_is_exported_for_backed_up_clusters_until_they_go() {
    let metrics = OperatorMetrics::new();
    metrics.set_leader(true);
    let created = Utc.with_ymd_and_hms(2026, 3, 1, 1, 30, 0).unwrap();
    let with_created = |name: &str, backup: bool| {
        let mut cluster = cluster("security", name, "{}");
        cluster.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                created.to_rfc3339().parse().unwrap(),
            ));
        if backup {
            cluster.spec.backup = Some(
                serde_norway::from_str(
                    r#"{schedule: "0 * * * *", target: {provider: s3, bucket: b, s3: {region: r}, credentialsSecretRef: {name: s}}, auth: {jwt: {role: backup}}}"#,
                )
                .unwrap(),
            );
        }
        cluster
    };
    let created_of = |exposition: &Exposition, name: &str| -> Vec<f64> {
        values(
            exposition,
            "openbao_cluster_created_timestamp_seconds",
            name,
        )
        .into_iter()
        .map(|s| s.value)
        .collect()
    };
    metrics.observe_cluster(&with_created("fresh", true));
    metrics.observe_cluster(&with_created("unprotected", false));
    let exposition = scrape(&metrics);
    assert_eq!(
        created_of(&exposition, "fresh"),
        [created.timestamp() as f64]
    );
    assert!(
        values(
            &exposition,
            "openbao_backup_last_success_timestamp_seconds",
            "fresh"
        )
        .is_empty(),
        "no success yet"
    );
    assert!(
        created_of(&exposition, "unprotected").is_empty(),
        "no spec.backup"
    );

    // spec.backup removed: no backup age to alert on.
    metrics.observe_cluster(&with_created("fresh", false));
    assert!(created_of(&scrape(&metrics), "fresh").is_empty());
    metrics.observe_cluster(&with_created("fresh", true));
    metrics.forget_cluster(&ClusterKey::new("security", "fresh"));
    assert!(created_of(&scrape(&metrics), "fresh").is_empty());
}

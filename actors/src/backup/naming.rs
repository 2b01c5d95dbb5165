//! Deterministic backup Job names: the same window, trigger token or upgrade always yields the same name, so an
//! operator restart that re-decides a backup finds the existing Job (AlreadyExists) instead of creating a second.
//!
//! Names are DNS-1123 labels of at most 63 characters (the `job-name` label Kubernetes puts on the Pods must
//! fit one). A long cluster name is shortened and suffixed with a hash of the full name, so two long names that
//! share a prefix still get distinct Jobs.

use chrono::{DateTime, Utc};
use openbao_crds::BackupKind;
use sha2::{Digest, Sha256};

const MAX_NAME: usize = 63;
const WINDOW_INFIX: &str = "backup";
const TRIGGER_INFIX: &str = "manual";
const PRE_UPGRADE_INFIX: &str = "pre-upgrade";
const HASH_LEN: usize = 10;

/// `<cluster>-backup-<yyyymmddhhmm>` for the scheduled window `scheduled` (UTC, without jitter).
pub fn window_job_name(cluster: &str, scheduled: DateTime<Utc>) -> String {
    compose(
        cluster,
        &format!("{WINDOW_INFIX}-{}", scheduled.format("%Y%m%d%H%M")),
    )
}

/// `<cluster>-manual-<10 hex of the token>`: tokens are free text, so only their hash goes into the name.
pub fn trigger_job_name(cluster: &str, token: &str) -> String {
    compose(cluster, &format!("{TRIGGER_INFIX}-{}", short_hash(token)))
}

/// `<cluster>-pre-upgrade-<10 hex of the upgrade id>`.
pub fn pre_upgrade_job_name(cluster: &str, upgrade_id: &str) -> String {
    compose(
        cluster,
        &format!("{PRE_UPGRADE_INFIX}-{}", short_hash(upgrade_id)),
    )
}

/// The kind of backup a Job name produced here stands for, read from its suffix (used when a restarted actor
/// resumes a running Job).
pub fn kind_of_job(job_name: &str) -> Option<BackupKind> {
    let (rest, tail) = job_name.rsplit_once('-')?;
    let hex_tail = tail.len() == HASH_LEN && tail.bytes().all(|b| b.is_ascii_hexdigit());
    let window_tail = tail.len() == 12 && tail.bytes().all(|b| b.is_ascii_digit());
    if hex_tail && rest.ends_with(&format!("-{PRE_UPGRADE_INFIX}")) {
        Some(BackupKind::PreUpgrade)
    } else if hex_tail && rest.ends_with(&format!("-{TRIGGER_INFIX}")) {
        Some(BackupKind::Manual)
    } else if window_tail && rest.ends_with(&format!("-{WINDOW_INFIX}")) {
        Some(BackupKind::Scheduled)
    } else {
        None
    }
}

fn compose(cluster: &str, suffix: &str) -> String {
    let budget = MAX_NAME - suffix.len() - 1;
    format!("{}-{suffix}", cluster_part(cluster, budget))
}

/// The cluster name made DNS-label safe and at most `budget` characters long.
fn cluster_part(cluster: &str, budget: usize) -> String {
    let sanitized: String = cluster
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    let sanitized = sanitized.trim_matches('-');
    if !sanitized.is_empty() && sanitized.len() <= budget {
        return sanitized.to_string();
    }
    let hash = &short_hash(cluster)[..6];
    let keep = budget.saturating_sub(hash.len() + 1).min(sanitized.len());
    let head = sanitized[..keep].trim_end_matches('-');
    if head.is_empty() {
        hash.to_string()
    } else {
        format!("{head}-{hash}")
    }
}

/// First 10 hex digits of the 64-bit FNV-1a hash: stable across processes and releases, unlike std's hashers.
/// The first 40 bits of SHA-256. A hand-rolled FNV used before left the high bits of tokens that differ in their
/// last character nearly equal (`kill-0`, `kill-1` → `6d0eb9cf32`, `6d0ebacf32`); two triggers whose names
/// collide would be taken for one backup.
fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .take(HASH_LEN / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn is_dns_label(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-')
    }

    #[test]
    fn names_are_deterministic_per_window_and_token() {
        let window = Utc.with_ymd_and_hms(2026, 3, 1, 2, 30, 0).unwrap();
        assert_eq!(window_job_name("prod", window), "prod-backup-202603010230");
        assert_eq!(
            window_job_name("prod", window),
            window_job_name("prod", window)
        );
        assert_ne!(
            window_job_name("prod", window),
            window_job_name("prod", window + chrono::Duration::minutes(1))
        );
        let manual = trigger_job_name("prod", "2026-03-01 ad hoc");
        assert!(manual.starts_with("prod-manual-"), "{manual}");
        assert_eq!(manual, trigger_job_name("prod", "2026-03-01 ad hoc"));
        assert_ne!(manual, trigger_job_name("prod", "2026-03-01 ad hoc 2"));
        assert!(pre_upgrade_job_name("prod", "2.7.2").starts_with("prod-pre-upgrade-"));
    }

    #[test]
    fn tokens_that_differ_in_one_character_get_unrelated_names() {
        let names: Vec<String> = (0..10)
            .map(|i| trigger_job_name("prod", &format!("kill-{i}")))
            .collect();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                let differing = a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count();
                assert!(
                    differing >= 5,
                    "{a} and {b} differ in {differing} characters only"
                );
            }
        }
    }

    #[test]
    fn long_or_odd_cluster_names_become_distinct_dns_labels() {
        let window = Utc.with_ymd_and_hms(2026, 3, 1, 2, 30, 0).unwrap();
        let long_a = format!("{}-a", "x".repeat(80));
        let long_b = format!("{}-b", "x".repeat(80));
        for cluster in [long_a.as_str(), long_b.as_str(), "My.Cluster", "a", "--"] {
            for name in [
                window_job_name(cluster, window),
                trigger_job_name(cluster, "t"),
                pre_upgrade_job_name(cluster, "2.7.2"),
            ] {
                assert!(is_dns_label(&name), "{name:?} from {cluster:?}");
            }
        }
        assert_eq!(
            window_job_name("My.Cluster", window),
            "my-cluster-backup-202603010230"
        );
        assert_ne!(
            window_job_name(&long_a, window),
            window_job_name(&long_b, window),
            "shared prefixes must not collide"
        );
        assert_eq!(window_job_name(&long_a, window).len(), MAX_NAME);
    }

    #[test]
    fn the_kind_is_read_back_from_the_name() {
        let window = Utc.with_ymd_and_hms(2026, 3, 1, 2, 30, 0).unwrap();
        let long = "y".repeat(70);
        for cluster in ["prod", long.as_str(), "backup-manual"] {
            assert_eq!(
                kind_of_job(&window_job_name(cluster, window)),
                Some(BackupKind::Scheduled)
            );
            assert_eq!(
                kind_of_job(&trigger_job_name(cluster, "t")),
                Some(BackupKind::Manual)
            );
            assert_eq!(
                kind_of_job(&pre_upgrade_job_name(cluster, "2.7.2")),
                Some(BackupKind::PreUpgrade)
            );
        }
        assert_eq!(kind_of_job("unrelated-job"), None);
    }
}

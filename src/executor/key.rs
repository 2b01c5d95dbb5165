//! Object keys: `<pathPrefix>/<namespace>/<cluster>/<UTC yyyymmddThhmmssZ>-<kind>-<8 hex>.snap`, and the
//! manifest beside each snapshot at `<key>.json`.

use chrono::{DateTime, Utc};
use openbao_crds::BackupKind;

pub const SNAPSHOT_SUFFIX: &str = ".snap";
pub const MANIFEST_SUFFIX: &str = ".json";

/// The folder that holds one cluster's recovery points, ending in `/`. Retention and `latest` never look
/// outside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterPrefix(String);

impl ClusterPrefix {
    pub fn new(path_prefix: Option<&str>, namespace: &str, cluster: &str) -> Self {
        Self(openbao_crds::cluster_folder(
            path_prefix,
            namespace,
            cluster,
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `key` is a snapshot directly inside this cluster's folder.
    pub fn holds_snapshot(&self, key: &str) -> bool {
        key.strip_prefix(&self.0).is_some_and(|name| {
            !name.is_empty() && !name.contains('/') && name.ends_with(SNAPSHOT_SUFFIX)
        })
    }

    /// A fresh key for a snapshot taken at `taken` (`random` makes concurrent keys distinct).
    pub fn new_key(&self, taken: DateTime<Utc>, kind: BackupKind, random: u32) -> String {
        format!(
            "{}{}-{}-{random:08x}{SNAPSHOT_SUFFIX}",
            self.0,
            taken.format("%Y%m%dT%H%M%SZ"),
            kind.as_str()
        )
    }
}

/// Why `key` cannot name a snapshot anywhere in the bucket, if it cannot: a forced restore may read another
/// cluster's folder, but only a plain `.snap` object key (relative, no empty, `.` or `..` segments, no control
/// characters), never something a store could resolve to another place.
pub fn snapshot_key_problem(key: &str) -> Option<&'static str> {
    if !key.ends_with(SNAPSHOT_SUFFIX) {
        return Some("does not end in .snap");
    }
    if key.starts_with('/') {
        return Some("starts with '/'");
    }
    key.split('/').find_map(segment_problem)
}

/// Why `segment` cannot be one folder or file name of a key, if it cannot.
pub fn segment_problem(segment: &str) -> Option<&'static str> {
    match segment {
        "" => Some("has an empty path segment"),
        "." | ".." => Some("has a '.' or '..' path segment"),
        _ if segment.chars().any(char::is_control) => Some("holds control characters"),
        _ => None,
    }
}

pub fn manifest_key(snapshot_key: &str) -> String {
    format!("{snapshot_key}{MANIFEST_SUFFIX}")
}

/// The snapshot key a manifest key belongs to, if it is one.
pub fn snapshot_key_of_manifest(manifest_key: &str) -> Option<&str> {
    manifest_key
        .strip_suffix(MANIFEST_SUFFIX)
        .filter(|key| key.ends_with(SNAPSHOT_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn key_follows_the_documented_layout() {
        let prefix = ClusterPrefix::new(Some("/prod/openbao/"), "vault", "main");
        let taken = Utc.with_ymd_and_hms(2026, 3, 9, 4, 5, 6).unwrap();
        let key = prefix.new_key(taken, BackupKind::PreUpgrade, 0xab);
        assert_eq!(
            key,
            "prod/openbao/vault/main/20260309T040506Z-pre-upgrade-000000ab.snap"
        );
        assert!(prefix.holds_snapshot(&key));
        assert_eq!(manifest_key(&key), format!("{key}.json"));
        assert_eq!(
            snapshot_key_of_manifest(&manifest_key(&key)),
            Some(key.as_str())
        );
    }

    #[test]
    fn prefix_is_optional() {
        let prefix = ClusterPrefix::new(None, "ns", "c");
        assert_eq!(prefix.as_str(), "ns/c/");
        assert_eq!(ClusterPrefix::new(Some(""), "ns", "c"), prefix);
    }

    #[test]
    fn only_direct_snapshots_belong_to_the_cluster() {
        let prefix = ClusterPrefix::new(None, "ns", "c");
        assert!(
            !prefix.holds_snapshot("ns/c2/x.snap"),
            "sibling cluster with a longer name"
        );
        assert!(!prefix.holds_snapshot("ns/c/sub/x.snap"));
        assert!(!prefix.holds_snapshot("ns/c/x.snap.json"));
        assert!(!prefix.holds_snapshot("ns/c/"));
        assert!(snapshot_key_of_manifest("ns/c/x.json").is_none());
    }

    #[test]
    fn a_snapshot_key_anywhere_must_still_be_a_plain_relative_snap_key() {
        for good in [
            "prod/other-ns/other/20260101T000000Z-manual-0000000a.snap",
            "x.snap",
            "a/b..c.snap",
        ] {
            assert_eq!(snapshot_key_problem(good), None, "{good}");
        }
        for bad in [
            "prod/ns/main/x.snap.json",
            "prod/ns/main/",
            "/prod/ns/main/x.snap",
            "prod//main/x.snap",
            "prod/../secret/x.snap",
            "prod/ns/main/./x.snap",
            "./x.snap",
            "prod/ns/main/x\n.snap",
        ] {
            assert!(snapshot_key_problem(bad).is_some(), "{bad:?}");
        }
    }
}

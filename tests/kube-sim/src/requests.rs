//! A log of every write request the server answered, refused ones included, so tests can count side effects
//! where they happen. Counting objects by name cannot show a duplicate create: the second one is a 409 that an
//! operator adopts, and leaves nothing behind.
//!
//! Reads (get, list, watch) are recorded too once [`RequestLog::record_reads`] is on (off by default: they are
//! most of the traffic and would push writes out of the bound sooner). With them, the log holds every resource
//! request a client made, which is what a test needs to derive the RBAC grants a client uses.
//!
//! Only what identifies a request is kept (verb, resource, namespace, name, status, who sent it); bodies are not,
//! since Secrets and tokens pass through them. The log keeps the newest [`DEFAULT_LIMIT`] entries unless
//! configured otherwise and counts the ones it let go.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::faults::Verb;
use crate::patch::PatchType;

/// Entries kept by default: at well under 1 KiB each, a long end-to-end run's writes fit in tens of megabytes.
/// Recorded reads count against the same bound.
pub const DEFAULT_LIMIT: usize = 100_000;

/// A request as received, before it is answered; [`RequestLog::record`] adds its sequence number, time and
/// status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub verb: Verb,
    pub patch_type: Option<PatchType>,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub dry_run: bool,
    pub user: Option<String>,
    pub user_agent: Option<String>,
}

/// The name the log's entries had when only writes were recorded; kept for existing callers.
pub type WriteRequest = RecordedRequest;

/// One answered request: a write, or a read when the log records reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// Increases by one per recorded request, in the order the answers were decided.
    pub seq: u64,
    /// When the answer was decided.
    pub time: DateTime<Utc>,
    pub verb: Verb,
    /// For `patch`: `json`, `merge`, `strategic` or `apply` (absent when the `Content-Type` was not a patch type).
    pub patch_type: Option<PatchType>,
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    /// Plural, e.g. `jobs`.
    pub resource: String,
    /// e.g. `status`, `token`.
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    /// From the path, or for a create from the body's `metadata.name` (absent for a `generateName` create).
    pub name: Option<String>,
    /// A create's `metadata.generateName`.
    pub generate_name: Option<String>,
    /// The HTTP status answered (201, 409, 422, ...).
    pub status: u16,
    /// `dryRun=All`: answered without changing anything.
    pub dry_run: bool,
    /// `admin`, `system:serviceaccount:<namespace>:<name>`, or absent when the request did not authenticate.
    pub user: Option<String>,
    pub user_agent: Option<String>,
}

impl RecordedRequest {
    /// `plural` or `plural/subresource`, as fault rules name resources.
    pub fn full_resource(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.clone(),
        }
    }

    /// 2xx: the request was carried out (or, with `dry_run`, would have been).
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Selects entries; unset fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub verb: Option<Verb>,
    /// `plural` matches the object itself only, `plural/subresource` that subresource: counting `create jobs`
    /// should not count `jobs/status` writes.
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub status: Option<u16>,
    /// Entries with a larger sequence number only: a poller passes the last one it saw.
    pub since: Option<u64>,
}

impl RequestFilter {
    pub fn matches(&self, entry: &RecordedRequest) -> bool {
        self.verb.is_none_or(|v| v == entry.verb)
            && self
                .resource
                .as_deref()
                .is_none_or(|wanted| match wanted.split_once('/') {
                    Some((resource, sub)) => {
                        entry.resource == resource && entry.subresource.as_deref() == Some(sub)
                    }
                    None => entry.resource == wanted && entry.subresource.is_none(),
                })
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| entry.namespace.as_deref() == Some(ns))
            && self
                .name
                .as_deref()
                .is_none_or(|name| entry.name.as_deref() == Some(name))
            && self.status.is_none_or(|s| s == entry.status)
            && self.since.is_none_or(|since| entry.seq > since)
    }
}

/// What a reader gets: the selected entries plus what tells whether the bound cut anything off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLogPage {
    /// How many entries the log keeps.
    pub limit: usize,
    /// Entries let go because of the limit since the simulator started.
    pub dropped: u64,
    /// The newest sequence number handed out (0 before the first recorded request).
    pub last_seq: u64,
    /// Whether reads are being recorded now (otherwise the items are writes only).
    pub reads: bool,
    pub items: Vec<RecordedRequest>,
}

struct Entries {
    entries: VecDeque<RecordedRequest>,
    last_seq: u64,
    dropped: u64,
}

pub struct RequestLog {
    limit: usize,
    reads: AtomicBool,
    entries: Mutex<Entries>,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::new(DEFAULT_LIMIT)
    }
}

impl RequestLog {
    /// Keeps the newest `limit` entries (0 keeps none but still numbers and counts them); writes only until
    /// [`Self::record_reads`].
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            reads: AtomicBool::new(false),
            entries: Mutex::new(Entries {
                entries: VecDeque::new(),
                last_seq: 0,
                dropped: 0,
            }),
        }
    }

    /// Records get, list and watch requests from now on (`true`) or no longer (`false`). Writes are always
    /// recorded.
    pub fn record_reads(&self, on: bool) {
        self.reads.store(on, Ordering::SeqCst);
    }

    pub fn records_reads(&self) -> bool {
        self.reads.load(Ordering::SeqCst)
    }

    /// Whether a request with this verb goes into the log.
    pub fn wants(&self, verb: Verb) -> bool {
        !verb.is_read() || self.records_reads()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an answered request and returns its sequence number. The number is taken when the answer is known
    /// rather than when the request arrived, so entries are kept in sequence order and a poller reading
    /// `since=<last seen>` never misses a slow request that was numbered earlier.
    pub fn record(&self, received: Received, status: u16) -> u64 {
        let mut log = self.lock();
        log.last_seq += 1;
        let seq = log.last_seq;
        let Received {
            verb,
            patch_type,
            group,
            version,
            resource,
            subresource,
            namespace,
            name,
            generate_name,
            dry_run,
            user,
            user_agent,
        } = received;
        log.entries.push_back(RecordedRequest {
            seq,
            time: Utc::now(),
            verb,
            patch_type,
            group,
            version,
            resource,
            subresource,
            namespace,
            name,
            generate_name,
            status,
            dry_run,
            user,
            user_agent,
        });
        while log.entries.len() > self.limit {
            log.entries.pop_front();
            log.dropped += 1;
        }
        seq
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    pub fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    /// Every kept entry, oldest first.
    pub fn entries(&self) -> Vec<RecordedRequest> {
        self.lock().entries.iter().cloned().collect()
    }

    /// The kept entries `filter` selects, oldest first.
    pub fn matching(&self, filter: &RequestFilter) -> Vec<RecordedRequest> {
        self.page(filter).items
    }

    /// The selected entries with the log's limit, drop count and newest sequence number, read at one instant.
    pub fn page(&self, filter: &RequestFilter) -> RequestLogPage {
        let log = self.lock();
        RequestLogPage {
            limit: self.limit,
            dropped: log.dropped,
            last_seq: log.last_seq,
            reads: self.records_reads(),
            items: log
                .entries
                .iter()
                .filter(|e| filter.matches(e))
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(verb: Verb, resource: &str, subresource: Option<&str>, name: &str) -> Received {
        Received {
            verb,
            patch_type: None,
            group: "batch".into(),
            version: "v1".into(),
            resource: resource.into(),
            subresource: subresource.map(str::to_string),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            generate_name: None,
            dry_run: false,
            user: Some("admin".into()),
            user_agent: None,
        }
    }

    #[test]
    fn numbers_entries_and_keeps_the_newest() {
        let log = RequestLog::new(2);
        for name in ["a", "b", "c"] {
            log.record(received(Verb::Create, "jobs", None, name), 201);
        }
        let kept = log.entries();
        assert_eq!(
            kept.iter()
                .map(|e| (e.seq, e.name.as_deref()))
                .collect::<Vec<_>>(),
            [(2, Some("b")), (3, Some("c"))]
        );
        assert_eq!((log.dropped(), log.last_seq()), (1, 3));
    }

    #[test]
    fn a_plain_resource_does_not_match_its_subresources() {
        let log = RequestLog::default();
        log.record(received(Verb::Create, "jobs", None, "a"), 201);
        log.record(received(Verb::Patch, "jobs", Some("status"), "a"), 200);
        log.record(received(Verb::Create, "jobs", None, "a"), 409);
        let filter = |resource: &str| RequestFilter {
            resource: Some(resource.into()),
            ..RequestFilter::default()
        };
        assert_eq!(log.matching(&filter("jobs")).len(), 2);
        assert_eq!(log.matching(&filter("jobs/status")).len(), 1);
        let refused = RequestFilter {
            status: Some(409),
            since: Some(1),
            ..filter("jobs")
        };
        assert_eq!(log.matching(&refused)[0].seq, 3);
    }

    #[test]
    fn reads_are_wanted_only_while_switched_on() {
        let log = RequestLog::default();
        let reads = [Verb::Get, Verb::List, Verb::Watch];
        assert!(reads.iter().all(|&verb| !log.wants(verb)));
        assert!(
            Verb::ALL
                .iter()
                .filter(|v| !reads.contains(v))
                .all(|&verb| log.wants(verb))
        );
        log.record_reads(true);
        assert!(Verb::ALL.iter().all(|&verb| log.wants(verb)));
        assert!(log.page(&RequestFilter::default()).reads);
        log.record_reads(false);
        assert!(!log.wants(Verb::Watch) && log.wants(Verb::Create));
    }
}

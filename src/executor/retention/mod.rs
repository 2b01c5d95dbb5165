//! Which recovery points retention keeps: a pure function of the points, the policy and the clock.
//!
//! Rules (all of them unit-tested in `tests.rs`):
//! - no policy at all keeps everything;
//! - scheduled and manual points are kept when any of `keepLast`, `maxAge`, `keepDaily`, `keepWeekly`,
//!   `keepMonthly` keeps them; when none of these is set they are all kept (setting only `keepPreUpgrade`
//!   never deletes routine backups);
//! - pre-upgrade points count separately: only `keepPreUpgrade` (newest N) keeps them;
//! - the newest recovery point and the one just written are always kept;
//! - day, week (ISO) and month buckets are taken in the policy's time zone; each keeps the newest point of
//!   the N most recent buckets that hold any point.

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use openbao_crds::BackupKind;
use serde::Serialize;

/// A recovery point as retention sees it (taken from its manifest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointFacts {
    pub key: String,
    pub created: DateTime<Utc>,
    pub kind: BackupKind,
}

/// A validated policy. `None` fields are unset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionRules {
    pub keep_last: Option<usize>,
    pub max_age: Option<chrono::Duration>,
    pub keep_daily: Option<usize>,
    pub keep_weekly: Option<usize>,
    pub keep_monthly: Option<usize>,
    pub keep_pre_upgrade: Option<usize>,
    pub time_zone: Tz,
}

impl RetentionRules {
    /// Rules that keep nothing by themselves (tests and builders start here).
    pub fn none(time_zone: Tz) -> Self {
        Self {
            keep_last: None,
            max_age: None,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
            keep_pre_upgrade: None,
            time_zone,
        }
    }

    fn has_routine_rule(&self) -> bool {
        self.keep_last.is_some()
            || self.max_age.is_some()
            || self.keep_daily.is_some()
            || self.keep_weekly.is_some()
            || self.keep_monthly.is_some()
    }
}

/// Why a point survives. Serialized into the report so an operator can see what holds each point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum KeepReason {
    NoPolicy,
    NoRoutineRule,
    NoPreUpgradeRule,
    Newest,
    JustWritten,
    KeepLast,
    MaxAge,
    Daily,
    Weekly,
    Monthly,
    PreUpgrade,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Keep(BTreeSet<KeepReason>),
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub key: String,
    pub created: DateTime<Utc>,
    pub decision: Decision,
}

/// Decides every point, newest first. `rules = None` means the cluster has no retention block.
pub fn select(
    points: &[PointFacts],
    rules: Option<&RetentionRules>,
    now: DateTime<Utc>,
    just_written: Option<&str>,
) -> Vec<Verdict> {
    let mut ordered: Vec<&PointFacts> = points.iter().collect();
    ordered.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.key.cmp(&a.key)));
    let mut reasons: Vec<BTreeSet<KeepReason>> = vec![BTreeSet::new(); ordered.len()];

    match rules {
        None => reasons.iter_mut().for_each(|r| {
            r.insert(KeepReason::NoPolicy);
        }),
        Some(rules) => {
            let routine: Vec<usize> = indices_where(&ordered, |p| p.kind != BackupKind::PreUpgrade);
            let pre_upgrade: Vec<usize> =
                indices_where(&ordered, |p| p.kind == BackupKind::PreUpgrade);
            apply_routine_rules(rules, &ordered, &routine, now, &mut reasons);
            match rules.keep_pre_upgrade {
                Some(n) => mark(
                    &pre_upgrade[..n.min(pre_upgrade.len())],
                    KeepReason::PreUpgrade,
                    &mut reasons,
                ),
                None => mark(&pre_upgrade, KeepReason::NoPreUpgradeRule, &mut reasons),
            }
        }
    }

    if !reasons.is_empty() {
        reasons[0].insert(KeepReason::Newest);
    }
    for (i, point) in ordered.iter().enumerate() {
        if just_written == Some(point.key.as_str()) {
            reasons[i].insert(KeepReason::JustWritten);
        }
    }

    ordered
        .into_iter()
        .zip(reasons)
        .map(|(point, reasons)| Verdict {
            key: point.key.clone(),
            created: point.created,
            decision: if reasons.is_empty() {
                Decision::Delete
            } else {
                Decision::Keep(reasons)
            },
        })
        .collect()
}

fn indices_where(points: &[&PointFacts], predicate: impl Fn(&PointFacts) -> bool) -> Vec<usize> {
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| predicate(p))
        .map(|(i, _)| i)
        .collect()
}

fn mark(indices: &[usize], reason: KeepReason, reasons: &mut [BTreeSet<KeepReason>]) {
    for i in indices {
        reasons[*i].insert(reason);
    }
}

/// `routine` holds indices into `ordered` (newest first) of scheduled and manual points.
fn apply_routine_rules(
    rules: &RetentionRules,
    ordered: &[&PointFacts],
    routine: &[usize],
    now: DateTime<Utc>,
    reasons: &mut [BTreeSet<KeepReason>],
) {
    if !rules.has_routine_rule() {
        mark(routine, KeepReason::NoRoutineRule, reasons);
        return;
    }
    if let Some(n) = rules.keep_last {
        mark(
            &routine[..n.min(routine.len())],
            KeepReason::KeepLast,
            reasons,
        );
    }
    if let Some(max_age) = rules.max_age {
        // An age that reaches before the calendar's start (`99999999w` passes validation) keeps every point.
        let cutoff = now.checked_sub_signed(max_age);
        let young: Vec<usize> = routine
            .iter()
            .copied()
            .filter(|i| cutoff.is_none_or(|cutoff| ordered[*i].created >= cutoff))
            .collect();
        mark(&young, KeepReason::MaxAge, reasons);
    }
    let zone = rules.time_zone;
    let calendar_rules: [(Option<usize>, KeepReason, BucketOf); 3] = [
        (rules.keep_daily, KeepReason::Daily, day_bucket),
        (rules.keep_weekly, KeepReason::Weekly, week_bucket),
        (rules.keep_monthly, KeepReason::Monthly, month_bucket),
    ];
    for (count, reason, bucket_of) in calendar_rules {
        let Some(count) = count else { continue };
        let mut last_bucket = None;
        let mut kept = 0;
        for i in routine {
            if kept == count {
                break;
            }
            let bucket = bucket_of(ordered[*i].created.with_timezone(&zone));
            if last_bucket != Some(bucket) {
                reasons[*i].insert(reason);
                last_bucket = Some(bucket);
                kept += 1;
            }
        }
    }
}

/// A calendar bucket (year and day, ISO week or month) of a local time.
type BucketOf = fn(DateTime<Tz>) -> (i32, u32);

fn day_bucket(t: DateTime<Tz>) -> (i32, u32) {
    (t.year(), t.ordinal())
}

fn week_bucket(t: DateTime<Tz>) -> (i32, u32) {
    let week = t.iso_week();
    (week.year(), week.week())
}

fn month_bucket(t: DateTime<Tz>) -> (i32, u32) {
    (t.year(), t.month())
}

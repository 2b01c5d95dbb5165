//! Which recovery points retention keeps. Retention runs only after a new snapshot was uploaded and verified, and
//! never deletes the newest verified recovery point.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::patterns;

/// Keep rules, combined as a union: a recovery point survives if any rule keeps it. Unset rules keep nothing
/// extra; an absent `retention` block keeps everything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    /// Keep the newest N recovery points, e.g. `24`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_last: Option<i32>,
    /// Keep recovery points younger than this: whole numbers with units `w`, `d`, `h`, `m`, `s`, largest first,
    /// e.g. `30d`, `12h`, `1d12h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 32), pattern(patterns::MAX_AGE))]
    pub max_age: Option<String>,
    /// Keep the newest recovery point of each of the last N days (in the schedule's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_daily: Option<i32>,
    /// Keep the newest recovery point of each of the last N ISO weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_weekly: Option<i32>,
    /// Keep the newest recovery point of each of the last N months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub keep_monthly: Option<i32>,
    /// Keep the newest N pre-upgrade snapshots, independent of the other rules. Default `3`.
    #[serde(default = "default_keep_pre_upgrade")]
    #[schemars(range(min = 1))]
    pub keep_pre_upgrade: i32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            keep_last: None,
            max_age: None,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
            keep_pre_upgrade: default_keep_pre_upgrade(),
        }
    }
}

fn default_keep_pre_upgrade() -> i32 {
    3
}

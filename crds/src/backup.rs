//! `spec.backup`: when snapshots are taken, where they go, how the Job logs in and what is kept.

use k8s_openapi::api::core::v1::ResourceRequirements;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::AuthSpec;
use crate::backup_target::BackupTarget;
use crate::retention::RetentionPolicy;

/// Scheduled, manual and pre-upgrade snapshots of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Standard 5-field cron (minute hour day-of-month month day-of-week; 0 or 7 = Sunday) or one of `@hourly`,
    /// `@daily`, `@weekly`, `@monthly`, `@yearly`, e.g. `0 */6 * * *`.
    #[schemars(length(min = 1, max = 128))]
    pub schedule: String,
    /// IANA time zone the schedule is read in, e.g. `Europe/Berlin`. Default `UTC`.
    #[serde(default = "default_time_zone")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
    /// Stop scheduled backups; manual and pre-upgrade backups still run. Default `false`.
    #[serde(default)]
    pub suspend: bool,
    /// Upper bound of a delay added to every scheduled fire time. The delay is stable per cluster, so a fleet
    /// sharing one schedule does not hit OpenBao and the store in the same second. Default `0`, at most `3600`.
    #[serde(default)]
    #[schemars(range(min = 0, max = 3600))]
    pub jitter_seconds: i32,
    /// A scheduled run that cannot start within this many seconds of its fire time is skipped and recorded, not
    /// caught up. Default `3600`.
    #[serde(default = "default_starting_deadline_seconds")]
    #[schemars(range(min = 1))]
    pub starting_deadline_seconds: i64,
    /// Deadline of one backup Job (`activeDeadlineSeconds`); a hung backup always ends as failed. Default `1800`.
    #[serde(default = "default_timeout_seconds")]
    #[schemars(range(min = 60))]
    pub timeout_seconds: i64,
    /// Object store the snapshots are written to.
    pub target: BackupTarget,
    /// How the backup Job logs in to OpenBao; use a dedicated role, e.g. JWT role `backup`.
    pub auth: AuthSpec,
    /// Which recovery points to keep. Unset: keep everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionPolicy>,
    /// Executor Job settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorSpec>,
}

impl BackupSpec {
    /// A backup spec with the documented defaults for everything but schedule, target and auth.
    pub fn new(schedule: impl Into<String>, target: BackupTarget, auth: AuthSpec) -> Self {
        Self {
            schedule: schedule.into(),
            time_zone: default_time_zone(),
            suspend: false,
            jitter_seconds: 0,
            starting_deadline_seconds: default_starting_deadline_seconds(),
            timeout_seconds: default_timeout_seconds(),
            target,
            auth,
            retention: None,
            executor: None,
        }
    }
}

/// The Job that runs `openbao-operator executor`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutorSpec {
    /// Executor image. Default: the operator's own image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,
    /// CPU and memory for the executor container, e.g. `requests: {cpu: 100m, memory: 64Mi}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = keep_only_top_description)]
    pub resources: Option<ResourceRequirements>,
}

/// Drops the upstream descriptions inside an embedded Kubernetes type: they run to pages (the Quantity grammar) and
/// would bury the CRD's own documentation. The field's own description stays.
fn keep_only_top_description(schema: &mut Schema) {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("description");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if let Some(map) = schema.as_object_mut() {
        for (key, value) in map.iter_mut() {
            if key != "description" {
                strip(value);
            }
        }
    }
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

fn default_starting_deadline_seconds() -> i64 {
    3600
}

fn default_timeout_seconds() -> i64 {
    1800
}

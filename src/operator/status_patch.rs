//! Pure pieces of status writing: JSON merge-patch diffs, condition merging and the lock patch.
//!
//! A merge patch (RFC 7386) merges objects key by key, so writing a struct whose optional fields are skipped when
//! `None` would leave the old values behind. Diffing the old and the new status gives a patch that sets, replaces
//! and removes (with `null`) exactly what changed, and nothing when nothing did: status writes are idempotent.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use openbao_actors::effects::ConditionUpdate;
use serde_json::{Map, Value, json};

use super::time::to_kube;

/// The merge patch that turns `old` into `new`; `None` when they are equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, new_value) in new {
                let old_value = old.get(key).unwrap_or(&Value::Null);
                if let Some(change) = merge_diff(old_value, new_value) {
                    patch.insert(key.clone(), change);
                }
            }
            for key in old.keys().filter(|key| !new.contains_key(*key)) {
                patch.insert(key.clone(), Value::Null);
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        // Arrays and scalars are replaced whole; `null` never appears inside a merged object value.
        (_, new) => Some(strip_nulls(new.clone())),
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Merges `updates` into `existing` by type. A condition whose status did not change keeps its
/// `lastTransitionTime`; reason, message and observedGeneration are refreshed. Other types stay untouched.
pub fn merge_conditions(
    existing: &[Condition],
    updates: &[ConditionUpdate],
    now: DateTime<Utc>,
    observed_generation: Option<i64>,
) -> Vec<Condition> {
    let mut merged = existing.to_vec();
    for update in updates {
        let type_ = update.type_.as_str();
        let status = update.status.as_str();
        let position = merged.iter().position(|c| c.type_ == type_);
        let transition = match position.map(|index| &merged[index]) {
            Some(current) if current.status == status => current.last_transition_time.clone(),
            _ => to_kube(now).unwrap_or(Time(Timestamp::UNIX_EPOCH)),
        };
        let condition = Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: update.reason.as_str().to_string(),
            message: update.message.clone(),
            last_transition_time: transition,
            observed_generation,
        };
        match position {
            Some(index) => merged[index] = condition,
            None => merged.push(condition),
        }
    }
    merged
}

/// `status.operationLock` set to `lock` (or removed), conditioned on `resource_version`: the API server answers
/// 409 Conflict when the object changed since.
pub fn lock_patch(
    resource_version: &str,
    lock: Option<&openbao_crds::OperationLock>,
    last_epoch: u64,
) -> Value {
    let lock = match lock {
        // Every optional field explicitly, so a merge patch cannot leave a previous holder's message behind.
        Some(lock) => json!({
            "operation": lock.operation,
            "holder": lock.holder,
            "message": lock.message,
            "acquiredAt": lock.acquired_at,
            "renewedAt": lock.renewed_at,
            "epoch": lock.epoch,
        }),
        None => Value::Null,
    };
    json!({
        "metadata": {"resourceVersion": resource_version},
        "status": {"operationLock": lock, "lastLockEpoch": last_epoch},
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use openbao_crds::conditions::{ClusterConditionReason, ClusterConditionType, ConditionStatus};

    use super::*;

    #[test]
    fn diffs_set_replace_and_remove_exactly_what_changed() {
        let old =
            json!({"backup": {"a": 1, "b": {"x": 1}, "gone": "y", "list": [1, 2]}, "other": 1});
        let new = json!({"backup": {"a": 1, "b": {"x": 2}, "list": [2], "new": {"k": null, "v": 1}}, "other": 1});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"backup": {"b": {"x": 2}, "gone": null, "list": [2], "new": {"v": 1}}}))
        );
        assert_eq!(
            merge_diff(&new, &new),
            None,
            "the same status twice patches nothing"
        );
    }

    fn update(status: ConditionStatus, message: &str) -> ConditionUpdate {
        ConditionUpdate {
            type_: ClusterConditionType::BackingUp,
            status,
            reason: ClusterConditionReason::BackupRunning.into(),
            message: message.into(),
        }
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap();
        let t1 = t0 + chrono::Duration::minutes(5);
        let first = merge_conditions(&[], &[update(ConditionStatus::True, "job a")], t0, Some(1));
        let same = merge_conditions(
            &first,
            &[update(ConditionStatus::True, "job b")],
            t1,
            Some(2),
        );
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].last_transition_time, first[0].last_transition_time);
        assert_eq!(same[0].message, "job b");
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = merge_conditions(
            &same,
            &[update(ConditionStatus::False, "idle")],
            t1,
            Some(2),
        );
        assert_eq!(flipped[0].last_transition_time, to_kube(t1).unwrap());
        let healthy = ConditionUpdate {
            type_: ClusterConditionType::BackupHealthy,
            ..update(ConditionStatus::True, "ok")
        };
        let both = merge_conditions(&flipped, &[healthy], t1, Some(2));
        assert_eq!(both.len(), 2, "other types are kept");
    }

    #[test]
    fn lock_patch_carries_the_precondition_and_every_field() {
        let lock = openbao_crds::OperationLock {
            operation: openbao_crds::Operation::Backup,
            holder: "backup/j".into(),
            message: None,
            acquired_at: Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap(),
            renewed_at: None,
            epoch: 3,
        };
        let patch = lock_patch("42", Some(&lock), 3);
        assert_eq!(patch["status"]["lastLockEpoch"], 3);
        assert_eq!(patch["metadata"]["resourceVersion"], "42");
        assert_eq!(patch["status"]["operationLock"]["message"], Value::Null);
        assert_eq!(patch["status"]["operationLock"]["epoch"], 3);
        assert_eq!(
            lock_patch("43", None, 3)["status"]["operationLock"],
            Value::Null
        );
    }
}

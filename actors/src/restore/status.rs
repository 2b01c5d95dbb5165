//! Building an `OpenBaoRestore`'s status: conditions keep their transition time while their status holds, and
//! reasons that come from an executor report (untrusted text) are made into valid condition reasons.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use openbao_crds::OpenBaoRestoreStatus;
use openbao_crds::conditions::RestoreConditionType;

/// The longest condition reason the API accepts.
const MAX_REASON: usize = 1024;
/// The longest condition message the API accepts.
const MAX_MESSAGE: usize = 32 * 1024;

/// `reason` when it is a valid condition reason (`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`), else `fallback`.
pub fn condition_reason(reason: &str, fallback: &'static str) -> String {
    let valid = reason.len() <= MAX_REASON
        && reason.starts_with(|c: char| c.is_ascii_alphabetic())
        && reason
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ',' | ':'))
        && !reason.ends_with([',', ':']);
    if valid {
        reason.to_string()
    } else {
        fallback.to_string()
    }
}

fn bounded(message: &str) -> String {
    if message.len() <= MAX_MESSAGE {
        return message.to_string();
    }
    let mut end = MAX_MESSAGE - 3;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

fn kube_time(time: DateTime<Utc>) -> Time {
    Time(Timestamp::from_second(time.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Sets one condition; returns whether anything changed.
pub fn set_condition(
    status: &mut OpenBaoRestoreStatus,
    type_: RestoreConditionType,
    holds: bool,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
) -> bool {
    let value = if holds { "True" } else { "False" };
    let reason = condition_reason(reason, "Unknown");
    let message = bounded(message);
    let generation = status.observed_generation;
    let position = status
        .conditions
        .iter()
        .position(|c| c.type_ == type_.as_str());
    if let Some(index) = position {
        let current = &status.conditions[index];
        if current.status == value && current.reason == reason && current.message == message {
            return false;
        }
    }
    let transition = match position.map(|index| &status.conditions[index]) {
        Some(current) if current.status == value => current.last_transition_time.clone(),
        _ => kube_time(now),
    };
    let condition = Condition {
        type_: type_.as_str().to_string(),
        status: value.to_string(),
        reason,
        message,
        last_transition_time: transition,
        observed_generation: generation,
    };
    match position {
        Some(index) => status.conditions[index] = condition,
        None => status.conditions.push(condition),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn untrusted_reasons_become_valid_condition_reasons() {
        assert_eq!(condition_reason("DigestMismatch", "X"), "DigestMismatch");
        for bad in [
            "",
            "1abc",
            "has space",
            "trailing:",
            "ünï",
            &"a".repeat(2000),
        ] {
            assert_eq!(
                condition_reason(bad, "RestoreFailed"),
                "RestoreFailed",
                "{bad}"
            );
        }
    }

    #[test]
    fn transition_time_holds_while_the_status_holds() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t1 = t0 + chrono::Duration::minutes(5);
        let mut status = OpenBaoRestoreStatus::default();
        assert!(set_condition(
            &mut status,
            RestoreConditionType::LockAcquired,
            false,
            "WaitingForLock",
            "a",
            t0
        ));
        assert!(!set_condition(
            &mut status,
            RestoreConditionType::LockAcquired,
            false,
            "WaitingForLock",
            "a",
            t1
        ));
        assert!(set_condition(
            &mut status,
            RestoreConditionType::LockAcquired,
            false,
            "WaitingForLock",
            "b",
            t1
        ));
        assert_eq!(status.conditions[0].last_transition_time, kube_time(t0));
        assert!(set_condition(
            &mut status,
            RestoreConditionType::LockAcquired,
            true,
            "LockGranted",
            "c",
            t1
        ));
        assert_eq!(status.conditions[0].last_transition_time, kube_time(t1));
        assert_eq!(status.conditions.len(), 1);
    }
}

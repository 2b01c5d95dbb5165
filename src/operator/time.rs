//! Kubernetes timestamps (`metav1::Time`, which wraps `jiff`) to and from the chrono times the actors use.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub fn to_chrono(time: &Time) -> Option<DateTime<Utc>> {
    let timestamp = time.0;
    DateTime::from_timestamp(
        timestamp.as_second(),
        u32::try_from(timestamp.subsec_nanosecond()).ok()?,
    )
}

/// Whole seconds, like the API server writes condition times.
pub fn to_kube(time: DateTime<Utc>) -> Option<Time> {
    Timestamp::from_second(time.timestamp()).ok().map(Time)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn round_trips_at_second_precision() {
        let time = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 15).unwrap();
        let kube = to_kube(time + chrono::Duration::milliseconds(700)).unwrap();
        assert_eq!(to_chrono(&kube), Some(time));
    }
}

//! Conversions between API timestamps (`metav1.Time`, which wraps `jiff`) and the controllers' clock arithmetic.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

pub fn now() -> Timestamp {
    // The API serializes seconds only; truncating here keeps a freshly written time equal to its read-back value.
    Timestamp::from_second(Timestamp::now().as_second())
        .expect("the current time is a valid timestamp")
}

pub fn seconds_after(start: Timestamp, seconds: i64) -> Timestamp {
    start
        .saturating_add(SignedDuration::from_secs(seconds))
        .expect("adding whole seconds cannot fail")
}

/// Time left until `deadline`, or `None` when it has passed.
pub fn until(now: Timestamp, deadline: Timestamp) -> Option<Duration> {
    let left = deadline.duration_since(now);
    (left > SignedDuration::ZERO).then(|| left.unsigned_abs())
}

pub fn time(timestamp: Timestamp) -> Time {
    Time(timestamp)
}

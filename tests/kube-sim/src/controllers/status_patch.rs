//! JSON merge patches that replace a whole `status`, as a controller that owns the status means to.

use serde_json::{Map, Value};

/// A merge patch turning `old` into `new`: fields `new` leaves out are set to `null`, since a merge patch otherwise
/// keeps them (an `active` count that went back to zero would stay at one forever).
pub fn replacing_status_patch(old: &Value, new: &Value) -> Value {
    let mut status = match new {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    if let Value::Object(old_fields) = old {
        for key in old_fields.keys() {
            status.entry(key.clone()).or_insert(Value::Null);
        }
    }
    serde_json::json!({ "status": status })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_missing_from_the_new_status_are_nulled() {
        let old = json!({"active": 1, "startTime": "2026-01-01T00:00:00Z", "ready": 1});
        let new = json!({"failed": 1, "ready": 0});
        assert_eq!(
            replacing_status_patch(&old, &new),
            json!({"status": {"active": null, "startTime": null, "failed": 1, "ready": 0}})
        );
    }

    #[test]
    fn no_old_status_gives_the_new_one() {
        assert_eq!(
            replacing_status_patch(&Value::Null, &json!({"ready": 1})),
            json!({"status": {"ready": 1}})
        );
    }
}

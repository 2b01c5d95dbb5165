//! Object metadata the server owns: uids, timestamps, generated names, name validation.

use rand::Rng;
use serde_json::Value;

use super::error::Cause;

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn new_uid() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The 5-character suffix `generateName` gets (the apiserver's alphabet avoids vowels and look-alikes).
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// RFC 1123 subdomain (most object names) or label (namespaces, services).
pub fn validate_name(name: &str, label_only: bool) -> Option<Cause> {
    let max = if label_only { 63 } else { 253 };
    let part_ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let ok = name.len() <= max
        && if label_only {
            part_ok(name)
        } else {
            name.split('.').all(part_ok)
        };
    if ok {
        return None;
    }
    let what = if label_only {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    } else {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    };
    Some(Cause::new(
        "FieldValueInvalid",
        "metadata.name",
        format!("metadata.name: Invalid value: \"{name}\": {what}"),
    ))
}

pub fn str_field<'a>(object: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut current = object;
    for key in path {
        current = current.get(key)?;
    }
    current.as_str()
}

pub fn name_of(object: &Value) -> &str {
    str_field(object, &["metadata", "name"]).unwrap_or_default()
}

pub fn namespace_of(object: &Value) -> &str {
    str_field(object, &["metadata", "namespace"]).unwrap_or_default()
}

pub fn uid_of(object: &Value) -> &str {
    str_field(object, &["metadata", "uid"]).unwrap_or_default()
}

pub fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let metadata = object["metadata"]
        .as_object_mut()
        .expect("objects have metadata");
    if finalizers.is_empty() {
        metadata.remove("finalizers");
    } else {
        metadata.insert("finalizers".into(), Value::from(finalizers.to_vec()));
    }
}

pub fn is_terminating(object: &Value) -> bool {
    object["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("my-app.example", false).is_none());
        assert!(validate_name("my-app.example", true).is_some());
        assert!(validate_name("Upper", false).is_some());
        assert!(validate_name("-x", false).is_some());
        assert_eq!(name_suffix().len(), 5);
        assert_eq!(new_uid().len(), 36);
    }
}

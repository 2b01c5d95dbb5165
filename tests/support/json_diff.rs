//! Structural difference between two JSON values, reported by path, so a field that a typed Kubernetes object
//! silently dropped (unknown or misspelled) is named exactly.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// Present in the original only: the typed object does not know this field.
    Dropped { path: String },
    /// Present after the round trip only: the typed object added it.
    Added { path: String },
    Changed {
        path: String,
        original: Value,
        round_tripped: Value,
    },
}

impl Difference {
    pub fn path(&self) -> &str {
        match self {
            Difference::Dropped { path }
            | Difference::Added { path }
            | Difference::Changed { path, .. } => path,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Dropped { path } => {
                write!(f, "{path}: unknown field (dropped by the typed object)")
            }
            Difference::Added { path } => write!(f, "{path}: added by the typed object"),
            Difference::Changed {
                path,
                original,
                round_tripped,
            } => {
                write!(f, "{path}: {original} became {round_tripped}")
            }
        }
    }
}

pub fn differences(original: &Value, round_tripped: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    compare(String::new(), original, round_tripped, &mut found);
    found
}

fn compare(path: String, original: &Value, round_tripped: &Value, found: &mut Vec<Difference>) {
    match (original, round_tripped) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, left_value) in left {
                let child = join_key(&path, key);
                match right.get(key) {
                    Some(right_value) => compare(child, left_value, right_value, found),
                    None => found.push(Difference::Dropped { path: child }),
                }
            }
            for key in right.keys().filter(|key| !left.contains_key(*key)) {
                found.push(Difference::Added {
                    path: join_key(&path, key),
                });
            }
        }
        (Value::Array(left), Value::Array(right)) if left.len() == right.len() => {
            for (index, (left_item, right_item)) in left.iter().zip(right).enumerate() {
                compare(format!("{path}[{index}]"), left_item, right_item, found);
            }
        }
        _ if original == round_tripped => {}
        _ => found.push(Difference::Changed {
            path: if path.is_empty() {
                ".".to_owned()
            } else {
                path
            },
            original: original.clone(),
            round_tripped: round_tripped.clone(),
        }),
    }
}

fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[test]
fn equal_values_have_no_differences() {
    let value = serde_json::json!({"a": [1, {"b": "c"}], "d": null});
    assert_eq!(differences(&value, &value), Vec::new());
}

#[test]
fn differences_name_nested_paths_with_array_indices() {
    let original =
        serde_json::json!({"spec": {"ports": [{"port": 80, "nmae": "x"}], "replicas": 1}});
    let round_tripped =
        serde_json::json!({"spec": {"ports": [{"port": 81}], "replicas": 1, "extra": true}});
    let mut reported: Vec<String> = differences(&original, &round_tripped)
        .iter()
        .map(ToString::to_string)
        .collect();
    reported.sort();
    assert_eq!(
        reported,
        [
            "spec.extra: added by the typed object",
            "spec.ports[0].nmae: unknown field (dropped by the typed object)",
            "spec.ports[0].port: 80 became 81",
        ]
    );
}

//! Strategic merge patch for built-in types: maps merge recursively, keyed lists merge by their merge key, the
//! `$patch: delete|replace` directive works on maps and list items, other lists are replaced.

use serde_json::{Map, Value};

use super::keys::{is_merged_scalar_list, item_identity, list_keys};

pub fn apply(target: &mut Value, patch: &Value) {
    merge_map(target, patch);
}

fn merge_map(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = Value::Object(without_directives(patch));
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("object");
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        match (map.get_mut(key), value) {
            (Some(current @ Value::Object(_)), Value::Object(_)) => {
                merge_map(current, value);
                if current.is_null() {
                    map.remove(key);
                }
            }
            (Some(Value::Array(current)), Value::Array(items)) => merge_list(key, current, items),
            _ => {
                let fresh = match value {
                    Value::Array(items) => Value::Array(
                        items
                            .iter()
                            .filter(|i| !is_delete_directive(i))
                            .map(strip_directives)
                            .collect(),
                    ),
                    other => strip_directives(other),
                };
                map.insert(key.clone(), fresh);
            }
        }
    }
}

fn merge_list(field: &str, current: &mut Vec<Value>, items: &[Value]) {
    if is_merged_scalar_list(field) && items.iter().all(|i| !i.is_object()) {
        for item in items {
            if !current.contains(item) {
                current.push(item.clone());
            }
        }
        return;
    }
    let Some(keys) = list_keys(field, None, items) else {
        *current = items.to_vec();
        return;
    };
    for item in items {
        let identity = item_identity(item, &keys);
        let position = current
            .iter()
            .position(|c| item_identity(c, &keys) == identity);
        match (position, is_delete_directive(item)) {
            (Some(i), true) => {
                current.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => merge_map(&mut current[i], item),
            (None, false) => current.push(strip_directives(item)),
        }
    }
}

fn is_delete_directive(item: &Value) -> bool {
    item.get("$patch").and_then(Value::as_str) == Some("delete")
}

fn without_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_directives(v)))
        .collect()
}

fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(without_directives(map)),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ]}});
        apply(
            &mut pod,
            &json!({"spec": {"containers": [
            {"name": "a", "env": [{"name": "Y", "value": "2"}]},
            {"name": "b", "$patch": "delete"},
            {"name": "c", "image": "c:1"}
        ], "$setElementOrder/containers": [{"name": "a"}, {"name": "c"}]}}),
        );
        assert_eq!(pod["spec"]["containers"].as_array().unwrap().len(), 2);
        assert_eq!(pod["spec"]["containers"][0]["image"], "a:1");
        assert_eq!(
            pod["spec"]["containers"][0]["env"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(pod["spec"]["containers"][1]["name"], "c");
        assert!(pod["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn conditions_merge_by_type_finalizers_union_others_replace() {
        let mut o = json!({"metadata": {"finalizers": ["a"]}, "status": {"conditions": [{"type": "Ready", "status": "False"}]},
            "spec": {"args": ["1", "2"]}});
        apply(
            &mut o,
            &json!({"metadata": {"finalizers": ["b"]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Done", "status": "False"}]},
            "spec": {"args": ["3"]}}),
        );
        assert_eq!(o["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(o["status"]["conditions"][0]["status"], "True");
        assert_eq!(o["status"]["conditions"].as_array().unwrap().len(), 2);
        assert_eq!(o["spec"]["args"], json!(["3"]));
    }

    #[test]
    fn null_deletes_and_replace_directive() {
        let mut o =
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"selector": {"x": "1"}}});
        apply(
            &mut o,
            &json!({"metadata": {"labels": {"a": null}}, "spec": {"selector": {"$patch": "replace", "y": "2"}}}),
        );
        assert_eq!(o["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(o["spec"]["selector"], json!({"y": "2"}));
    }
}

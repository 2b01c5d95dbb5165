//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors (`=`, `==`, `!=`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> ApiResult<Self> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_label_term(term)?);
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let get = |key: &str| labels.get(key).and_then(Value::as_str);
        self.requirements
            .iter()
            .all(|requirement| match requirement {
                LabelRequirement::Equals(k, v) => get(k) == Some(v.as_str()),
                LabelRequirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
                LabelRequirement::In(k, values) => get(k).is_some_and(|v| values.contains(v)),
                LabelRequirement::NotIn(k, values) => get(k).is_none_or(|v| !values.contains(v)),
                LabelRequirement::Exists(k) => get(k).is_some(),
                LabelRequirement::NotExists(k) => get(k).is_none(),
            })
    }
}

/// Splits on commas that are not inside `( ... )`.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

fn parse_label_term(term: &str) -> ApiResult<LabelRequirement> {
    let invalid = || {
        ApiError::bad_request(format!(
            "unable to parse requirement: invalid label selector: {term:?}"
        ))
    };
    if let Some(key) = term.strip_prefix('!') {
        return Ok(LabelRequirement::NotExists(
            valid_key(key.trim()).ok_or_else(invalid)?,
        ));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(LabelRequirement::NotEquals(
            valid_key(key.trim()).ok_or_else(invalid)?,
            value.trim().to_string(),
        ));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(LabelRequirement::Equals(
            valid_key(key.trim()).ok_or_else(invalid)?,
            value.trim().to_string(),
        ));
    }
    let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let key = valid_key(words[0]).ok_or_else(invalid)?;
        let rest = words[1].trim();
        let (operator, values) = rest.split_once('(').ok_or_else(invalid)?;
        let values = values.strip_suffix(')').ok_or_else(invalid)?;
        let values: BTreeSet<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        return match operator.trim() {
            "in" => Ok(LabelRequirement::In(key, values)),
            "notin" => Ok(LabelRequirement::NotIn(key, values)),
            _ => Err(invalid()),
        };
    }
    Ok(LabelRequirement::Exists(
        valid_key(term).ok_or_else(invalid)?,
    ))
}

fn valid_key(key: &str) -> Option<String> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && key.matches('/').count() <= 1;
    ok.then(|| key.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRequirement {
    field: String,
    value: String,
    negated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses a field selector, accepting only the labels the resource supports (like the apiserver, which
    /// answers 400 for any other).
    pub fn parse(text: &str, supported: &[String]) -> ApiResult<Self> {
        let mut requirements = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, negated) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: {term:?}"
                )));
            };
            let field = field.trim();
            let builtin = matches!(field, "metadata.name" | "metadata.namespace");
            if !builtin && !supported.iter().any(|s| s == field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                value: value.trim().to_string(),
                negated,
            });
        }
        Ok(Self { requirements })
    }

    /// Compares other fields than the labels say (a label of one API naming a field of the stored form).
    pub fn map_fields(mut self, stored: impl Fn(&str) -> Option<String>) -> Self {
        for requirement in &mut self.requirements {
            if let Some(field) = stored(&requirement.field) {
                requirement.field = field;
            }
        }
        self
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let actual = field_value(object, &r.field);
            (actual == r.value) != r.negated
        })
    }
}

/// The string form of a field as field selectors compare it (absent fields compare as empty).
fn field_value(object: &Value, path: &str) -> String {
    let mut current = object;
    for segment in path.split('.') {
        current = &current[segment];
    }
    match current {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Both selectors of a list or watch request.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"name": "x", "namespace": "ns", "labels": labels}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_operators() {
        let o = labelled(json!({"app": "bao", "tier": "db"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m("app=bao"));
        assert!(m("app==bao,tier"));
        assert!(!m("app!=bao"));
        assert!(m("app in (bao, vault)"));
        assert!(!m("app notin (bao)"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m("missing notin (x)"));
        assert!(!m("missing in (x)"));
        assert!(m(""));
    }

    #[test]
    fn invalid_label_selector_is_bad_request() {
        let err = LabelSelector::parse("app in bao").unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn field_selectors_check_support() {
        let o = labelled(json!({}));
        let supported = vec!["status.phase".to_string()];
        assert!(
            FieldSelector::parse("metadata.name=x,status.phase=Running", &supported)
                .unwrap()
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("status.phase!=Running", &supported)
                .unwrap()
                .matches(&o)
        );
        let err = FieldSelector::parse("spec.foo=1", &supported).unwrap_err();
        assert_eq!(err.message, "field label not supported: spec.foo");
    }
}

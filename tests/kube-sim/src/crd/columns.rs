//! `additionalPrinterColumns`: JSONPath cells rendered the way the apiextensions apiserver's table convertor does.

use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

use crate::api::age::human_age;

#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub column_type: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

impl PrinterColumn {
    pub fn from_crd(column: &Value) -> Self {
        let text = |key: &str| column[key].as_str().unwrap_or_default().to_string();
        Self {
            name: text("name"),
            column_type: text("type"),
            format: text("format"),
            description: text("description"),
            priority: column["priority"].as_i64().unwrap_or(0),
            json_path: text("jsonPath"),
        }
    }

    pub fn definition(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.column_type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }

    /// The cell for one object: typed like the column, `null` when the path finds nothing.
    pub fn cell(&self, object: &Value) -> Value {
        let path = self
            .json_path
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}');
        let path = if path.starts_with('$') {
            path.to_string()
        } else {
            format!("${path}")
        };
        let Ok(found) = object.query(&path) else {
            return Value::Null;
        };
        let Some(value) = found.first() else {
            return Value::Null;
        };
        match self.column_type.as_str() {
            "date" => match value
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            {
                Some(time) => Value::String(human_age(time.with_timezone(&chrono::Utc))),
                None => Value::Null,
            },
            "integer" | "number" | "boolean" => (*value).clone(),
            _ => Value::String(match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(json_path: &str, column_type: &str) -> PrinterColumn {
        PrinterColumn::from_crd(&json!({"name": "C", "type": column_type, "jsonPath": json_path}))
    }

    #[test]
    fn cells_follow_column_types() {
        let o = json!({"spec": {"version": "2.1.0", "replicas": 3},
            "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(column(".spec.version", "string").cell(&o), json!("2.1.0"));
        assert_eq!(column(".spec.replicas", "integer").cell(&o), json!(3));
        assert_eq!(column(".spec.missing", "string").cell(&o), Value::Null);
        assert_eq!(
            column(".status.conditions[?(@.type==\"Ready\")].status", "string").cell(&o),
            json!("True")
        );
    }

    #[test]
    fn date_cells_are_ages() {
        let o = json!({"status": {"last": chrono::Utc::now().to_rfc3339()}});
        let cell = column(".status.last", "date").cell(&o);
        assert!(cell.as_str().unwrap().ends_with('s'), "{cell}");
    }
}

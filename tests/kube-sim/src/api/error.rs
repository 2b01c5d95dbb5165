//! API errors rendered as `meta.k8s.io/v1` `Status` objects with the reasons and codes kube-apiserver uses.

use serde_json::{Value, json};

/// `Status.reason` values (the subset this server produces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReason {
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    BadRequest,
    Unauthorized,
    Forbidden,
    MethodNotAllowed,
    Gone,
    Expired,
    TooManyRequests,
    InternalError,
    UnsupportedMediaType,
    NotAcceptable,
}

impl StatusReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "NotFound",
            Self::AlreadyExists => "AlreadyExists",
            Self::Conflict => "Conflict",
            Self::Invalid => "Invalid",
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::Gone => "Gone",
            Self::Expired => "Expired",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalError => "InternalError",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::NotAcceptable => "NotAcceptable",
        }
    }

    pub fn code(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::AlreadyExists | Self::Conflict => 409,
            Self::Invalid => 422,
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::MethodNotAllowed => 405,
            Self::Gone | Self::Expired => 410,
            Self::TooManyRequests => 429,
            Self::InternalError => 500,
            Self::UnsupportedMediaType => 415,
            Self::NotAcceptable => 406,
        }
    }
}

/// One entry of `Status.details.causes` (used by 422 Invalid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueForbidden`, ...
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl Cause {
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// The message without its leading `<field>: `, as the apiserver puts it in a cause (`field.Error.ErrorBody`):
    /// kubectl prints `<field>: <body>` from the two, so a message that repeats the field would show it twice.
    pub fn body(&self) -> &str {
        let field = if self.field.is_empty() {
            "<nil>"
        } else {
            &self.field
        };
        self.message
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(&self.message)
    }
}

/// Which object an error is about (`Status.details`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub group: String,
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub reason: StatusReason,
    pub message: String,
    pub subject: Option<Box<Subject>>,
    pub causes: Vec<Cause>,
    /// Overrides the reason's default HTTP code (fault injection may pick any code).
    pub code: Option<u16>,
}

impl ApiError {
    pub fn new(reason: StatusReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            subject: None,
            causes: Vec::new(),
            code: None,
        }
    }

    pub fn with_subject(mut self, subject: Subject) -> Self {
        self.subject = Some(Box::new(subject));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusReason::BadRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusReason::InternalError, message)
    }

    /// `<resource>.<group> "<name>" not found`, exactly as the apiserver words it.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            StatusReason::NotFound,
            format!("{} \"{name}\" not found", qualified(resource, group)),
        )
        .with_subject(Subject {
            group: group.into(),
            kind: resource.into(),
            name: name.into(),
        })
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            StatusReason::AlreadyExists,
            format!("{} \"{name}\" already exists", qualified(resource, group)),
        )
        .with_subject(Subject {
            group: group.into(),
            kind: resource.into(),
            name: name.into(),
        })
    }

    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            StatusReason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(resource, group)
            ),
        )
        .with_subject(Subject {
            group: group.into(),
            kind: resource.into(),
            name: name.into(),
        })
    }

    pub fn stale(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one cause per field, the message listing them like `field.ErrorList.ToAggregate()`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let details = causes.iter().map(|c| c.message.clone()).collect::<Vec<_>>();
        let summary = if details.len() == 1 {
            details[0].clone()
        } else {
            format!("[{}]", details.join(", "))
        };
        Self {
            reason: StatusReason::Invalid,
            message: format!(
                "{} \"{name}\" is invalid: {summary}",
                qualified(kind, group)
            ),
            subject: Some(Box::new(Subject {
                group: group.into(),
                kind: kind.into(),
                name: name.into(),
            })),
            causes,
            code: None,
        }
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(StatusReason::Expired, message)
    }

    pub fn code(&self) -> u16 {
        self.code.unwrap_or_else(|| self.reason.code())
    }

    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.as_str(),
            "code": self.code(),
        });
        if self.subject.is_some() || !self.causes.is_empty() {
            let mut details = serde_json::Map::new();
            if let Some(subject) = &self.subject {
                if !subject.name.is_empty() {
                    details.insert("name".into(), json!(subject.name));
                }
                if !subject.group.is_empty() {
                    details.insert("group".into(), json!(subject.group));
                }
                details.insert("kind".into(), json!(subject.kind));
            }
            if !self.causes.is_empty() {
                let causes: Vec<Value> = self
                    .causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.body(), "field": c.field}))
                    .collect();
                details.insert("causes".into(), Value::Array(causes));
            }
            status["details"] = Value::Object(details);
        }
        status
    }
}

fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_status_matches_apiserver_shape() {
        let status = ApiError::not_found("batch", "jobs", "nightly").to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["message"], "jobs.batch \"nightly\" not found");
        assert_eq!(status["details"]["group"], "batch");
        assert_eq!(status["details"]["kind"], "jobs");
    }

    #[test]
    fn invalid_lists_every_cause() {
        let err = ApiError::invalid(
            "openbao.org",
            "OpenBaoCluster",
            "a",
            vec![
                Cause::new(
                    "FieldValueRequired",
                    "spec.version",
                    "spec.version: Required value",
                ),
                Cause::new(
                    "FieldValueInvalid",
                    "spec.replicas",
                    "spec.replicas: Invalid value: -1",
                ),
            ],
        );
        let status = err.to_status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["details"]["causes"].as_array().unwrap().len(), 2);
        assert_eq!(
            status["details"]["causes"][1],
            json!({"reason": "FieldValueInvalid", "field": "spec.replicas", "message": "Invalid value: -1"})
        );
        assert!(err.message.contains("spec.replicas: Invalid value: -1"));
        assert!(
            err.message
                .starts_with("OpenBaoCluster.openbao.org \"a\" is invalid: [")
        );
    }
}

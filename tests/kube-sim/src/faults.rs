//! Fault injection for tests: the next N requests matching a verb and resource fail with a chosen code or are
//! delayed.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::error::{ApiError, StatusReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    Deletecollection,
}

impl Verb {
    pub const ALL: [Verb; 8] = [
        Self::Get,
        Self::List,
        Self::Watch,
        Self::Create,
        Self::Update,
        Self::Patch,
        Self::Delete,
        Self::Deletecollection,
    ];

    /// The lowercase name, as in RBAC rules and audit logs.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// get, list and watch: the verbs that change nothing.
    pub fn is_read(self) -> bool {
        matches!(self, Self::Get | Self::List | Self::Watch)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::Deletecollection => "deletecollection",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this HTTP status (409, 429, 500, ...) and a matching `Status` body.
    Fail(u16),
    /// Hold the request this long before serving it.
    Delay(Duration),
}

/// Matches requests by verb and resource (plural, optionally `plural/subresource`); `None` matches any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub verb: Option<Verb>,
    pub resource: Option<String>,
    pub action: FaultAction,
    pub remaining: u32,
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(rule);
    }

    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Consumes one use of the first rule matching this request.
    pub fn take(
        &self,
        verb: Verb,
        resource: &str,
        subresource: Option<&str>,
    ) -> Option<FaultAction> {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let full = match subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_string(),
        };
        let rule = rules.iter_mut().find(|r| {
            r.remaining > 0
                && r.verb.is_none_or(|v| v == verb)
                && r.resource
                    .as_deref()
                    .is_none_or(|wanted| wanted == full || wanted == resource)
        })?;
        rule.remaining -= 1;
        let action = rule.action.clone();
        rules.retain(|r| r.remaining > 0);
        Some(action)
    }
}

/// The error an injected failure answers with.
pub fn injected_error(code: u16, resource: &str) -> ApiError {
    let reason = match code {
        409 => StatusReason::Conflict,
        429 => StatusReason::TooManyRequests,
        404 => StatusReason::NotFound,
        410 => StatusReason::Gone,
        _ => StatusReason::InternalError,
    };
    let message = match reason {
        StatusReason::Conflict => format!(
            "Operation cannot be fulfilled on {resource}: the object has been modified; please apply your changes to the latest version and try again"
        ),
        StatusReason::TooManyRequests => {
            "the server has received too many requests and has asked us to try again later".into()
        }
        _ => format!("injected failure for {resource}"),
    };
    let mut error = ApiError::new(reason, message);
    error.code = Some(code);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_and_run_out() {
        let faults = Faults::default();
        faults.add(FaultRule {
            verb: Some(Verb::Update),
            resource: Some("jobs".into()),
            action: FaultAction::Fail(409),
            remaining: 2,
        });
        assert_eq!(faults.take(Verb::Get, "jobs", None), None);
        assert_eq!(
            faults.take(Verb::Update, "jobs", Some("status")),
            Some(FaultAction::Fail(409))
        );
        assert_eq!(
            faults.take(Verb::Update, "jobs", None),
            Some(FaultAction::Fail(409))
        );
        assert_eq!(faults.take(Verb::Update, "jobs", None), None);
    }
}

//! Errors that point at one field of a spec, so a condition can name what to fix.
//!
//! The schema and CEL rules catch shape problems at admission; the operator re-checks the rules they cannot
//! express (cron dialect, IANA time zones, duration syntax, Secret naming) and reports every problem at once, each
//! with the JSON path of the offending field.

use std::fmt;

/// Why a field was refused. The string form is stable: it is used as a condition reason and a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldReason {
    /// The cron expression does not parse or never fires.
    InvalidSchedule,
    /// The time zone is not an IANA time zone name.
    InvalidTimeZone,
    /// A duration such as `maxAge` does not parse.
    InvalidDuration,
    /// A Secret reference looks like root-token or unseal-key material.
    ForbiddenSecretReference,
    /// A field may only be set together with another one.
    MissingRequiredField,
    /// Two fields that exclude each other are both set, or neither of a required pair is.
    ConflictingFields,
    /// A value is outside what the operator can act on.
    InvalidValue,
    /// An endpoint points at a link-local address or a cloud metadata service.
    ForbiddenEndpoint,
    /// An `http://` endpoint without `spec.allowPlainHttp`.
    PlainHttpNotAllowed,
}

impl FieldReason {
    /// Stable CamelCase form, used verbatim as a Kubernetes condition reason.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldReason::InvalidSchedule => "InvalidSchedule",
            FieldReason::InvalidTimeZone => "InvalidTimeZone",
            FieldReason::InvalidDuration => "InvalidDuration",
            FieldReason::ForbiddenSecretReference => "ForbiddenSecretReference",
            FieldReason::MissingRequiredField => "MissingRequiredField",
            FieldReason::ConflictingFields => "ConflictingFields",
            FieldReason::InvalidValue => "InvalidValue",
            FieldReason::ForbiddenEndpoint => "ForbiddenEndpoint",
            FieldReason::PlainHttpNotAllowed => "PlainHttpNotAllowed",
        }
    }
}

impl fmt::Display for FieldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parse or check error that knows which [`FieldReason`] it stands for, so it can be pinned to a field.
pub trait FieldProblem: std::error::Error {
    fn field_reason(&self) -> FieldReason;

    /// This problem, reported against `field` (a JSON path like `spec.backup.schedule`).
    fn at(&self, field: impl Into<String>) -> FieldError
    where
        Self: Sized,
    {
        FieldError::new(field, self.field_reason(), self.to_string())
    }
}

/// One refused field: where, why (stable), and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `spec.backup.retention.maxAge`.
    pub field: String,
    pub reason: FieldReason,
    /// Actionable, safe to show in a condition: never contains secret values.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: FieldReason, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Every problem found in one spec, in the order the fields were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value of `result`, or records its error and returns `None`, so checking continues.
    pub fn collect<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// The reason for a condition: the first error's, since conditions carry a single reason.
    pub fn reason(&self) -> Option<FieldReason> {
        self.0.first().map(|error| error.reason)
    }

    /// `Ok(value)` when nothing was recorded, else all recorded errors.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<FieldError> for FieldErrors {
    fn from(error: FieldError) -> Self {
        FieldErrors(vec![error])
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a FieldErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("bad thing")]
    struct BadThing;

    impl FieldProblem for BadThing {
        fn field_reason(&self) -> FieldReason {
            FieldReason::InvalidDuration
        }
    }

    #[test]
    fn problem_is_pinned_to_the_given_field() {
        let error = BadThing.at("spec.backup.retention.maxAge");
        assert_eq!(error.field, "spec.backup.retention.maxAge");
        assert_eq!(error.reason, FieldReason::InvalidDuration);
        assert_eq!(error.to_string(), "spec.backup.retention.maxAge: bad thing");
    }

    #[test]
    fn errors_display_joined_in_order_and_report_first_reason() {
        let mut errors = FieldErrors::new();
        assert_eq!(errors.reason(), None);
        errors.push(FieldError::new(
            "spec.a",
            FieldReason::InvalidSchedule,
            "first",
        ));
        errors.push(FieldError::new(
            "spec.b",
            FieldReason::InvalidTimeZone,
            "second",
        ));
        assert_eq!(errors.to_string(), "spec.a: first; spec.b: second");
        assert_eq!(errors.reason(), Some(FieldReason::InvalidSchedule));
        assert_eq!(errors.len(), 2);
        assert!(errors.into_result(()).is_err());
    }

    #[test]
    fn collect_keeps_values_and_records_errors() {
        let mut errors = FieldErrors::new();
        assert_eq!(errors.collect(Ok::<_, FieldError>(7)), Some(7));
        assert_eq!(errors.collect::<u8>(Err(BadThing.at("spec.x"))), None);
        assert_eq!(errors.len(), 1);
        assert_eq!(FieldErrors::new().into_result(5), Ok(5));
    }

    #[test]
    fn reason_strings_are_stable() {
        let table = [
            (FieldReason::InvalidSchedule, "InvalidSchedule"),
            (FieldReason::InvalidTimeZone, "InvalidTimeZone"),
            (FieldReason::InvalidDuration, "InvalidDuration"),
            (
                FieldReason::ForbiddenSecretReference,
                "ForbiddenSecretReference",
            ),
            (FieldReason::MissingRequiredField, "MissingRequiredField"),
            (FieldReason::ConflictingFields, "ConflictingFields"),
            (FieldReason::InvalidValue, "InvalidValue"),
        ];
        for (reason, text) in table {
            assert_eq!(reason.as_str(), text);
            assert_eq!(reason.to_string(), text);
        }
    }
}

//! The schedule's `timeZone`: an IANA name resolved with the tz database compiled into chrono-tz.

use chrono_tz::Tz;

use crate::field_error::{FieldProblem, FieldReason};

/// The time zone used when `timeZone` is not set.
pub const DEFAULT_TIME_ZONE: Tz = Tz::UTC;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeZoneError {
    #[error(
        "time zone is empty; leave the field unset for UTC or use an IANA name such as Europe/Berlin"
    )]
    Empty,
    #[error(
        "time zone {name:?} is not an IANA time zone name; use a name such as UTC, Europe/Berlin or \
         America/New_York (names are case-sensitive){hint}"
    )]
    Unknown { name: String, hint: String },
}

impl TimeZoneError {
    /// Stable, low-cardinality name of the problem.
    pub fn reason(&self) -> &'static str {
        match self {
            TimeZoneError::Empty => "Empty",
            TimeZoneError::Unknown { .. } => "Unknown",
        }
    }
}

impl FieldProblem for TimeZoneError {
    fn field_reason(&self) -> FieldReason {
        FieldReason::InvalidTimeZone
    }
}

/// Resolves an IANA name exactly as written. A name that only differs in case is refused with the correct
/// spelling as a hint, so the stored spec always reads the way the tz database spells it.
pub fn parse_time_zone(name: &str) -> Result<Tz, TimeZoneError> {
    if name.is_empty() {
        return Err(TimeZoneError::Empty);
    }
    if let Ok(zone) = name.parse::<Tz>() {
        return Ok(zone);
    }
    let hint = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|zone| zone.name().eq_ignore_ascii_case(name))
        .map(|zone| format!("; did you mean {:?}?", zone.name()))
        .unwrap_or_default();
    Err(TimeZoneError::Unknown {
        name: name.to_string(),
        hint,
    })
}

/// The configured zone, or UTC when the field is unset.
pub fn time_zone_or_default(name: Option<&str>) -> Result<Tz, TimeZoneError> {
    name.map_or(Ok(DEFAULT_TIME_ZONE), parse_time_zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_iana_names() {
        for name in [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Etc/GMT+5",
        ] {
            assert_eq!(parse_time_zone(name).map(|zone| zone.name()), Ok(name));
        }
        assert_eq!(time_zone_or_default(None), Ok(Tz::UTC));
        assert_eq!(
            time_zone_or_default(Some("Europe/Berlin")),
            Ok(Tz::Europe__Berlin)
        );
    }

    #[test]
    fn refuses_unknown_names_with_a_hint() {
        let table = [
            ("", "Empty", "leave the field unset"),
            ("Mars/Olympus_Mons", "Unknown", "not an IANA time zone name"),
            ("CEST", "Unknown", "not an IANA time zone name"),
            ("europe/berlin", "Unknown", "did you mean \"Europe/Berlin\""),
        ];
        for (name, reason, fragment) in table {
            let error = parse_time_zone(name).expect_err(name);
            assert_eq!(error.reason(), reason, "{name}");
            assert!(error.to_string().contains(fragment), "{name}: {error}");
        }
    }
}

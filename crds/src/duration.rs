//! Durations written the way people write retention ages: `30d`, `12h`, `90m`, `2w`, `1d12h`.
//!
//! Units are `w` (7 days), `d` (24 hours), `h`, `m`, `s`, each a whole number, largest unit first, each unit at
//! most once. Months and years are refused on purpose: their length varies, and a retention age must mean the
//! same thing every day of the year.

use std::fmt;
use std::str::FromStr;

use crate::field_error::{FieldError, FieldProblem, FieldReason};

/// A positive whole number of seconds, parsed from `30d`-style text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration {
    seconds: u64,
}

/// Why a duration was refused. Every message names the problem and the accepted syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("duration is empty; write a number and a unit, e.g. 30d, 12h or 1d12h")]
    Empty,
    #[error("duration {input:?} is negative; durations count back from now and must be positive")]
    Negative { input: String },
    #[error("duration {input:?} contains whitespace; write the parts together, e.g. 1d12h")]
    Whitespace { input: String },
    #[error("duration {input:?} has unit {unit:?} without a number before it")]
    MissingNumber { input: String, unit: char },
    #[error(
        "duration {input:?} ends with the number {number} without a unit; add one of w, d, h, m, s"
    )]
    MissingUnit { input: String, number: String },
    #[error("duration {input:?} uses a fraction; use whole numbers of a smaller unit, e.g. 1h30m")]
    Fractional { input: String },
    #[error(
        "duration {input:?} uses unknown unit {unit:?}; use w (weeks), d (days), h (hours), m (minutes) or s (seconds){hint}"
    )]
    UnknownUnit {
        input: String,
        unit: String,
        hint: &'static str,
    },
    #[error(
        "duration {input:?} repeats or misorders unit {unit:?}; write each unit once, largest first, e.g. 1w2d3h"
    )]
    UnitOrder { input: String, unit: char },
    #[error("duration {input:?} is zero; use a positive duration")]
    Zero { input: String },
    #[error("duration {input:?} is too large")]
    Overflow { input: String },
}

impl DurationError {
    /// Stable, low-cardinality name of the problem.
    pub fn reason(&self) -> &'static str {
        match self {
            DurationError::Empty => "Empty",
            DurationError::Negative { .. } => "Negative",
            DurationError::Whitespace { .. } => "Whitespace",
            DurationError::MissingNumber { .. } => "MissingNumber",
            DurationError::MissingUnit { .. } => "MissingUnit",
            DurationError::Fractional { .. } => "Fractional",
            DurationError::UnknownUnit { .. } => "UnknownUnit",
            DurationError::UnitOrder { .. } => "UnitOrder",
            DurationError::Zero { .. } => "Zero",
            DurationError::Overflow { .. } => "Overflow",
        }
    }
}

impl FieldProblem for DurationError {
    fn field_reason(&self) -> FieldReason {
        FieldReason::InvalidDuration
    }
}

/// Units in the only order they may appear, with their length in seconds.
const UNITS: [(char, u64); 5] = [
    ('w', 7 * 24 * 3600),
    ('d', 24 * 3600),
    ('h', 3600),
    ('m', 60),
    ('s', 1),
];

impl HumanDuration {
    /// Parses `input`, reporting a problem against `field` (a JSON path) so it can go straight into a condition.
    pub fn parse_field(input: &str, field: &str) -> Result<Self, FieldError> {
        input
            .parse()
            .map_err(|error: DurationError| error.at(field))
    }

    pub fn from_seconds(seconds: u64) -> Option<Self> {
        (seconds > 0 && seconds <= max_seconds()).then_some(HumanDuration { seconds })
    }

    pub fn as_seconds(self) -> u64 {
        self.seconds
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }

    pub fn as_chrono(self) -> chrono::Duration {
        // In range by construction: parsing caps at `max_seconds`.
        chrono::Duration::seconds(self.seconds as i64)
    }
}

/// The largest duration that still fits a `chrono::Duration`, so every parsed value converts without loss.
fn max_seconds() -> u64 {
    chrono::Duration::MAX.num_seconds() as u64
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let owned = || input.to_string();
        if input.is_empty() {
            return Err(DurationError::Empty);
        }
        if input.starts_with('-') {
            return Err(DurationError::Negative { input: owned() });
        }
        if input.chars().any(char::is_whitespace) {
            return Err(DurationError::Whitespace { input: owned() });
        }

        let mut total: u64 = 0;
        // Index into UNITS of the next unit allowed; enforces "largest first, each once".
        let mut next_allowed_unit = 0;
        let mut rest = input;
        while !rest.is_empty() {
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (number, after_number) = rest.split_at(digits_end);
            let unit_end = after_number
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(after_number.len());
            let (unit, after_unit) = after_number.split_at(unit_end);

            if unit.starts_with('.') || unit.starts_with(',') {
                return Err(DurationError::Fractional { input: owned() });
            }
            if number.is_empty() {
                let unit = unit.chars().next().unwrap_or_default();
                return Err(DurationError::MissingNumber {
                    input: owned(),
                    unit,
                });
            }
            if unit.is_empty() {
                return Err(DurationError::MissingUnit {
                    input: owned(),
                    number: number.to_string(),
                });
            }
            let Some(position) = UNITS
                .iter()
                .position(|(name, _)| unit.len() == 1 && unit.starts_with(*name))
            else {
                return Err(DurationError::UnknownUnit {
                    input: owned(),
                    unit: unit.to_string(),
                    hint: unknown_unit_hint(unit),
                });
            };
            if position < next_allowed_unit {
                return Err(DurationError::UnitOrder {
                    input: owned(),
                    unit: UNITS[position].0,
                });
            }
            next_allowed_unit = position + 1;

            let overflow = || DurationError::Overflow { input: owned() };
            let count: u64 = number.parse().map_err(|_| overflow())?;
            let part = count.checked_mul(UNITS[position].1).ok_or_else(overflow)?;
            total = total.checked_add(part).ok_or_else(overflow)?;
            rest = after_unit;
        }

        if total == 0 {
            return Err(DurationError::Zero { input: owned() });
        }
        if total > max_seconds() {
            return Err(DurationError::Overflow { input: owned() });
        }
        Ok(HumanDuration { seconds: total })
    }
}

fn unknown_unit_hint(unit: &str) -> &'static str {
    match unit {
        "y" | "yr" | "year" | "years" | "mo" | "month" | "months" | "M" => {
            "; months and years vary in length, write them in days (e.g. 365d)"
        }
        "ms" | "us" | "µs" | "ns" => "; sub-second precision is not supported",
        _ => "",
    }
}

impl fmt::Display for HumanDuration {
    /// Canonical form, largest unit first: `36h` prints as `1d12h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut remaining = self.seconds;
        for (name, length) in UNITS {
            let count = remaining / length;
            if count > 0 {
                write!(f, "{count}{name}")?;
                remaining %= length;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;

    #[test]
    fn accepts_single_and_combined_units() {
        let table: &[(&str, u64)] = &[
            ("30d", 30 * DAY),
            ("12h", 12 * HOUR),
            ("90m", 90 * 60),
            ("2w", 14 * DAY),
            ("45s", 45),
            ("1d12h", DAY + 12 * HOUR),
            ("1w2d3h4m5s", 7 * DAY + 2 * DAY + 3 * HOUR + 4 * 60 + 5),
            ("0d1h", HOUR),
            ("007h", 7 * HOUR),
        ];
        for (input, seconds) in table {
            let parsed: HumanDuration = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.as_seconds(), *seconds, "{input}");
            assert_eq!(parsed.as_chrono().num_seconds() as u64, *seconds, "{input}");
            assert_eq!(parsed.as_std().as_secs(), *seconds, "{input}");
        }
    }

    #[test]
    fn refuses_bad_input_with_named_problem() {
        let table: &[(&str, &str, &str)] = &[
            ("", "Empty", "empty"),
            ("-1d", "Negative", "negative"),
            ("1d 12h", "Whitespace", "whitespace"),
            (" 1d", "Whitespace", "whitespace"),
            ("d", "MissingNumber", "without a number"),
            ("1dh", "UnknownUnit", "unknown unit \"dh\""),
            ("30", "MissingUnit", "without a unit"),
            ("1d12", "MissingUnit", "number 12 without a unit"),
            ("1.5h", "Fractional", "whole numbers"),
            ("5y", "UnknownUnit", "365d"),
            ("2mo", "UnknownUnit", "365d"),
            ("100ms", "UnknownUnit", "sub-second"),
            ("3D", "UnknownUnit", "unknown unit \"D\""),
            ("12h1d", "UnitOrder", "largest first"),
            ("1h1h", "UnitOrder", "once"),
            ("0d", "Zero", "zero"),
            ("0h0m", "Zero", "zero"),
            ("99999999999999999999s", "Overflow", "too large"),
            ("10000000000000000s", "Overflow", "too large"),
            ("2000000000000000w", "Overflow", "too large"),
        ];
        for (input, reason, fragment) in table {
            let error = input.parse::<HumanDuration>().expect_err(input);
            assert_eq!(error.reason(), *reason, "{input}: {error}");
            assert!(error.to_string().contains(fragment), "{input}: {error}");
        }
    }

    #[test]
    fn error_carries_the_field_it_was_given() {
        let error =
            HumanDuration::parse_field("5y", "spec.backup.retention.maxAge").expect_err("5y");
        assert_eq!(error.field, "spec.backup.retention.maxAge");
        assert_eq!(error.reason, FieldReason::InvalidDuration);
        assert!(error.message.contains("365d"), "{}", error.message);
    }

    #[test]
    fn displays_canonical_form() {
        let table = [
            ("36h", "1d12h"),
            ("2w", "2w"),
            ("90m", "1h30m"),
            ("1w2d3h4m5s", "1w2d3h4m5s"),
        ];
        for (input, canonical) in table {
            let parsed: HumanDuration = input.parse().expect(input);
            assert_eq!(parsed.to_string(), canonical);
            assert_eq!(canonical.parse::<HumanDuration>(), Ok(parsed));
        }
    }

    #[test]
    fn from_seconds_refuses_zero_and_out_of_range() {
        assert_eq!(HumanDuration::from_seconds(0), None);
        assert_eq!(
            HumanDuration::from_seconds(60).map(HumanDuration::as_seconds),
            Some(60)
        );
        assert_eq!(HumanDuration::from_seconds(u64::MAX), None);
    }
}

//! The 5-field cron dialect users write, and its translation to the `cron` crate.
//!
//! Dialect (the one Kubernetes CronJob accepts): `minute hour day-of-month month day-of-week`, each field `*`, a
//! number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (= `a-max/n`), or a comma list of those. Months accept
//! `JAN`…`DEC`, days of week `SUN`…`SAT` (any case); day-of-week 0 and 7 are both Sunday, and a range ending in
//! Sunday (`5-0`, `FRI-SUN`) runs through the end of the week. Macros: `@hourly`, `@daily`, `@midnight`,
//! `@weekly`, `@monthly`, `@yearly`, `@annually`. When both day-of-month and day-of-week are restricted (neither
//! is `*`), a day matches if **either** matches, as in every standard cron.
//!
//! The `cron` crate speaks a different dialect: seconds first, day-of-week 1 = Sunday … 7 = Saturday, and day
//! fields combined with AND. So each field is expanded here to its set of values and written out as explicit
//! numbers in the crate's numbering; the either-day rule becomes two crate schedules whose fire times are merged.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{TimeZone, Utc};

use crate::field_error::{FieldProblem, FieldReason};

/// One of the five fields, for error messages and value bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl CronField {
    const ALL: [CronField; 5] = [
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        }
    }

    /// Inclusive bounds of a value as written. Day-of-week allows 7 as a second Sunday.
    fn written_bounds(self) -> (u32, u32) {
        match self {
            CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (0, 7),
        }
    }

    /// Inclusive bounds of `*` and of the open end of `a/n`. Day-of-week stops at Saturday so Sunday is counted
    /// once and `1/2` means Monday, Wednesday, Friday as in other cron implementations.
    fn full_bounds(self) -> (u32, u32) {
        match self {
            CronField::DayOfWeek => (0, 6),
            other => other.written_bounds(),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            CronField::Month => &[
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ],
            CronField::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
        }
    }

    fn value_of_name(self, name: &str) -> Option<u32> {
        let first = self.full_bounds().0;
        self.names()
            .iter()
            .position(|candidate| candidate.eq_ignore_ascii_case(name))
            .map(|index| first + index as u32)
    }

    fn expected(self) -> &'static str {
        match self {
            CronField::Minute => "a number 0-59",
            CronField::Hour => "a number 0-23",
            CronField::DayOfMonth => "a number 1-31",
            CronField::Month => "a number 1-12 or JAN-DEC",
            CronField::DayOfWeek => "a number 0-7 (0 and 7 are Sunday) or SUN-SAT",
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a schedule was refused; each message says what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "schedule is empty; write a 5-field cron expression such as \"0 3 * * *\" or a macro such as @daily"
    )]
    Empty,
    #[error(
        "schedule {expression:?} has 6 fields, but 5 are expected (minute hour day-of-month month day-of-week); \
         a seconds field is not supported"
    )]
    SecondsField { expression: String },
    #[error(
        "schedule {expression:?} has {found} fields, but 5 are expected (minute hour day-of-month month day-of-week)"
    )]
    FieldCount { expression: String, found: usize },
    #[error(
        "schedule {expression:?} is not a supported macro; use @hourly, @daily, @midnight, @weekly, @monthly, \
         @yearly or @annually"
    )]
    UnknownMacro { expression: String },
    #[error("{field} field {text:?} has an empty list item; separate values with single commas")]
    EmptyItem { field: CronField, text: String },
    #[error("{field} field {text:?}: {value:?} is not valid; use {expected}", expected = field.expected())]
    InvalidValue {
        field: CronField,
        text: String,
        value: String,
    },
    #[error("{field} field {text:?}: {value} is out of range; use {expected}", expected = field.expected())]
    OutOfRange {
        field: CronField,
        text: String,
        value: String,
    },
    #[error(
        "{field} field {text:?}: range {start}-{end} runs backwards; split it into two ranges, e.g. {start}-{max},{min}-{end}"
    )]
    ReversedRange {
        field: CronField,
        text: String,
        start: u32,
        end: u32,
        min: u32,
        max: u32,
    },
    #[error("{field} field {text:?}: step {step:?} must be a whole number of at least 1")]
    InvalidStep {
        field: CronField,
        text: String,
        step: String,
    },
    #[error(
        "schedule {expression:?} never fires; check that the day-of-month exists in the month (e.g. not 30 FEB)"
    )]
    NeverFires { expression: String },
    #[error("schedule {expression:?} could not be translated for the scheduler: {detail}")]
    Translation { expression: String, detail: String },
}

impl CronError {
    /// Stable, low-cardinality name of the problem.
    pub fn reason(&self) -> &'static str {
        match self {
            CronError::Empty => "Empty",
            CronError::SecondsField { .. } => "SecondsField",
            CronError::FieldCount { .. } => "FieldCount",
            CronError::UnknownMacro { .. } => "UnknownMacro",
            CronError::EmptyItem { .. } => "EmptyItem",
            CronError::InvalidValue { .. } => "InvalidValue",
            CronError::OutOfRange { .. } => "OutOfRange",
            CronError::ReversedRange { .. } => "ReversedRange",
            CronError::InvalidStep { .. } => "InvalidStep",
            CronError::NeverFires { .. } => "NeverFires",
            CronError::Translation { .. } => "Translation",
        }
    }
}

impl FieldProblem for CronError {
    fn field_reason(&self) -> FieldReason {
        FieldReason::InvalidSchedule
    }
}

/// A parsed 5-field cron expression, compiled for the `cron` crate.
#[derive(Debug, Clone)]
pub struct CronExpression {
    source: String,
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    days_of_month: BTreeSet<u32>,
    months: BTreeSet<u32>,
    /// 0 = Sunday … 6 = Saturday.
    days_of_week: BTreeSet<u32>,
    days_of_month_restricted: bool,
    days_of_week_restricted: bool,
    /// One crate schedule, or two whose fire times are merged (the either-day rule).
    compiled: Vec<cron::Schedule>,
}

impl PartialEq for CronExpression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl CronExpression {
    pub fn parse(expression: &str) -> Result<Self, CronError> {
        let trimmed = expression.trim();
        if trimmed.is_empty() {
            return Err(CronError::Empty);
        }
        let five_fields = if trimmed.starts_with('@') {
            expand_macro(trimmed).ok_or_else(|| CronError::UnknownMacro {
                expression: trimmed.to_string(),
            })?
        } else {
            trimmed
        };
        let texts: Vec<&str> = five_fields.split_whitespace().collect();
        match texts.len() {
            5 => {}
            6 => {
                return Err(CronError::SecondsField {
                    expression: trimmed.to_string(),
                });
            }
            found => {
                return Err(CronError::FieldCount {
                    expression: trimmed.to_string(),
                    found,
                });
            }
        }
        let mut sets = Vec::with_capacity(5);
        for (field, text) in CronField::ALL.into_iter().zip(&texts) {
            sets.push(parse_field(field, text)?);
        }
        let [minutes, hours, days_of_month, months, days_of_week]: [BTreeSet<u32>; 5] =
            sets.try_into().expect("exactly five fields were parsed");

        let mut parsed = CronExpression {
            source: trimmed.to_string(),
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            days_of_month_restricted: is_restricted(texts[2]),
            days_of_week_restricted: is_restricted(texts[4]),
            compiled: Vec::new(),
        };
        parsed.compiled = parsed
            .cron_crate_expressions()
            .iter()
            .map(|text| {
                cron::Schedule::from_str(text).map_err(|error| CronError::Translation {
                    expression: parsed.source.clone(),
                    detail: error.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        parsed.ensure_fires()?;
        Ok(parsed)
    }

    /// The expression as the user wrote it (trimmed).
    pub fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn compiled(&self) -> &[cron::Schedule] {
        &self.compiled
    }

    /// The `cron` crate expressions this schedule runs as: seconds first, day-of-week 1 = Sunday.
    pub fn cron_crate_expressions(&self) -> Vec<String> {
        let minutes = format_set(&self.minutes, CronField::Minute, 0);
        let hours = format_set(&self.hours, CronField::Hour, 0);
        let days_of_month = format_set(&self.days_of_month, CronField::DayOfMonth, 0);
        let months = format_set(&self.months, CronField::Month, 0);
        let days_of_week = format_set(&self.days_of_week, CronField::DayOfWeek, 1);
        let expression = |dom: &str, dow: &str| format!("0 {minutes} {hours} {dom} {months} {dow}");
        if self.days_of_month_restricted && self.days_of_week_restricted {
            vec![
                expression(&days_of_month, "*"),
                expression("*", &days_of_week),
            ]
        } else {
            vec![expression(&days_of_month, &days_of_week)]
        }
    }

    /// A schedule such as `0 0 30 2 *` parses field by field but has no fire time; catch it before it is used.
    fn ensure_fires(&self) -> Result<(), CronError> {
        let reference = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .expect("a fixed UTC instant exists");
        let fires = self
            .compiled
            .iter()
            .any(|schedule| schedule.after(&reference).next().is_some());
        if fires {
            Ok(())
        } else {
            Err(CronError::NeverFires {
                expression: self.source.clone(),
            })
        }
    }
}

impl fmt::Display for CronExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for CronExpression {
    type Err = CronError;

    fn from_str(expression: &str) -> Result<Self, Self::Err> {
        CronExpression::parse(expression)
    }
}

fn expand_macro(expression: &str) -> Option<&'static str> {
    let expanded = match expression.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        _ => return None,
    };
    Some(expanded)
}

/// Whether a day field takes part in the either-day rule. As in Kubernetes CronJob, only `*` (and the
/// equivalent `*/1`) leaves a day field unrestricted; `*/2` restricts it.
fn is_restricted(text: &str) -> bool {
    !matches!(text, "*" | "*/1")
}

fn parse_field(field: CronField, text: &str) -> Result<BTreeSet<u32>, CronError> {
    let mut values = BTreeSet::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(CronError::EmptyItem {
                field,
                text: text.to_string(),
            });
        }
        let (range_text, step) = match item.split_once('/') {
            Some((range_text, step_text)) => {
                (range_text, Some(parse_step(field, text, step_text)?))
            }
            None => (item, None),
        };
        let (full_min, full_max) = field.full_bounds();
        let (start, end) = if range_text == "*" {
            (full_min, full_max)
        } else if let Some((start_text, end_text)) = range_text.split_once('-') {
            let start = parse_value(field, text, start_text)?;
            let mut end = parse_value(field, text, end_text)?;
            if field == CronField::DayOfWeek && end == 0 && start > 0 {
                // `FRI-SUN` / `5-0`: Sunday as the end of a range is the 7 at the end of the week.
                end = 7;
            }
            if start > end {
                let (min, max) = field.written_bounds();
                return Err(CronError::ReversedRange {
                    field,
                    text: text.to_string(),
                    start,
                    end,
                    min,
                    max,
                });
            }
            (start, end)
        } else {
            let value = parse_value(field, text, range_text)?;
            match step {
                Some(_) => (value, full_max.max(value)),
                None => (value, value),
            }
        };
        for value in (start..=end).step_by(step.unwrap_or(1) as usize) {
            values.insert(if field == CronField::DayOfWeek {
                value % 7
            } else {
                value
            });
        }
    }
    Ok(values)
}

fn parse_step(field: CronField, text: &str, step_text: &str) -> Result<u32, CronError> {
    match step_text.parse::<u32>() {
        Ok(step) if step >= 1 && step_text.bytes().all(|b| b.is_ascii_digit()) => Ok(step),
        _ => Err(CronError::InvalidStep {
            field,
            text: text.to_string(),
            step: step_text.to_string(),
        }),
    }
}

fn parse_value(field: CronField, text: &str, value_text: &str) -> Result<u32, CronError> {
    let (min, max) = field.written_bounds();
    if !value_text.is_empty() && value_text.bytes().all(|b| b.is_ascii_digit()) {
        return match value_text.parse::<u32>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(CronError::OutOfRange {
                field,
                text: text.to_string(),
                value: value_text.to_string(),
            }),
        };
    }
    field
        .value_of_name(value_text)
        .ok_or_else(|| CronError::InvalidValue {
            field,
            text: text.to_string(),
            value: value_text.to_string(),
        })
}

/// Writes a value set for the `cron` crate: `*` when it covers the whole field, else an explicit list.
/// `offset` shifts day-of-week from 0 = Sunday to the crate's 1 = Sunday.
fn format_set(values: &BTreeSet<u32>, field: CronField, offset: u32) -> String {
    let (min, max) = field.full_bounds();
    if values.len() as u32 == max - min + 1 {
        return "*".to_string();
    }
    values
        .iter()
        .map(|value| (value + offset).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

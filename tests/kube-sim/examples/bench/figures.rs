//! Percentiles for printed figures.

use std::time::Duration;

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `p50 … p99 … max … (n=…)` in milliseconds, or seconds when `seconds` is set.
pub fn summary(mut values: Vec<Duration>, seconds: bool) -> String {
    if values.is_empty() {
        return "no values".to_string();
    }
    values.sort();
    let (scale, unit) = if seconds { (1.0, "s") } else { (1000.0, "ms") };
    let show = |d: Duration| d.as_secs_f64() * scale;
    format!(
        "p50 {:.2} {unit}, p99 {:.2} {unit}, max {:.2} {unit} (n={})",
        show(percentile(&values, 0.50)),
        show(percentile(&values, 0.99)),
        show(values[values.len() - 1]),
        values.len()
    )
}

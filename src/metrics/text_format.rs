//! The classic Prometheus text format (0.0.4) from prometheus-client's OpenMetrics output, for scrapers and
//! tools that do not ask for OpenMetrics (`promtool check metrics`, older Prometheus, `curl`). Client libraries
//! such as client_golang negotiate the same way: OpenMetrics only when the `Accept` header names it.
//!
//! Differences handled: counter families are named after their `_total` sample, `info` families become gauges
//! named `<family>_info`, `# UNIT` and `# EOF` lines, `_created` samples and exemplars are dropped, and HELP
//! text loses OpenMetrics' `\"` escape.

use std::collections::HashMap;

/// `Content-Type` of the classic text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// True when an `Accept` header asks for OpenMetrics.
pub fn accepts_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|value| value.contains("application/openmetrics-text"))
}

/// Rewrites an OpenMetrics exposition into the classic text format.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let types: HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("# TYPE ")?.split(' ');
            Some((words.next()?, words.next()?))
        })
        .collect();
    let counters: Vec<&str> = types
        .iter()
        .filter(|(_, kind)| **kind == "counter")
        .map(|(name, _)| *name)
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let name = classic_family_name(name, types.get(name).copied());
            out.push_str(&format!("# HELP {name} {}\n", help.replace("\\\"", "\"")));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let classic_kind = match kind {
                "counter" | "gauge" | "histogram" | "summary" => kind,
                "info" => "gauge",
                _ => "untyped",
            };
            let name = classic_family_name(name, Some(kind));
            out.push_str(&format!("# TYPE {name} {classic_kind}\n"));
        } else if line.starts_with('#') {
            // `# UNIT`, `# EOF`: not part of the classic format.
        } else if !line.is_empty() {
            let sample = strip_exemplar(line);
            let name = sample_name(sample);
            let created = name
                .strip_suffix("_created")
                .is_some_and(|family| counters.contains(&family));
            if !created {
                out.push_str(sample);
                out.push('\n');
            }
        }
    }
    out
}

fn classic_family_name(name: &str, kind: Option<&str>) -> String {
    match kind {
        Some("counter") if !name.ends_with("_total") => format!("{name}_total"),
        Some("info") => format!("{name}_info"),
        _ => name.to_string(),
    }
}

fn sample_name(sample: &str) -> &str {
    let end = sample.find(['{', ' ']).unwrap_or(sample.len());
    &sample[..end]
}

/// A sample line without its ` # {...} value` exemplar (a `#` inside quoted label values is kept).
fn strip_exemplar(line: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, ch) in line.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '#' if !in_quotes => return line[..index].trim_end(),
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENMETRICS: &str = "\
# HELP jobs Jobs created.
# TYPE jobs counter
jobs_total{cluster=\"a#b\"} 3 # {trace_id=\"x\"} 1.0
jobs_created{cluster=\"a#b\"} 1700000000.0
# HELP size_bytes Snapshot \\\"size\\\".
# TYPE size_bytes gauge
# UNIT size_bytes bytes
size_bytes 10
# HELP build Build facts.
# TYPE build info
build_info{version=\"1\"} 1
# EOF
";

    #[test]
    fn counters_take_their_sample_name_and_lose_created_and_exemplars() {
        let text = to_prometheus_text(OPENMETRICS);
        assert_eq!(
            text,
            "\
# HELP jobs_total Jobs created.
# TYPE jobs_total counter
jobs_total{cluster=\"a#b\"} 3
# HELP size_bytes Snapshot \"size\".
# TYPE size_bytes gauge
size_bytes 10
# HELP build_info Build facts.
# TYPE build_info gauge
build_info{version=\"1\"} 1
"
        );
    }

    #[test]
    fn only_an_accept_header_naming_openmetrics_gets_openmetrics() {
        assert!(accepts_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )));
        assert!(!accepts_openmetrics(Some("text/plain")));
        assert!(!accepts_openmetrics(Some("*/*")));
        assert!(!accepts_openmetrics(None));
    }
}

//! How times, sizes and states look on a terminal: kubectl-style ages, binary sizes, colour only on a TTY.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};

/// ANSI colours, switched off when stdout is not a terminal or `NO_COLOR` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    pub fn for_stdout() -> Self {
        Self {
            enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub fn plain() -> Self {
        Self { enabled: false }
    }

    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    pub fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A span the way kubectl prints ages: `45s`, `5m10s`, `3h20m`, `4d6h`, `30d`.
pub fn span(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) if minutes < 10 && secs > 0 => format!("{minutes}m{secs}s"),
        (0, 0, _) => format!("{minutes}m"),
        (0, _, 0) => format!("{hours}h"),
        (0, _, _) => format!("{hours}h{minutes}m"),
        (1..=6, 0, _) => format!("{days}d"),
        (1..=6, _, _) => format!("{days}d{hours}h"),
        _ => format!("{days}d"),
    }
}

/// `5m ago` for a past time, `in 3h` for a future one.
pub fn relative(time: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if time <= now {
        format!("{} ago", span(now - time))
    } else {
        format!("in {}", span(time - now))
    }
}

/// Bytes in binary units with one decimal: `512 B`, `3.1 MiB`.
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for candidate in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = candidate;
    }
    format!("{value:.1} {unit}")
}

/// `sha256:0123456789ab…` for a table; the full digest is in `-o json`.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) if hex.len() > 12 => format!("{algorithm}:{}…", &hex[..12]),
        _ => digest.to_string(),
    }
}

/// Left-aligned columns separated by three spaces, like `kubectl get`.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            widths[column] = widths[column].max(visible_width(cell));
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if column + 1 < row.len() {
                let pad = widths[column] - visible_width(cell) + 3;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Width without ANSI colour codes.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_kubectl_ages() {
        let s = chrono::Duration::seconds;
        assert_eq!(span(s(45)), "45s");
        assert_eq!(span(s(310)), "5m10s");
        assert_eq!(span(s(1800)), "30m");
        assert_eq!(span(s(3 * 3600 + 20 * 60)), "3h20m");
        assert_eq!(span(s(4 * 86_400 + 6 * 3600)), "4d6h");
        assert_eq!(span(s(30 * 86_400 + 5)), "30d");
        assert_eq!(span(s(-5)), "0s");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(3_250_000), "3.1 MiB");
        assert_eq!(size(2 * 1024 * 1024 * 1024), "2.0 GiB");
    }

    #[test]
    fn colour_does_not_shift_columns() {
        let colour = Palette { enabled: true };
        let text = table(
            &["NAME", "FAILURES"],
            &[
                vec![colour.bad("prod"), "2".into()],
                vec!["b".into(), "0".into()],
            ],
        );
        let plain: String = text.replace("\x1b[31m", "").replace("\x1b[0m", "");
        assert_eq!(plain, "NAME   FAILURES\nprod   2\nb      0\n");
        assert_eq!(Palette::plain().bad("x"), "x");
    }
}

//! One timed command (GNU `time -v`) and the statistics over repeated runs.

use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub seconds: f64,
    pub rss_mib: f64,
    /// User + system CPU seconds of the whole process tree (GNU time counts every waited-for descendant).
    pub cpu_seconds: f64,
}

impl Measured {
    /// Two steps run one after the other: times and CPU add up, memory is the larger peak.
    pub fn then(self, next: Measured) -> Measured {
        Measured {
            seconds: self.seconds + next.seconds,
            rss_mib: self.rss_mib.max(next.rss_mib),
            cpu_seconds: self.cpu_seconds + next.cpu_seconds,
        }
    }
}

/// Wall time, peak RSS and CPU time of one command.
pub fn measure(what: &str, command: &mut Command) -> Measured {
    let time_file = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-v")
        .arg("-o")
        .arg(time_file.path())
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(name, value),
            None => timed.env_remove(name),
        };
    }
    timed.stdout(Stdio::null());
    let started = Instant::now();
    let status = timed.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "{what} failed: {status}");
    let report = std::fs::read_to_string(time_file.path()).unwrap();
    Measured {
        seconds,
        rss_mib: time_field(&report, "Maximum resident set size (kbytes)") / 1024.0,
        cpu_seconds: time_field(&report, "User time (seconds)")
            + time_field(&report, "System time (seconds)"),
    }
}

/// A numeric field of GNU time's `-v` report.
fn time_field(report: &str, name: &str) -> f64 {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(": "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("GNU time reports {name}"))
}

/// What repeated runs of one variant say.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub median_cpu: f64,
    pub peak_rss_mib: f64,
    /// Slowest / fastest wall time: how far one run can be trusted.
    pub spread: f64,
}

impl Stats {
    pub fn of(runs: &[Measured]) -> Stats {
        assert!(!runs.is_empty());
        let walls: Vec<f64> = runs.iter().map(|m| m.seconds).collect();
        let cpus: Vec<f64> = runs.iter().map(|m| m.cpu_seconds).collect();
        let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
        let max = walls.iter().copied().fold(0.0, f64::max);
        Stats {
            min,
            median: median(walls),
            median_cpu: median(cpus),
            peak_rss_mib: runs.iter().map(|m| m.rss_mib).fold(0.0, f64::max),
            spread: max / min,
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}

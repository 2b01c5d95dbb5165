//! Series every replica exports, leader or not: `openbao_operator_leader` and the standard `process_*` series
//! (read from `/proc/self` at scrape time; absent on systems without procfs).

use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;

/// Linux's `USER_HZ`, the unit of `utime`/`stime` in `/proc/self/stat` (100 on every mainstream architecture).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE_BYTES: f64 = 4096.0;

#[derive(Clone)]
pub struct ProcessMetrics {
    leader: Gauge,
    start_time: FloatGauge,
    cpu_seconds: FloatCounter,
    resident_memory: FloatGauge,
}

impl ProcessMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            leader: Gauge::default(),
            start_time: FloatGauge::default(),
            cpu_seconds: FloatCounter::default(),
            resident_memory: FloatGauge::default(),
        };
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        metrics.start_time.set(started);
        registry.register(
            "openbao_operator_leader",
            "1 while this replica holds the leader-election Lease (only then it exports per-cluster series)",
            metrics.leader.clone(),
        );
        registry.register(
            "process_start_time_seconds",
            "Start time of the process (Unix seconds)",
            metrics.start_time.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "User and system CPU time spent by the process",
            metrics.cpu_seconds.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the process",
            metrics.resident_memory.clone(),
        );
        metrics
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Reads `/proc/self/stat` into the process series; called before each exposition.
    pub fn refresh(&self) {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return;
        };
        let Some((cpu, rss_pages)) = parse_stat(&stat) else {
            return;
        };
        let delta = cpu - self.cpu_seconds.get();
        if delta > 0.0 {
            self.cpu_seconds.inc_by(delta);
        }
        self.resident_memory.set(rss_pages * PAGE_SIZE_BYTES);
    }
}

/// `(cpu seconds, resident pages)` from `/proc/<pid>/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<(f64, f64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command name, field 3 (state) is index 0: utime is field 14, stime 15, rss 24.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let rss: f64 = fields.get(21)?.parse().ok()?;
    Some(((utime + stime) / CLOCK_TICKS_PER_SECOND, rss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 1000000 512 \
                    18446744073709551615";
        assert_eq!(parse_stat(stat), Some((3.0, 512.0)));
        assert_eq!(parse_stat("garbage"), None);
    }
}

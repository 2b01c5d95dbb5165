//! Restart delays. ractor has no restart strategy of its own; supervisors restart failed actors after these.

use std::time::Duration;

/// Exponential delay for the `failures`-th restart in a row: 0 for the first (a one-off panic recovers at once),
/// then `base`, `2·base`, … capped at `max`.
pub fn restart_delay(failures: u32, base: Duration, max: Duration) -> Duration {
    if failures <= 1 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 2).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_and_are_capped() {
        let base = Duration::from_millis(500);
        let max = Duration::from_secs(60);
        let delays: Vec<_> = (1..=10).map(|n| restart_delay(n, base, max)).collect();
        assert_eq!(delays[0], Duration::ZERO);
        assert_eq!(delays[1], Duration::from_millis(500));
        assert_eq!(delays[2], Duration::from_secs(1));
        assert_eq!(delays[3], Duration::from_secs(2));
        assert_eq!(delays[9], Duration::from_secs(60));
        assert_eq!(restart_delay(u32::MAX, base, max), max);
    }
}

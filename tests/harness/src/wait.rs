//! Polling with a deadline: tests wait for conditions, never for fixed times.

use std::future::Future;
use std::time::{Duration, Instant};

/// Time between two checks of a condition.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what}; last observation: {last}")]
pub struct Timeout {
    pub what: String,
    pub waited: Duration,
    pub last: String,
}

/// Calls `check` until it returns `Ok(value)` or `timeout` passes. `Err(observation)` means "not yet" and
/// the last observation ends up in the [`Timeout`] to explain what was seen.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<T, Timeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => return Ok(value),
            Err(observation) => observation,
        };
        if started.elapsed() >= timeout {
            return Err(Timeout {
                what: what.to_string(),
                waited: started.elapsed(),
                last,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Blocking twin of [`poll_until`] for code that runs outside an async runtime.
pub fn poll_until_blocking<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> Result<T, Timeout> {
    let started = Instant::now();
    loop {
        let last = match check() {
            Ok(value) => return Ok(value),
            Err(observation) => observation,
        };
        if started.elapsed() >= timeout {
            return Err(Timeout {
                what: what.to_string(),
                waited: started.elapsed(),
                last,
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

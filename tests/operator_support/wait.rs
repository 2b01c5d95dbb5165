//! Polling a condition with a generous deadline (the harness's `poll_until`); on timeout the failure shows the
//! operator's log tail.

use std::path::Path;
use std::time::Duration;

use openbao_test_harness::process::log_tail;
use openbao_test_harness::wait::poll_until;

/// A freshly started operator process syncing its caches on a busy machine.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
const LOG_TAIL_LINES: usize = 60;

pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, log: &Path, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_explained(what, deadline, log, || {
        let pending = check();
        async move { pending.await.ok_or_else(|| "not yet".to_string()) }
    })
    .await
}

/// Like [`eventually`], for a check that says what is still missing; the last answer goes into the failure.
pub async fn eventually_explained<T, F, Fut>(
    what: &str,
    deadline: Duration,
    log: &Path,
    check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    poll_until(what, deadline, check)
        .await
        .unwrap_or_else(|timeout| {
            panic!(
                "{timeout}; operator log tail:\n{}",
                log_tail(log, LOG_TAIL_LINES)
            )
        })
}

/// Waits until the operator's `/readyz` answers 200 (caches synced, leadership known).
pub async fn wait_ready(operator: &super::Operator) {
    if let Err(timeout) = operator.wait_ready(STARTUP_DEADLINE).await {
        panic!(
            "{timeout}; operator log tail:\n{}",
            operator.log_tail(LOG_TAIL_LINES)
        );
    }
}

//! Polling a condition with a generous deadline; on timeout the failure shows the operator's log tail.

use std::path::Path;
use std::time::Duration;

const POLL_INTERVAL: Duration = Duration::from_millis(200);
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
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let missing = match check().await {
            Ok(value) => return value,
            Err(missing) => missing,
        };
        if tokio::time::Instant::now() > until {
            panic!(
                "timed out after {deadline:?} waiting for {what}; last check: {missing}; operator log tail:\n{}",
                log_tail(log)
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until the operator's `/readyz` answers 200 (caches synced, leadership known).
pub async fn wait_ready(operator: &super::Operator) {
    eventually(
        "/readyz to answer 200",
        STARTUP_DEADLINE,
        operator.log_path(),
        || async {
            operator
                .get("/readyz")
                .await
                .filter(|(status, _)| *status == 200)
        },
    )
    .await;
}

pub fn log_tail(log: &Path) -> String {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(LOG_TAIL_LINES).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

//! Polling a condition with a generous deadline (the harness's `poll_until`); on timeout the failure shows the
//! operator's log tail.

use std::path::Path;
use std::time::Duration;

use openbao_test_harness::process::log_tail;

/// The operator's story for a failure message: how it started (its first lines) and what it did last, without
/// the Lease renewals that fill a healthy leader's debug log every few seconds.
pub fn log_story(log: &Path) -> String {
    const HEAD_LINES: usize = 25;
    let Ok(text) = std::fs::read_to_string(log) else {
        return log_tail(log, LOG_TAIL_LINES);
    };
    let lines: Vec<&str> = text.lines().collect();
    let head = &lines[..lines.len().min(HEAD_LINES)];
    let rest: Vec<&str> = lines[head.len()..]
        .iter()
        .copied()
        .filter(|line| !line.contains("kube_lease_manager"))
        .collect();
    let tail = &rest[rest.len().saturating_sub(LOG_TAIL_LINES)..];
    format!(
        "{}\n  [... {} more lines, {} of them Lease renewals ...]\n{}",
        head.join("\n"),
        lines.len() - head.len() - tail.len(),
        lines.len() - head.len() - rest.len(),
        tail.join("\n")
    )
}
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
        .unwrap_or_else(|timeout| panic!("{timeout}; operator log:\n{}", log_story(log)))
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

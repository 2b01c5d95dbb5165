//! Following an object until it reaches an end: re-read it on an interval, print each new state once, and give
//! up with a timeout error naming the last state seen.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::error::PluginError;

/// How often a followed object is read again. An API read is cheap; a person waits for seconds-long steps.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What one look at the followed object found.
pub enum Step<T> {
    /// Not at an end yet; the text describes where it is.
    Waiting(String),
    Done(T),
}

/// Calls `look` until it returns [`Step::Done`] or `timeout` passes; prints every changed `Waiting` state to
/// stdout with `prefix`.
pub async fn follow<T, F, Fut>(
    what: &str,
    timeout: Duration,
    timeout_text: &str,
    prefix: &str,
    mut look: F,
) -> Result<T, PluginError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T>, PluginError>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = String::from("nothing yet");
    loop {
        let step = tokio::time::timeout_at(deadline, look()).await;
        match step {
            Ok(Ok(Step::Done(value))) => return Ok(value),
            Ok(Ok(Step::Waiting(state))) => {
                if state != last {
                    println!("{prefix}{state}");
                    last = state;
                }
            }
            Ok(Err(error)) => return Err(error),
            Err(_) => break,
        }
        if tokio::time::timeout_at(deadline, tokio::time::sleep(POLL_INTERVAL))
            .await
            .is_err()
        {
            break;
        }
    }
    Err(PluginError::Timeout {
        after: timeout_text.to_string(),
        what: what.to_string(),
        last,
    })
}

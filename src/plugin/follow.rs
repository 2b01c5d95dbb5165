//! Following an object until it reaches an end: re-read it on an interval, print each new state once, and give
//! up with a timeout error naming the last state seen.

use std::future::Future;
use std::io::{IsTerminal, Write};
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

/// The redrawn progress line of a terminal: the state and how long the follow has run, over the previous line.
pub fn progress_line(prefix: &str, state: &str, elapsed: Duration) -> String {
    format!("\r\x1b[K{prefix}{state} ({}s)", elapsed.as_secs())
}

/// Calls `look` until it returns [`Step::Done`] or `timeout` passes; prints every changed `Waiting` state to
/// stdout with `prefix`. On a terminal the current state's line is redrawn with the elapsed time at every look
/// (a new line starts when the state changes); in a pipe each state is one plain line.
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
    let started = Instant::now();
    let deadline = started + timeout;
    let terminal = std::io::stdout().is_terminal();
    let mut line_open = false;
    let end_line = |open: &mut bool| {
        if std::mem::take(open) {
            println!();
        }
    };
    let mut last = String::from("nothing yet");
    loop {
        let step = tokio::time::timeout_at(deadline, look()).await;
        match step {
            Ok(Ok(Step::Done(value))) => {
                end_line(&mut line_open);
                return Ok(value);
            }
            Ok(Ok(Step::Waiting(state))) => {
                if terminal {
                    if state != last {
                        end_line(&mut line_open);
                    }
                    print!("{}", progress_line(prefix, &state, started.elapsed()));
                    let _ = std::io::stdout().flush();
                    line_open = true;
                } else if state != last {
                    println!("{prefix}{state}");
                }
                last = state;
            }
            Ok(Err(error)) => {
                end_line(&mut line_open);
                return Err(error);
            }
            Err(_) => break,
        }
        if tokio::time::timeout_at(deadline, tokio::time::sleep(POLL_INTERVAL))
            .await
            .is_err()
        {
            break;
        }
    }
    end_line(&mut line_open);
    Err(PluginError::Timeout {
        after: timeout_text.to_string(),
        what: what.to_string(),
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_overwrites_the_previous_one_and_counts_seconds() {
        assert_eq!(
            progress_line("backup: ", "running", Duration::from_millis(12_900)),
            "\r\x1b[Kbackup: running (12s)"
        );
    }
}

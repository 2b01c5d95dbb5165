//! A terminated container's message: the termination-message file, or with `FallbackToLogsOnError` the tail of
//! its log when the file is empty and the container failed.

/// The kubelet's limit on the termination-message file.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The log tail used as a fallback: at most this many bytes …
pub const FALLBACK_LOG_BYTES: usize = 2048;
/// … and at most this many lines, whichever is smaller.
pub const FALLBACK_LOG_LINES: usize = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagePolicy {
    File,
    FallbackToLogsOnError,
}

impl MessagePolicy {
    pub fn parse(policy: Option<&str>) -> Self {
        match policy {
            Some("FallbackToLogsOnError") => Self::FallbackToLogsOnError,
            _ => Self::File,
        }
    }
}

/// `file` is what the container wrote to its termination-message path; `log` is its log so far.
pub fn termination_message(
    policy: MessagePolicy,
    file: &[u8],
    exit_code: i32,
    log: &[u8],
) -> Option<String> {
    let from_file = truncate_head(file, MAX_MESSAGE_BYTES);
    if !from_file.is_empty() {
        return Some(String::from_utf8_lossy(from_file).into_owned());
    }
    if policy == MessagePolicy::FallbackToLogsOnError && exit_code != 0 {
        let tail = log_tail(log);
        if !tail.is_empty() {
            return Some(String::from_utf8_lossy(tail).into_owned());
        }
    }
    None
}

fn truncate_head(bytes: &[u8], limit: usize) -> &[u8] {
    &bytes[..bytes.len().min(limit)]
}

/// The last [`FALLBACK_LOG_LINES`] lines, cut further to the last [`FALLBACK_LOG_BYTES`] bytes.
fn log_tail(log: &[u8]) -> &[u8] {
    let trimmed = log.strip_suffix(b"\n").unwrap_or(log);
    let line_start = trimmed
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, byte)| **byte == b'\n')
        .nth(FALLBACK_LOG_LINES - 1)
        .map(|(index, _)| index + 1)
        .unwrap_or(0);
    let byte_start = log.len().saturating_sub(FALLBACK_LOG_BYTES);
    &log[line_start.max(byte_start)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_message_wins_and_is_truncated() {
        let long = vec![b'x'; MAX_MESSAGE_BYTES + 100];
        let message =
            termination_message(MessagePolicy::FallbackToLogsOnError, &long, 1, b"log").unwrap();
        assert_eq!(message.len(), MAX_MESSAGE_BYTES);
        assert_eq!(
            termination_message(MessagePolicy::File, b"{\"ok\":true}", 0, b"").unwrap(),
            "{\"ok\":true}"
        );
    }

    #[test]
    fn logs_are_used_only_on_failure_with_the_fallback_policy() {
        assert_eq!(
            termination_message(MessagePolicy::File, b"", 1, b"boom\n"),
            None
        );
        assert_eq!(
            termination_message(MessagePolicy::FallbackToLogsOnError, b"", 0, b"fine\n"),
            None
        );
        assert_eq!(
            termination_message(MessagePolicy::FallbackToLogsOnError, b"", 2, b"a\nboom\n")
                .as_deref(),
            Some("a\nboom\n")
        );
    }

    #[test]
    fn fallback_keeps_the_last_80_lines() {
        let log: String = (1..=100).map(|line| format!("{line}\n")).collect();
        let message =
            termination_message(MessagePolicy::FallbackToLogsOnError, b"", 1, log.as_bytes())
                .unwrap();
        assert!(message.starts_with("21\n"), "{message}");
        assert!(message.ends_with("100\n"));
        assert_eq!(message.lines().count(), 80);
    }

    #[test]
    fn fallback_keeps_at_most_2048_bytes() {
        let log: String = (0..10).map(|_| format!("{}\n", "y".repeat(499))).collect();
        let message =
            termination_message(MessagePolicy::FallbackToLogsOnError, b"", 1, log.as_bytes())
                .unwrap();
        assert_eq!(message.len(), FALLBACK_LOG_BYTES);
    }
}

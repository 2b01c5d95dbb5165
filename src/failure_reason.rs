//! Errors that name their own low-cardinality reason (copied into reports, conditions and metric labels). A leaf
//! module: the OpenBao client, the object store and the executor all use it, and it uses none of them.

/// Errors that know their own low-cardinality reason.
pub trait Reason: std::error::Error {
    fn reason(&self) -> &'static str;
}

/// The message with its causes (`a: b: c`), skipping a cause whose text the outer message already repeats
/// (thiserror's `{0}` style) so messages stay short.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

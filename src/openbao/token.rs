//! Credentials that must never be printed: OpenBao tokens and the JWTs exchanged for them.

/// A secret string whose `Debug` output is redacted and which has no `Display`, so it cannot end up in a log
/// line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it (a header or a login body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = SecretString::new("s.very-secret");
        assert!(!format!("{secret:?}").contains("very-secret"));
        assert_eq!(secret.expose(), "s.very-secret");
    }
}

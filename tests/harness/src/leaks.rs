//! Looking for secrets where they must never be: OpenBao tokens by their shape (a token the test never saw, e.g.
//! the executor's login token) and by exact value (tokens a recording proxy saw OpenBao issue, the root token,
//! store keys).

/// OpenBao service, batch and recovery tokens are `s.`/`b.`/`r.` followed by 24 or more letters and digits (the
/// root token of 2.7.2 has 24); the executor obtains one at login that the test never sees, so scan for the shape.
pub fn find_openbao_token(text: &str) -> Option<&str> {
    const MIN_BODY: usize = 24;
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1)).find_map(|i| {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let prefix = matches!(bytes[i], b's' | b'b' | b'r') && bytes[i + 1] == b'.';
        if !(starts_word && prefix) {
            return None;
        }
        let body = bytes[i + 2..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        (body >= MIN_BODY).then(|| &text[i..i + 2 + body])
    })
}

/// Where `secret` (exactly) or anything shaped like an OpenBao token occurs in `text`, as findings naming `what`.
pub fn findings(what: &str, text: &str, exact: &[String]) -> Vec<String> {
    let mut found: Vec<String> = exact
        .iter()
        .filter(|secret| secret.len() >= 8 && text.contains(secret.as_str()))
        .map(|secret| format!("{what}: holds a known secret ({} characters)", secret.len()))
        .collect();
    if let Some(token) = find_openbao_token(text) {
        found.push(format!(
            "{what}: holds something shaped like an OpenBao token ({}...)",
            &token[..4]
        ));
    }
    found
}

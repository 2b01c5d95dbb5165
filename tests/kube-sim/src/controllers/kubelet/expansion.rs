//! Kubernetes' `$(VAR)` expansion for `env` values, `command` and `args`.
//!
//! `$(NAME)` becomes the variable's value when it is defined and stays as written otherwise; `$$` is an escaped
//! `$`, so `$$(NAME)` yields a literal `$(NAME)`. Any other `$` is kept.

pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut output = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        output.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            output.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(') {
            match reference.find(')') {
                Some(close) => {
                    let name = &reference[..close];
                    match lookup(name) {
                        Some(value) => output.push_str(&value),
                        None => {
                            output.push_str("$(");
                            output.push_str(name);
                            output.push(')');
                        }
                    }
                    rest = &reference[close + 1..];
                }
                None => {
                    output.push_str("$(");
                    rest = reference;
                }
            }
        } else {
            output.push('$');
            rest = after;
        }
    }
    output.push_str(rest);
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/bao".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_defined_variables() {
        assert_eq!(expand("$(HOME)/config", vars), "/home/bao/config");
        assert_eq!(expand("a$(EMPTY)b", vars), "ab");
        assert_eq!(expand("$(HOME)$(HOME)", vars), "/home/bao/home/bao");
    }

    #[test]
    fn keeps_undefined_and_malformed_references() {
        assert_eq!(expand("$(MISSING)/x", vars), "$(MISSING)/x");
        assert_eq!(expand("$(HOME", vars), "$(HOME");
        assert_eq!(expand("cost $5 and $", vars), "cost $5 and $");
        assert_eq!(expand("${HOME}", vars), "${HOME}");
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(expand("$$(HOME)", vars), "$(HOME)");
        assert_eq!(expand("$$$(HOME)", vars), "$/home/bao");
        assert_eq!(expand("$$", vars), "$");
    }
}

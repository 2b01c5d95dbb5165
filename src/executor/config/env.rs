//! Typed reads of `EXECUTOR_*` variables. Every error names the variable, so a bad Job spec is fixed in one look.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use openbao_crds::duration::HumanDuration;

use super::ConfigError;
use crate::openbao::SecretString;

/// A snapshot of the environment (tests build one from pairs).
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The trimmed value; empty counts as unset (Kubernetes renders unset optional fields as empty strings).
    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub fn parsed<T: FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        self.optional(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| ConfigError::invalid(name, format!("{v:?} is not {expected}")))
            })
            .transpose()
    }

    pub fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self
            .optional(name)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false" | "0" | "no") => Ok(false),
            Some("true" | "1" | "yes") => Ok(true),
            Some(other) => Err(ConfigError::invalid(
                name,
                format!("{other:?} is not true or false"),
            )),
        }
    }

    pub fn duration(&self, name: &'static str) -> Result<Option<HumanDuration>, ConfigError> {
        self.optional(name)
            .map(|v| {
                v.parse::<HumanDuration>()
                    .map_err(|e| ConfigError::invalid(name, e.to_string()))
            })
            .transpose()
    }

    /// A byte size: plain bytes or with a `Ki`, `Mi` or `Gi` suffix (`16Mi`).
    pub fn byte_size(&self, name: &'static str) -> Result<Option<u64>, ConfigError> {
        let Some(text) = self.optional(name) else {
            return Ok(None);
        };
        let (digits, multiplier) = [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)]
            .iter()
            .find_map(|(suffix, m)| text.strip_suffix(suffix).map(|d| (d, *m)))
            .unwrap_or((text.as_str(), 1));
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(multiplier))
            .map(Some)
            .ok_or_else(|| {
                ConfigError::invalid(name, format!("{text:?} is not a size like 8388608 or 8Mi"))
            })
    }

    pub fn path(&self, name: &'static str) -> Option<PathBuf> {
        self.optional(name).map(PathBuf::from)
    }
}

/// Reads a file named by `variable` (the error names the variable, never the content).
pub fn read_file(variable: &'static str, path: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::invalid(variable, format!("cannot read {}: {e}", path.display())))
}

/// Reads a credential file: trimmed, non-empty, UTF-8.
pub fn read_secret(
    variable: &'static str,
    path: &std::path::Path,
) -> Result<SecretString, ConfigError> {
    let bytes = read_file(variable, path)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ConfigError::invalid(variable, format!("{} is not UTF-8 text", path.display()))
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::invalid(
            variable,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(SecretString::new(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_suffixes() {
        let env = Env::from_pairs([("A", "8Mi"), ("B", "1024"), ("C", "2Gi"), ("D", "8MB")]);
        assert_eq!(env.byte_size("A").unwrap(), Some(8 << 20));
        assert_eq!(env.byte_size("B").unwrap(), Some(1024));
        assert_eq!(env.byte_size("C").unwrap(), Some(2 << 30));
        assert_eq!(env.byte_size("E").unwrap(), None);
        let err = env.byte_size("D").unwrap_err();
        assert!(err.to_string().contains("D"), "{err}");
    }

    #[test]
    fn empty_values_count_as_unset_and_flags_are_strict() {
        let env = Env::from_pairs([("EMPTY", "  "), ("YES", "True"), ("BAD", "maybe")]);
        assert_eq!(env.optional("EMPTY"), None);
        assert!(matches!(
            env.required("EMPTY"),
            Err(ConfigError::Missing("EMPTY"))
        ));
        assert!(env.flag("YES").unwrap());
        assert!(!env.flag("UNSET").unwrap());
        assert!(env.flag("BAD").is_err());
    }
}

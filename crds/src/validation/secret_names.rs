//! Recognises Secret names and keys that look like OpenBao root-token or unseal-key material.
//!
//! Why: DESIGN safety rule 2. Backups and restores must run with dedicated, narrowly scoped identities. The
//! easiest mistake is pointing `tokenSecretRef` at the Secret an init Job or a Helm hook wrote after
//! `bao operator init` (root token plus unseal or recovery key shares): it works, and it hands every snapshot
//! Job the keys to the whole cluster. The operator cannot read Secret contents at validation time, and should not,
//! so it judges the reference by its name and key and refuses the conventional ones outright; it never falls
//! back to them either.
//!
//! The rules are deliberately narrow so normal names pass: `openbao-backup-token`, `s3-credentials`,
//! `root-ca` and `minio-root` are fine; `root-token`, `openbao-root-token`, `unseal-keys`, `recovery-keys`,
//! `root`, `openbao-root`, `init-output`, `openbao-init` and keys such as `root_token` or `unseal_keys_b64`
//! (the fields of `bao operator init -format=json`) are refused.

/// Product names that, next to `root` or `init`, mark the output of initialising OpenBao (or Vault, which
/// OpenBao forked and whose Helm conventions people carry over).
const PRODUCT_WORDS: [&str; 3] = ["openbao", "bao", "vault"];

/// Fragments of the name with separators removed and lower-cased; each match names what it looks like.
const SUSPICIOUS_FRAGMENTS: [(&str, &str); 9] = [
    ("roottoken", "a root token"),
    ("unseal", "unseal keys"),
    ("recoverykey", "recovery keys"),
    ("recoveryshare", "recovery key shares"),
    ("keyshare", "unseal key shares"),
    ("initoutput", "`operator init` output"),
    ("initresult", "`operator init` output"),
    ("initkeys", "`operator init` output"),
    ("keysbase64", "unseal key shares"),
];

/// If `identifier` (a Secret name or a key inside a Secret) looks like root or unseal material, what it looks
/// like, for the error message.
pub fn root_or_unseal_material(identifier: &str) -> Option<&'static str> {
    let lowered = identifier.to_ascii_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let joined: String = words.concat();

    if let Some((_, looks_like)) = SUSPICIOUS_FRAGMENTS
        .iter()
        .find(|(fragment, _)| joined.contains(fragment))
    {
        return Some(looks_like);
    }
    let mentions_product = words.iter().any(|word| PRODUCT_WORDS.contains(word));
    match words.as_slice() {
        ["root"] => Some("a root token"),
        ["keys"] | ["keys", "b64" | "hex"] => Some("unseal key shares"),
        ["init"] => Some("`operator init` output"),
        [.., "root"] if mentions_product => Some("a root token"),
        [.., "init"] if mentions_product => Some("`operator init` output"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_root_and_unseal_names_and_keys() {
        let table = [
            ("root-token", "a root token"),
            ("openbao-root-token", "a root token"),
            ("vault-root-token", "a root token"),
            ("ROOT_TOKEN", "a root token"),
            ("root_token", "a root token"),
            ("rootToken", "a root token"),
            ("root", "a root token"),
            ("openbao-root", "a root token"),
            ("bao.root", "a root token"),
            ("unseal-keys", "unseal keys"),
            ("openbao-unseal-keys", "unseal keys"),
            ("unseal_keys_b64", "unseal keys"),
            ("auto-unseal", "unseal keys"),
            ("recovery-keys", "recovery keys"),
            ("recovery_keys_hex", "recovery keys"),
            ("openbao-recovery-shares", "recovery key shares"),
            ("key-shares", "unseal key shares"),
            ("keys", "unseal key shares"),
            ("keys_base64", "unseal key shares"),
            ("keys-b64", "unseal key shares"),
            ("init-output", "`operator init` output"),
            ("openbao-init-output", "`operator init` output"),
            ("init", "`operator init` output"),
            ("openbao-init", "`operator init` output"),
            ("vault-init", "`operator init` output"),
            ("prod-openbao-init", "`operator init` output"),
            ("openbao-init-keys", "`operator init` output"),
        ];
        for (identifier, looks_like) in table {
            assert_eq!(
                root_or_unseal_material(identifier),
                Some(looks_like),
                "{identifier}"
            );
        }
    }

    #[test]
    fn accepts_normally_named_secrets() {
        for identifier in [
            "openbao-backup-token",
            "backup-token",
            "restore-token",
            "token",
            "s3-credentials",
            "gcs-service-account",
            "azure-storage-key",
            "service-account.json",
            "AWS_SECRET_ACCESS_KEY",
            "AZURE_STORAGE_ACCOUNT_KEY",
            "root-ca",
            "openbao-root-ca",
            "minio-root",
            "ca.crt",
            "openbao-tls",
            "openbao-initializer-config",
            "monkeys",
            "rooted-token",
        ] {
            assert_eq!(root_or_unseal_material(identifier), None, "{identifier}");
        }
    }
}

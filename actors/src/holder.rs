//! Lock holder identities. The holder string in `status.operationLock.holder` names the object whose existence
//! keeps the lock alive, so a supervisor that restarts can check it against reality.

use std::fmt;

/// A parsed `status.operationLock.holder`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HolderRef {
    /// `backup/<job-name>`: a backup Job (scheduled, manual or pre-upgrade).
    BackupJob(String),
    /// `restore/<OpenBaoRestore name>`.
    Restore(String),
    /// `upgrade/<target version>`.
    Upgrade(String),
    /// Anything else, e.g. written by a newer operator; kept verbatim so it round-trips.
    Unrecognized(String),
}

impl HolderRef {
    pub fn parse(holder: &str) -> Self {
        match holder.split_once('/') {
            Some(("backup", job)) if !job.is_empty() => Self::BackupJob(job.to_string()),
            Some(("restore", name)) if !name.is_empty() => Self::Restore(name.to_string()),
            Some(("upgrade", id)) if !id.is_empty() => Self::Upgrade(id.to_string()),
            _ => Self::Unrecognized(holder.to_string()),
        }
    }
}

impl fmt::Display for HolderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BackupJob(job) => write!(f, "backup/{job}"),
            Self::Restore(name) => write!(f, "restore/{name}"),
            Self::Upgrade(id) => write!(f, "upgrade/{id}"),
            Self::Unrecognized(raw) => f.write_str(raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip() {
        for raw in [
            "backup/prod-backup-202601010300",
            "restore/r1",
            "upgrade/2.7.2",
            "someone-else",
            "backup/",
        ] {
            assert_eq!(HolderRef::parse(raw).to_string(), raw);
        }
        assert_eq!(
            HolderRef::parse("backup/j1"),
            HolderRef::BackupJob("j1".into())
        );
        assert_eq!(
            HolderRef::parse("backup/"),
            HolderRef::Unrecognized("backup/".into())
        );
    }
}

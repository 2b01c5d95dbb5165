//! Lock holder identities. `status.operationLock.holder` names the object whose existence keeps the lock alive
//! (`backup/<job>`, `restore/<OpenBaoRestore>`, `upgrade/<target version>`), so a supervisor that restarts can ask
//! the operation's owning child whether that object still lives.

use std::fmt;

use openbao_crds::Operation;

/// A typed `status.operationLock.holder`: the operation and the name of the object that holds the lock for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HolderId {
    pub operation: Operation,
    pub name: String,
}

impl HolderId {
    pub fn new(operation: Operation, name: impl Into<String>) -> Self {
        Self {
            operation,
            name: name.into(),
        }
    }

    /// A persisted holder string; `None` for one this operator did not write (an administrator's, a newer
    /// release's): such a holder is never freed by guessing.
    pub fn parse(holder: &str) -> Option<Self> {
        let (prefix, name) = holder.split_once('/')?;
        let operation = match prefix {
            "backup" => Operation::Backup,
            "restore" => Operation::Restore,
            "upgrade" => Operation::Upgrade,
            _ => return None,
        };
        (!name.is_empty()).then(|| Self::new(operation, name))
    }

    fn prefix(&self) -> &'static str {
        match self.operation {
            Operation::Backup => "backup",
            Operation::Restore => "restore",
            Operation::Upgrade => "upgrade",
        }
    }
}

impl fmt::Display for HolderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.prefix(), self.name)
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
        ] {
            assert_eq!(HolderId::parse(raw).unwrap().to_string(), raw);
        }
        assert_eq!(
            HolderId::parse("backup/j1"),
            Some(HolderId::new(Operation::Backup, "j1"))
        );
        for foreign in ["backup/", "someone-else", "snapshot/x", ""] {
            assert_eq!(HolderId::parse(foreign), None, "{foreign}");
        }
    }
}

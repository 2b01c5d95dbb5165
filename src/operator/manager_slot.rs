//! The running `ClusterManager`, if this replica leads. Watch feeders route through it; while it is empty (a
//! follower, or between leaderships) events only update caches and metrics.

use std::sync::Mutex;

use openbao_actors::manager::ManagerMsg;
use ractor::ActorRef;

#[derive(Default)]
pub struct ManagerSlot(Mutex<Option<ActorRef<ManagerMsg>>>);

impl ManagerSlot {
    fn guard(&self) -> std::sync::MutexGuard<'_, Option<ActorRef<ManagerMsg>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set(&self, manager: Option<ActorRef<ManagerMsg>>) -> Option<ActorRef<ManagerMsg>> {
        std::mem::replace(&mut *self.guard(), manager)
    }

    /// Sends to the manager if there is one; a stopped manager just drops the message.
    pub fn send(&self, message: ManagerMsg) {
        if let Some(manager) = self.guard().as_ref() {
            let _ = manager.cast(message);
        }
    }

    pub fn is_running(&self) -> bool {
        self.guard().is_some()
    }
}

//! The supervisor's children, one slot per operation: the spec that starts it, the running actor, and its own
//! restart bookkeeping (a child that keeps failing backs off without slowing its siblings' restarts).

use std::sync::Arc;

use openbao_crds::Operation;
use ractor::ActorCell;

use crate::child::{ChildEvent, ChildHandle, ChildSpec, ChildSpecs};

pub(super) struct ChildSlot {
    pub spec: Arc<dyn ChildSpec>,
    pub running: Option<ChildHandle>,
    pub restarts: u32,
    pub failures_in_a_row: u32,
}

/// What `Inspect` shows of one child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildView {
    pub operation: Operation,
    pub alive: bool,
    pub restarts: u32,
}

pub(super) struct ChildSlots(Vec<ChildSlot>);

impl ChildSlots {
    pub fn new(specs: &ChildSpecs) -> Self {
        Self(
            specs
                .iter()
                .map(|spec| ChildSlot {
                    spec: spec.clone(),
                    running: None,
                    restarts: 0,
                    failures_in_a_row: 0,
                })
                .collect(),
        )
    }

    pub fn operations(&self) -> Vec<Operation> {
        self.0.iter().map(|slot| slot.spec.operation()).collect()
    }

    pub fn get(&self, operation: Operation) -> Option<&ChildSlot> {
        self.0
            .iter()
            .find(|slot| slot.spec.operation() == operation)
    }

    pub fn get_mut(&mut self, operation: Operation) -> Option<&mut ChildSlot> {
        self.0
            .iter_mut()
            .find(|slot| slot.spec.operation() == operation)
    }

    /// The operation of the running child behind `cell`.
    pub fn operation_of(&self, cell: &ActorCell) -> Option<Operation> {
        self.0
            .iter()
            .find(|slot| slot.running.as_ref().is_some_and(|child| child.is(cell)))
            .map(|slot| slot.spec.operation())
    }

    /// Delivers an event to the running child of `operation`; gives it back when there is none.
    pub fn deliver(&self, operation: Operation, event: ChildEvent) -> Result<(), ChildEvent> {
        match self.get(operation).and_then(|slot| slot.running.as_ref()) {
            Some(child) => {
                child.deliver(event);
                Ok(())
            }
            None => Err(event),
        }
    }

    /// Delivers a fresh copy of an event to every running child.
    pub fn broadcast(&self, event: impl Fn() -> ChildEvent) {
        for child in self.0.iter().filter_map(|slot| slot.running.as_ref()) {
            child.deliver(event());
        }
    }

    pub fn views(&self) -> Vec<ChildView> {
        self.0
            .iter()
            .map(|slot| ChildView {
                operation: slot.spec.operation(),
                alive: slot.running.is_some(),
                restarts: slot.restarts,
            })
            .collect()
    }
}

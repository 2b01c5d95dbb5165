//! The StatefulSet rollout as a pure function: from the replicas that exist, what to create or delete next.
//!
//! Mirrors the real controller's `OrderedReady` behaviour: Pods are created in ordinal order, each only once all
//! lower ordinals are Running and Ready; scale-down and `RollingUpdate` delete one Pod at a time from the highest
//! ordinal down, and only while every replica is Ready, so a rollout waits for each new Pod to become Ready.
//! `partition` keeps ordinals below it on the current revision; `OnDelete` never deletes for an update.

use std::collections::BTreeMap;

use crate::controllers::pod_facts::{PodFacts, PodPhase};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateStrategy {
    RollingUpdate { partition: u32 },
    OnDelete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodManagement {
    OrderedReady,
    Parallel,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    pub ordinal: u32,
    pub revision: String,
    pub facts: PodFacts,
}

#[derive(Clone, Debug)]
pub struct RolloutInput {
    pub replicas: u32,
    pub strategy: UpdateStrategy,
    pub management: PodManagement,
    pub current_revision: String,
    pub update_revision: String,
    pub pods: Vec<Replica>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutAction {
    Create { ordinal: u32, revision: String },
    Delete { ordinal: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutStatus {
    pub replicas: i32,
    pub ready_replicas: i32,
    pub current_replicas: i32,
    pub updated_replicas: i32,
    pub current_revision: String,
}

impl RolloutInput {
    /// The revision a missing Pod is created from: below the partition it stays on the current revision.
    pub fn revision_for(&self, ordinal: u32) -> &str {
        match self.strategy {
            UpdateStrategy::RollingUpdate { partition } if ordinal < partition => {
                &self.current_revision
            }
            _ => &self.update_revision,
        }
    }
}

pub fn next_actions(input: &RolloutInput) -> Vec<RolloutAction> {
    let ordered = input.management == PodManagement::OrderedReady;
    let by_ordinal: BTreeMap<u32, &Replica> =
        input.pods.iter().map(|pod| (pod.ordinal, pod)).collect();
    let mut actions = Vec::new();

    // A terminating Pod must be gone before its ordinal is reused or the next step of an ordered rollout happens.
    if ordered && input.pods.iter().any(|pod| pod.facts.terminating) {
        return actions;
    }

    let mut all_ready = true;
    for ordinal in 0..input.replicas {
        match by_ordinal.get(&ordinal) {
            None => {
                actions.push(RolloutAction::Create {
                    ordinal,
                    revision: input.revision_for(ordinal).to_string(),
                });
                all_ready = false;
                if ordered {
                    return actions;
                }
            }
            Some(pod) if pod.facts.terminating => all_ready = false,
            Some(pod) if pod.facts.phase.is_terminal() => {
                // A finished StatefulSet Pod is replaced, as the real controller does for failed Pods.
                actions.push(RolloutAction::Delete { ordinal });
                all_ready = false;
                if ordered {
                    return actions;
                }
            }
            Some(pod) if !(pod.facts.ready && pod.facts.phase == PodPhase::Running) => {
                all_ready = false;
                if ordered {
                    return actions;
                }
            }
            Some(_) => {}
        }
    }

    let condemned: Vec<u32> = by_ordinal
        .keys()
        .rev()
        .copied()
        .filter(|ordinal| *ordinal >= input.replicas)
        .filter(|ordinal| !by_ordinal[ordinal].facts.terminating)
        .collect();
    if !condemned.is_empty() {
        if ordered {
            if all_ready {
                actions.push(RolloutAction::Delete {
                    ordinal: condemned[0],
                });
            }
        } else {
            actions.extend(
                condemned
                    .into_iter()
                    .map(|ordinal| RolloutAction::Delete { ordinal }),
            );
        }
        return actions;
    }

    let UpdateStrategy::RollingUpdate { partition } = input.strategy else {
        return actions;
    };
    if !all_ready || !actions.is_empty() || input.pods.iter().any(|pod| pod.facts.terminating) {
        return actions;
    }
    let outdated = (partition..input.replicas).rev().find(|ordinal| {
        by_ordinal
            .get(ordinal)
            .is_some_and(|pod| pod.revision != input.update_revision)
    });
    if let Some(ordinal) = outdated {
        actions.push(RolloutAction::Delete { ordinal });
    }
    actions
}

pub fn rollout_status(input: &RolloutInput) -> RolloutStatus {
    let live: Vec<&Replica> = input
        .pods
        .iter()
        .filter(|pod| !pod.facts.phase.is_terminal())
        .collect();
    let count =
        |keep: &dyn Fn(&Replica) -> bool| live.iter().filter(|pod| keep(pod)).count() as i32;
    let replicas = live.len() as i32;
    let ready_replicas = count(&|pod| pod.facts.ready);
    let updated_replicas = count(&|pod| pod.revision == input.update_revision);
    let mut current_replicas = count(&|pod| pod.revision == input.current_revision);
    let mut current_revision = input.current_revision.clone();
    // The rollout is complete once every replica runs the update revision and is Ready.
    let wanted = input.replicas as i32;
    if updated_replicas == wanted && ready_replicas == wanted && replicas == wanted {
        current_revision = input.update_revision.clone();
        current_replicas = updated_replicas;
    }
    RolloutStatus {
        replicas,
        ready_replicas,
        current_replicas,
        updated_replicas,
        current_revision,
    }
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;

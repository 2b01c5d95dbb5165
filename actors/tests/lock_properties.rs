//! Property: across random interleavings of acquire/release/override by several holders, no two grants overlap.
//! A holder that still believes it holds the lock after being overridden is fenced: its epoch is not current.

use chrono::{DateTime, TimeZone, Utc};
use openbao_actors::lock::{AcquireOutcome, AcquireRequest, OperationLock};
use openbao_crds::Operation;
use proptest::prelude::*;

const HOLDERS: usize = 4;

#[derive(Debug, Clone)]
enum Step {
    Acquire { who: usize, op: u8, force: bool },
    Release { who: usize },
    StaleRelease { who: usize, epoch_delta: u8 },
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..HOLDERS, 0u8..3, prop::bool::weighted(0.1)).prop_map(|(who, op, force)| Step::Acquire { who, op, force }),
        4 => (0..HOLDERS).prop_map(|who| Step::Release { who }),
        1 => (0..HOLDERS, 0u8..3).prop_map(|(who, epoch_delta)| Step::StaleRelease { who, epoch_delta }),
        1 => Just(Step::Restart),
    ]
}

fn op(n: u8) -> Operation {
    match n {
        0 => Operation::Backup,
        1 => Operation::Restore,
        _ => Operation::Upgrade,
    }
}

fn at(i: usize) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap()
}

/// 10,000 interleavings in the suite; `LOCK_PROPERTY_CASES` raises it (`scripts/reliability.sh`). Prints a
/// reliability row from the runner's own count.
#[test]
fn no_two_grants_overlap() {
    let cases = std::env::var("LOCK_PROPERTY_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(10_000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let result = runner.run(&prop::collection::vec(step(), 1..60), check_interleaving);
    println!(
        "reliability-row: R6|random lock interleavings (acquire, release, override, stale release, restart)|{cases}|{}",
        u8::from(result.is_err())
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

fn check_interleaving(steps: Vec<Step>) -> Result<(), TestCaseError> {
    {
        let mut lock = OperationLock::default();
        // What each holder believes it holds: (operation, epoch).
        let mut believes: [Option<(Operation, u64)>; HOLDERS] = [None; HOLDERS];
        let mut last_granted_epoch = 0u64;

        for (i, s) in steps.iter().enumerate() {
            match *s {
                Step::Acquire { who, op: o, force } => {
                    let request = AcquireRequest {
                        operation: op(o),
                        holder: format!("h{who}"),
                        message: String::new(),
                        override_existing: force,
                    };
                    let (outcome, next) = lock.acquire(&request, at(i));
                    match outcome {
                        AcquireOutcome::Granted { epoch, preempted } => {
                            let others_current = (0..HOLDERS)
                                .filter(|&o| o != who)
                                .filter(|&o| believes[o].is_some_and(|(_, e)| lock.is_current(e)))
                                .count();
                            prop_assert!(
                                force || others_current == 0,
                                "non-override grant to h{who} while another holder is current"
                            );
                            let displaced_any = (0..HOLDERS).any(|h| {
                                believes[h].is_some_and(|(held_op, e)| {
                                    lock.is_current(e) && !(h == who && held_op == op(o))
                                })
                            });
                            prop_assert_eq!(preempted.is_some(), displaced_any);
                            prop_assert!(epoch >= last_granted_epoch, "epochs never go backwards");
                            last_granted_epoch = epoch;
                            believes[who] = Some((op(o), epoch));
                        }
                        AcquireOutcome::Denied { held_by } => {
                            prop_assert!(!force);
                            prop_assert!(
                                held_by.holder != format!("h{who}") || held_by.operation != op(o),
                                "a holder re-acquiring what it holds is never denied"
                            );
                        }
                    }
                    lock = next;
                }
                Step::Release { who } => {
                    if let Some((_, epoch)) = believes[who].take() {
                        match lock.release(&format!("h{who}"), epoch) {
                            Ok(next) => lock = next,
                            Err(_) => prop_assert!(
                                !lock.is_current(epoch),
                                "a current holder's release must succeed"
                            ),
                        }
                    }
                }
                Step::StaleRelease { who, epoch_delta } => {
                    let epoch = lock.last_epoch().saturating_sub(1 + u64::from(epoch_delta));
                    let before = lock.clone();
                    if lock.release(&format!("h{who}"), epoch).is_ok() {
                        prop_assert!(before.is_current(epoch));
                        believes[who] = None;
                        lock = before.release(&format!("h{who}"), epoch).unwrap();
                    }
                }
                Step::Restart => {
                    // The supervisor restarts and adopts the persisted lock.
                    lock = OperationLock::restored(lock.holding().cloned(), lock.last_epoch());
                }
            }
            let current: Vec<usize> = (0..HOLDERS)
                .filter(|&w| believes[w].is_some_and(|(_, e)| lock.is_current(e)))
                .collect();
            prop_assert!(current.len() <= 1, "two current holders: {current:?}");
            if let Some(&w) = current.first() {
                prop_assert_eq!(
                    lock.holding().map(|h| h.holder.clone()),
                    Some(format!("h{w}"))
                );
            }
        }
    }
    Ok(())
}

//! Background checkpoints (`begin_checkpoint`, `PendingCheckpoint::sync` elsewhere,
//! `finish_checkpoint`), interleaved at random with appends and checkpoints signed on the
//! ledger's thread: a power loss at the end loses nothing acknowledged, the checkpoint log
//! only grows, and the store reopens and verifies (a checkpoint stored before its tiles were
//! durable would leave tiles below it missing after the crash).

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use crate::{at, config_manual, open, record};
use ledger::{
    CheckpointPolicy, CheckpointStatus, Config, Ledger, MemStorage, PendingCheckpoint,
    VerifyOptions, verify,
};

#[derive(Debug, Clone)]
enum Step {
    Append(usize),
    Begin,
    Sync,
    Finish,
    Checkpoint,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1usize..300).prop_map(Step::Append),
        2 => Just(Step::Begin),
        2 => Just(Step::Sync),
        2 => Just(Step::Finish),
        1 => Just(Step::Checkpoint),
    ]
}

/// The tree size of the latest stored checkpoint (the note's second line).
fn checkpointed(ledger: &Ledger) -> u64 {
    ledger
        .latest_checkpoint()
        .map_or(0, |note| note.lines().nth(1).unwrap().parse().unwrap())
}

/// Every new record makes a checkpoint due.
fn config_background() -> Config {
    Config {
        checkpoint: CheckpointPolicy {
            every_records: 1,
            every: Duration::from_secs(1 << 40),
        },
        ..config_manual()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn background_checkpoints_survive_power_loss(
        steps in prop::collection::vec(step(), 1..40),
        keep_fraction in 0.0f64..1.0,
    ) {
        let storage = MemStorage::new();
        let mut ledger = Ledger::open(Arc::new(storage.clone()), config_background()).unwrap();
        ledger.set_background_checkpoints(true);
        let mut all: Vec<Vec<u8>> = Vec::new();
        let mut pending: Option<(PendingCheckpoint, bool)> = None;
        let mut latest = 0u64;
        for (index, step) in steps.iter().enumerate() {
            let now = at(index as u64);
            match step {
                Step::Append(size) => {
                    let batch: Vec<Vec<u8>> =
                        (0..*size).map(|i| record((all.len() + i) as u64, 120)).collect();
                    let receipt = ledger.append_batch(&batch, now).unwrap();
                    // Due, but left to the caller.
                    prop_assert!(matches!(receipt.checkpoint, CheckpointStatus::NotDue));
                    all.extend(batch);
                }
                Step::Begin if pending.is_none() => {
                    if let Some(begun) = ledger.begin_checkpoint(now).unwrap() {
                        prop_assert_eq!(begun.size(), ledger.tree_size());
                        pending = Some((begun, false));
                    } else {
                        prop_assert_eq!(checkpointed(&ledger), ledger.tree_size());
                    }
                }
                Step::Sync => {
                    if let Some((begun, synced)) = pending.as_mut() {
                        begun.sync().unwrap();
                        *synced = true;
                    }
                }
                Step::Finish => {
                    if let Some((begun, synced)) = pending.take() {
                        let size = begun.size();
                        let stored = ledger.finish_checkpoint(begun);
                        if synced {
                            let note = stored.unwrap();
                            prop_assert_eq!(note.is_some(), size > latest);
                            latest = latest.max(size);
                        } else {
                            prop_assert!(stored.is_err(), "a checkpoint whose tiles were not made durable was stored");
                        }
                    }
                }
                Step::Checkpoint => {
                    ledger.checkpoint(now).unwrap();
                    latest = ledger.tree_size();
                }
                Step::Begin => {}
            }
            prop_assert_eq!(checkpointed(&ledger), latest);
        }
        // Power loss with a checkpoint possibly under way.
        drop(pending);
        drop(ledger);
        storage.crash(|_, unsynced| (unsynced as f64 * keep_fraction) as usize);

        let ledger = open(&storage);
        prop_assert_eq!(ledger.tree_size(), all.len() as u64);
        prop_assert_eq!(checkpointed(&ledger), latest);
        let read: Vec<Vec<u8>> = ledger.records(0..u64::MAX).map(|r| r.unwrap().1).collect();
        prop_assert_eq!(&read, &all);
        ledger.close(at(1_000)).unwrap();
        let report = verify(&storage, &VerifyOptions::default()).unwrap();
        prop_assert!(report.is_intact(), "{:?}", report.findings);
    }
}

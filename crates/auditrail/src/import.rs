//! `auditrail import`: decode, normalize, apply the policy, and store durably in the audit
//! trail. Decoding, policy and encoding run on this thread; deduplication and the ledger's
//! hashing, compression and fsync on a writer thread, with a bounded queue between them.
//! Malformed records go raw to the quarantine file. Every record read is accounted for in
//! the summary: stored, duplicate, dropped by policy, or quarantined.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context, Result, anyhow};
use policy::Policy;
use store::{Prepared, QuarantineEntry, Store, StoreOptions};

use crate::cli::{CommonArgs, ImportArgs};
use crate::input::{self, InputStats, ReadOptions};
use crate::limits::IMPORT_QUEUE_BATCHES;
use crate::policy_file::LoadedPolicy;
use crate::{Status, clock};

enum Message {
    Events(Prepared),
    Malformed(Vec<QuarantineEntry>),
}

#[derive(Debug, Default)]
struct Written {
    stored: u64,
    duplicates: u64,
    quarantined: u64,
    tree_size: u64,
}

pub(crate) fn run(args: &ImportArgs, common: &CommonArgs) -> Result<Status> {
    let policy = match &args.policy {
        Some(path) => {
            let loaded = LoadedPolicy::load(path)?;
            loaded.print_warnings();
            loaded.policy
        }
        None => Policy::permissive(),
    };
    let options = StoreOptions {
        origin: args.origin.clone(),
        signing_key: args.signing_key.clone(),
        checkpoint: None,
    };
    let data = &common.data;
    let store = Store::open(data, options, clock::now())
        .with_context(|| format!("cannot open the audit trail in {}", data.display()))?;
    let quarantine_path = store.quarantine_path().to_owned();
    let (sender, receiver) = sync_channel::<Message>(IMPORT_QUEUE_BATCHES);
    // Emptied batches come back to be refilled, so that their buffers are reused.
    let (recycle, recycled) = sync_channel::<Prepared>(IMPORT_QUEUE_BATCHES + 1);
    let verbose = args.verbose;
    let writer = std::thread::spawn(move || write_all(store, receiver, &recycle, verbose));
    let mut dropped = 0u64;
    let read = read(args, common, &policy, (&sender, &recycled), &mut dropped);
    drop(sender);
    let written = writer
        .join()
        .map_err(|_| anyhow!("the writer thread panicked"))?;
    let ((store, written), stats) = match (written, read) {
        (Err(error), _) => {
            return Err(error.context(format!("storing events in {} failed", data.display())));
        }
        (Ok(_), Err(error)) => return Err(error),
        (Ok(pair), Ok(stats)) => (pair, stats),
    };
    let mut store = store;
    if !args.no_compact {
        compact(&mut store, common.quiet)?;
    }
    store
        .close(clock::now())
        .context("cannot write the final checkpoint")?;
    if !common.quiet {
        input::eprintln_clear(&summary(&stats, &written, dropped, &quarantine_path));
    }
    Ok(if stats.malformed > 0 {
        Status::BadInput
    } else {
        Status::Success
    })
}

fn read(
    args: &ImportArgs,
    common: &CommonArgs,
    policy: &Policy,
    (sender, recycled): (&SyncSender<Message>, &Receiver<Prepared>),
    dropped: &mut u64,
) -> Result<InputStats> {
    let options = {
        let mut options =
            ReadOptions::new(args.format.input_format(), common.quiet, &args.accounts)?;
        options.keep_malformed = true;
        options
    };
    let writer_gone = || anyhow!("the writer stopped");
    input::read_inputs(&args.inputs, options, |batch| {
        if !batch.malformed.is_empty() {
            sender
                .send(Message::Malformed(std::mem::take(&mut batch.malformed)))
                .map_err(|_| writer_gone())?;
        }
        let mut prepared = recycled.try_recv().unwrap_or_default();
        for event in &mut batch.events {
            if policy.apply(event).is_kept() {
                prepared.push(event);
            } else {
                *dropped += 1;
            }
        }
        if !prepared.is_empty() {
            sender
                .send(Message::Events(prepared))
                .map_err(|_| writer_gone())?;
        }
        Ok(())
    })
}

fn write_all(
    mut store: Store,
    receiver: Receiver<Message>,
    recycle: &SyncSender<Prepared>,
    verbose: bool,
) -> Result<(Store, Written)> {
    let mut written = Written {
        tree_size: store.ledger().tree_size(),
        ..Written::default()
    };
    for message in receiver {
        match message {
            Message::Events(mut prepared) => {
                let outcome = store.append(&prepared, clock::now())?;
                prepared.clear();
                // The reader may have stopped; a batch not taken back is simply dropped.
                let _ = recycle.try_send(prepared);
                written.stored += outcome.stored;
                written.duplicates += outcome.duplicates;
                written.tree_size = outcome.tree_size;
                if verbose {
                    input::eprintln_clear(&format!(
                        "stored: trail holds {} records",
                        outcome.tree_size
                    ));
                }
            }
            Message::Malformed(entries) => {
                store.quarantine(&entries, clock::now())?;
                written.quarantined += entries.len() as u64;
            }
        }
    }
    Ok((store, written))
}

/// Converts the sealed ledger segments to the columnar index (the one copy at rest), with a
/// progress bar on a terminal.
fn compact(store: &mut Store, quiet: bool) -> Result<()> {
    let pending = store.compactable();
    if pending.is_empty() {
        return Ok(());
    }
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::with_draw_target(
            Some(pending.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        )
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "indexing {bar:30} {pos}/{len} segments, {msg} [{elapsed}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    store
        .compact(clock::now(), |done| {
            bar.set_position(done.segments);
            bar.set_message(format!("{} events", done.events));
        })
        .context("cannot convert sealed segments to the columnar index; the events are safe in the ledger, the next import retries")?;
    bar.finish_and_clear();
    Ok(())
}

fn summary(
    stats: &InputStats,
    written: &Written,
    dropped: u64,
    quarantine: &std::path::Path,
) -> String {
    let mut text = format!(
        "auditrail import: {} events read from {} input{} ({} bytes): {} stored, {} duplicates skipped, {} dropped by policy",
        stats.events,
        stats.inputs,
        if stats.inputs == 1 { "" } else { "s" },
        stats.bytes,
        written.stored,
        written.duplicates,
        dropped,
    );
    if stats.malformed > 0 {
        text.push_str(&format!(
            "; {} malformed records quarantined in {}",
            written.quarantined,
            quarantine.display()
        ));
    }
    text.push_str(&stats.skipped_note());
    text.push_str(&format!("; the trail holds {} records", written.tree_size));
    text
}

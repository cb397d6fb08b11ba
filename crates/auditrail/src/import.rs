//! `auditrail import`: decode, normalize, apply the policy, and store durably in the audit
//! trail. Decoding, policy and encoding run on every core ([`input::read_inputs_parallel`]);
//! deduplication and the ledger's hashing, compression and fsync on this thread, in input
//! order. Malformed records go raw to the quarantine file. Every record read is accounted for
//! in the summary: stored, duplicate, dropped by policy, or quarantined.

use std::sync::Mutex;

use anyhow::{Context, Result};
use policy::Policy;
use store::{Prepared, QuarantineEntry, Store, StoreOptions};

use crate::cli::{CommonArgs, ImportArgs};
use crate::input::{self, Batch, InputStats, Process, ReadOptions};
use crate::limits::IMPORT_PIECES_IN_FLIGHT;
use crate::policy_file::LoadedPolicy;
use crate::{Status, clock};

/// One piece of input after the policy: what to store and what to quarantine.
struct Kept {
    prepared: Prepared,
    dropped: u64,
    malformed: Vec<QuarantineEntry>,
}

#[derive(Debug, Default)]
struct Written {
    stored: u64,
    duplicates: u64,
    quarantined: u64,
    dropped: u64,
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
    let mut store = Store::open(data, options, clock::now())
        .with_context(|| format!("cannot open the audit trail in {}", data.display()))?;
    let quarantine_path = store.quarantine_path().to_owned();
    let read_options = {
        let mut options =
            ReadOptions::new(args.format.input_format(), common.quiet, &args.accounts)?;
        options.keep_malformed = true;
        options
    };
    // Emptied batches come back to be refilled, so that their buffers are reused.
    let free: Mutex<Vec<Prepared>> = Mutex::new(Vec::new());
    let keep = Keep {
        policy: &policy,
        free: &free,
    };
    let mut written = Written {
        tree_size: store.ledger().tree_size(),
        ..Written::default()
    };
    let stats = input::read_inputs_parallel(&args.inputs, read_options, &keep, |kept| {
        store_batch(&mut store, kept, &free, &mut written, args.verbose)
            .with_context(|| format!("storing events in {} failed", data.display()))
    })?;
    if !args.no_compact {
        compact(&mut store, common.quiet)?;
    }
    store
        .close(clock::now())
        .context("cannot write the final checkpoint")?;
    if !common.quiet {
        input::eprintln_clear(&summary(&stats, &written, &quarantine_path));
    }
    Ok(if stats.malformed > 0 {
        Status::BadInput
    } else {
        Status::Success
    })
}

/// Applies the policy and encodes what it keeps (on the decode workers).
struct Keep<'a> {
    policy: &'a Policy,
    /// Emptied batches, back from the writer.
    free: &'a Mutex<Vec<Prepared>>,
}

impl Process for Keep<'_> {
    type Output = Kept;

    fn start(&self) -> Kept {
        let prepared = self
            .free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default();
        Kept {
            prepared,
            dropped: 0,
            malformed: Vec::new(),
        }
    }

    fn add(&self, batch: &mut Batch, kept: &mut Kept) {
        for event in &mut batch.events {
            if self.policy.apply(event).is_kept() {
                kept.prepared.push(event);
            } else {
                kept.dropped += 1;
            }
        }
        kept.malformed.append(&mut batch.malformed);
    }
}

/// Quarantines and stores one batch, in input order (on the calling thread).
fn store_batch(
    store: &mut Store,
    kept: Kept,
    free: &Mutex<Vec<Prepared>>,
    written: &mut Written,
    verbose: bool,
) -> Result<()> {
    let Kept {
        mut prepared,
        dropped,
        malformed,
    } = kept;
    written.dropped += dropped;
    if !malformed.is_empty() {
        store.quarantine(&malformed, clock::now())?;
        written.quarantined += malformed.len() as u64;
    }
    if !prepared.is_empty() {
        let outcome = store.append(&prepared, clock::now())?;
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
    prepared.clear();
    if let Ok(mut free) = free.lock()
        && free.len() < IMPORT_PIECES_IN_FLIGHT + 2
    {
        free.push(prepared);
    }
    Ok(())
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

fn summary(stats: &InputStats, written: &Written, quarantine: &std::path::Path) -> String {
    let mut text = format!(
        "auditrail import: {} events read from {} input{} ({} bytes): {} stored, {} duplicates skipped, {} dropped by policy",
        stats.events,
        stats.inputs,
        if stats.inputs == 1 { "" } else { "s" },
        stats.bytes,
        written.stored,
        written.duplicates,
        written.dropped,
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

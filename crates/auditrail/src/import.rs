//! `auditrail import`: decode, normalize, apply the policy, and store durably in the audit
//! trail. Decoding, policy and encoding run on every core ([`input::read_inputs_parallel`]);
//! deduplication and the columns of the index segment being filled on this thread, in input
//! order; each full segment is written, checked and hashed on a thread of its own and then
//! taken by the ledger ([`store::Loader`]): events go straight to their final, columnar form.
//! With `--no-compact` they go to the ledger's row form instead (hashing, compression and
//! fsync on this thread). Malformed records go raw to the quarantine file. Every record read
//! is accounted for in the summary: stored, duplicate, dropped by policy, or quarantined.

use std::sync::Mutex;

use anyhow::{Context, Result};
use event::AuditEvent;
use formats::Decoder;
use formats::frame::Line;
use policy::Policy;
use store::{Loader, Prepared, QuarantineEntry, Store, StoreOptions};

use crate::cli::{CommonArgs, ImportArgs};
use crate::input::{self, Batch, InputStats, Process, ReadOptions};
use crate::limits::IMPORT_PIECES_IN_FLIGHT;
use crate::policy_file::LoadedPolicy;
use crate::{Status, clock};

/// One piece of input after the policy: what to store and what to quarantine.
struct Kept {
    prepared: Prepared,
    /// The events kept, when they go to the columnar form directly.
    events: Vec<AuditEvent>,
    dropped: u64,
    malformed: Vec<QuarantineEntry>,
    /// Lines of this piece peeked at, and how many of them the peek spared decoding.
    peeked: u32,
    spared: u32,
}

/// Lines of a piece peeked at before deciding whether peeking pays there: when the policy
/// drops fewer than one in [`PEEK_PAYS_ONE_IN`] of them (no policy, or one that keeps nearly
/// everything), the rest of the piece is decoded without a peek. Either way gives the same
/// outcome; only the time differs.
const PEEK_PROBE_LINES: u32 = 64;
const PEEK_PAYS_ONE_IN: u32 = 8;

#[derive(Debug, Default)]
struct Written {
    stored: u64,
    duplicates: u64,
    quarantined: u64,
    dropped: u64,
    tree_size: u64,
}

pub(crate) fn run(args: &ImportArgs, common: &CommonArgs) -> Result<Status> {
    crate::prefer_small_pages();
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
    let free: Free = Mutex::new(Vec::new());
    let keep = Keep {
        policy: &policy,
        free: &free,
        events: !args.no_compact,
    };
    let mut written = Written {
        tree_size: store.ledger().tree_size(),
        ..Written::default()
    };
    let stats = if args.no_compact {
        input::read_inputs_parallel(&args.inputs, read_options, &keep, |kept| {
            store_batch(&mut store, kept, &free, &mut written, args.verbose)
                .with_context(|| format!("storing events in {} failed", data.display()))
        })?
    } else {
        let mut loader = store.loader();
        let stats = input::read_inputs_parallel(&args.inputs, read_options, &keep, |kept| {
            load_batch(&mut loader, kept, &free, &mut written, args.verbose)
                .with_context(|| format!("storing events in {} failed", data.display()))
        })?;
        let outcome = loader
            .finish(clock::now())
            .with_context(|| format!("storing events in {} failed", data.display()))?;
        note_loaded(&mut written, outcome, args.verbose);
        compact(&mut store, common.quiet)?;
        stats
    };
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

/// Emptied batches (records and events), back from the writer to be refilled.
type Free = Mutex<Vec<(Prepared, Vec<AuditEvent>)>>;

/// Applies the policy and encodes what it keeps (on the decode workers).
struct Keep<'a> {
    policy: &'a Policy,
    /// Emptied batches, back from the writer.
    free: &'a Free,
    /// Whether the kept events go along with their records (for the columnar form).
    events: bool,
}

impl Process for Keep<'_> {
    type Output = Kept;

    fn start(&self) -> Kept {
        let (prepared, events) = self
            .free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default();
        Kept {
            prepared,
            events,
            dropped: 0,
            malformed: Vec::new(),
            peeked: 0,
            spared: 0,
        }
    }

    fn add(&self, batch: &mut Batch, kept: &mut Kept) {
        let before = batch.events.len();
        batch
            .events
            .retain_mut(|event| self.policy.apply(event).is_kept());
        kept.dropped += (before - batch.events.len()) as u64;
        for event in &batch.events {
            kept.prepared.push(event);
        }
        if self.events {
            // The bulk load keeps only the records' leaf hashes: hashed here, on every core.
            kept.prepared.hash_leaves();
            kept.events.append(&mut batch.events);
        }
        kept.malformed.append(&mut batch.malformed);
    }

    /// A Kubernetes event the policy drops is counted from a cheap view of its line, never
    /// decoded: the view answers only for a line that decodes to one event without any
    /// diagnostic, and the policy's drop decision reads nothing but its attributes.
    /// The view stops early for an event the attributes read before its bodies keep.
    fn skip(&self, decoder: &Decoder, line: &Line<'_>, kept: &mut Kept) -> bool {
        if kept.peeked >= PEEK_PROBE_LINES && kept.spared * PEEK_PAYS_ONE_IN < kept.peeked {
            return false;
        }
        kept.peeked += 1;
        let drops =
            |attributes: &event::Attributes<'_>| self.policy.drop_verdict(attributes).is_some();
        let dropped = decoder
            .peek_unless(line, &mut |attributes| drops(attributes))
            .is_some_and(|peek| drops(&peek.attributes()));
        kept.dropped += u64::from(dropped);
        kept.spared += u32::from(dropped);
        dropped
    }
}

/// Quarantines and stores one batch, in input order (on the calling thread).
fn store_batch(
    store: &mut Store,
    kept: Kept,
    free: &Free,
    written: &mut Written,
    verbose: bool,
) -> Result<()> {
    let Kept {
        prepared,
        mut events,
        dropped,
        malformed,
        ..
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
    recycle(free, prepared, std::mem::take(&mut events));
    Ok(())
}

/// Gives emptied buffers back for the next piece.
fn recycle(free: &Free, mut prepared: Prepared, mut events: Vec<AuditEvent>) {
    prepared.clear();
    events.clear();
    if let Ok(mut free) = free.lock()
        && free.len() < IMPORT_PIECES_IN_FLIGHT + 2
    {
        free.push((prepared, events));
    }
}

/// Quarantines one batch and hands its events to the bulk load, in input order (on the
/// calling thread).
fn load_batch(
    loader: &mut Loader<'_>,
    kept: Kept,
    free: &Free,
    written: &mut Written,
    verbose: bool,
) -> Result<()> {
    let Kept {
        prepared,
        events,
        dropped,
        malformed,
        ..
    } = kept;
    written.dropped += dropped;
    if !malformed.is_empty() {
        loader.quarantine(&malformed, clock::now())?;
        written.quarantined += malformed.len() as u64;
    }
    if !prepared.is_empty() {
        let outcome = loader.append(&prepared, &events, clock::now())?;
        note_loaded(written, outcome, verbose);
    }
    recycle(free, prepared, events);
    Ok(())
}

/// Counts what a bulk load has stored; with `verbose`, says so each time more became
/// durable.
fn note_loaded(written: &mut Written, outcome: store::LoadOutcome, verbose: bool) {
    written.duplicates = outcome.duplicates;
    if outcome.tree_size != written.tree_size {
        written.stored = outcome.stored;
        written.tree_size = outcome.tree_size;
        if verbose {
            input::eprintln_clear(&format!(
                "stored: trail holds {} records",
                outcome.tree_size
            ));
        }
    }
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

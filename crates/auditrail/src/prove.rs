//! `auditrail prove` and `auditrail checkpoint`: evidence that an event is in the trail, and
//! the signed statement of what the trail holds.

use std::io::Write;

use anyhow::{Context, Result, bail};
use store::{Store, StoreOptions};

use crate::cli::{CommonArgs, ProofOutput, ProveArgs};
use crate::{Status, clock};

pub(crate) fn run(args: &ProveArgs, common: &CommonArgs) -> Result<Status> {
    let data = &common.data;
    if !data.join("store.json").is_file() {
        bail!(
            "no audit trail in {}: check --data, or import events first",
            data.display()
        );
    }
    let mut store = Store::open(data, StoreOptions::default(), clock::now())
        .with_context(|| format!("cannot open the audit trail in {}", data.display()))?;
    let tree_size = store.ledger().tree_size();
    let seqs = store::resolve_event(&args.event_id, tree_size, |id| store.find_id(id))?;
    if seqs.is_empty() {
        bail!(
            "no event {:?} in the trail ({tree_size} records): give a sequence number below {tree_size} or an event id",
            args.event_id
        );
    }
    let proofs = store
        .prove_events(&seqs, clock::now())
        .context("cannot prove the event")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for proof in proofs {
        match args.output {
            ProofOutput::Text => {
                writeln!(out, "event {}:", proof.seq)?;
                out.write_all(&proof.record)?;
                writeln!(out)?;
                writeln!(out)?;
                write!(out, "{}", proof.proof.to_tlog_proof())?;
                writeln!(out)?;
            }
            ProofOutput::Json => {
                writeln!(out, "{}", proof.to_json())?;
            }
        }
    }
    out.flush()?;
    drop(out);
    store.close(clock::now())?;
    Ok(Status::Success)
}

/// `auditrail checkpoint`: the latest signed checkpoint, as stored.
pub(crate) fn print_checkpoint(common: &CommonArgs) -> Result<Status> {
    let Some(text) = store::latest_checkpoint(&common.data)? else {
        bail!(
            "no checkpoint in {}: check --data, or import events first",
            common.data.display()
        );
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(Status::Success)
}

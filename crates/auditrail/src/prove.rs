//! `auditrail prove` and `auditrail checkpoint`: evidence that an event is in the trail, and
//! the signed statement of what the trail holds.

use std::io::Write;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use store::{Store, StoreOptions};

use crate::cli::{CommonArgs, ProofOutput, ProveArgs};
use crate::{Status, clock};

#[derive(Serialize)]
struct ProofView {
    seq: u64,
    /// The exact ledger record (the proof's leaf is SHA-256(0x00 ‖ record)).
    record: String,
    /// The same record parsed: the event in auditrail's normalized form.
    event: serde_json::Value,
    proof: serde_json::Value,
}

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
    let seqs = match args.event_id.parse::<u64>() {
        Ok(seq) if seq < tree_size => vec![seq],
        _ => store.find_id(&args.event_id)?,
    };
    if seqs.is_empty() {
        bail!(
            "no event {:?} in the trail ({tree_size} records): give a sequence number below {tree_size} or an event id",
            args.event_id
        );
    }
    let covered = store
        .ledger()
        .latest_checkpoint()
        .and_then(|text| ledger::Checkpoint::parse_unverified(text).ok())
        .is_some_and(|checkpoint| seqs.iter().all(|seq| *seq < checkpoint.size));
    if !covered {
        store
            .checkpoint(clock::now())
            .context("cannot sign a checkpoint covering the event")?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for seq in seqs {
        let record = store.ledger().read(seq)?;
        let proof = store.ledger().prove(seq)?;
        proof
            .verify(&record, &store.ledger().verifier())
            .context("the proof does not verify")?;
        match args.output {
            ProofOutput::Text => {
                writeln!(out, "event {seq}:")?;
                out.write_all(&record)?;
                writeln!(out)?;
                writeln!(out)?;
                write!(out, "{}", proof.to_tlog_proof())?;
                writeln!(out)?;
            }
            ProofOutput::Json => {
                let view = ProofView {
                    seq,
                    record: String::from_utf8_lossy(&record).into_owned(),
                    event: serde_json::from_slice(&record).unwrap_or(serde_json::Value::Null),
                    proof: serde_json::from_str(&proof.to_json())?,
                };
                serde_json::to_writer(&mut out, &view)?;
                writeln!(out)?;
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

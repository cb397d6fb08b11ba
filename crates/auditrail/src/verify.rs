//! `auditrail verify`: recompute every leaf, tile, checkpoint signature and consistency proof
//! of the audit trail, and the index files, without changing anything. Exit 1 on a finding.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use ledger::VerifyOptions;
use serde::Serialize;

use crate::cli::{CommonArgs, ReportOutput, VerifyArgs};
use crate::limits::NOTE_FILE_BYTES_MAX;
use crate::{Status, clock};

#[derive(Serialize)]
struct Report<'a> {
    data: String,
    intact: bool,
    records: u64,
    checkpoints: usize,
    external_checkpoints: usize,
    tiles: u64,
    index_files: u64,
    segment_bytes: u64,
    seconds: f64,
    findings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_checkpoint: Option<&'a str>,
}

pub(crate) fn run(args: &VerifyArgs, common: &CommonArgs) -> Result<Status> {
    crate::prefer_small_pages();
    let mut options = VerifyOptions::default();
    for path in &args.checkpoint {
        options
            .external_checkpoints
            .push(read_note(path, "checkpoint")?);
    }
    if let Some(path) = &args.verifier_key {
        options.verifier_key = Some(read_note(path, "verifier key")?.trim().to_owned());
    }
    let started = clock::instant();
    let report = store::verify(&common.data, &options)
        .with_context(|| format!("cannot verify the audit trail in {}", common.data.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let latest = store::latest_checkpoint(&common.data).ok().flatten();
    let view = Report {
        data: common.data.display().to_string(),
        intact: report.is_intact(),
        records: report.ledger.records_checked,
        checkpoints: report.ledger.checkpoints_checked,
        external_checkpoints: options.external_checkpoints.len(),
        tiles: report.ledger.tiles_checked,
        index_files: report.index_files_checked,
        segment_bytes: report.ledger.segment_bytes,
        seconds,
        findings: report.findings.iter().map(ToString::to_string).collect(),
        latest_checkpoint: latest.as_deref(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        ReportOutput::Json => {
            serde_json::to_writer_pretty(&mut out, &view)?;
            writeln!(out)?;
        }
        ReportOutput::Table => {
            if view.intact {
                writeln!(out, "intact: the audit trail in {} verifies", view.data)?;
            } else {
                writeln!(
                    out,
                    "TAMPERED: {} findings in {}",
                    view.findings.len(),
                    view.data
                )?;
                for finding in &view.findings {
                    writeln!(out, "  {finding}")?;
                }
            }
            let records_per_second = view.records as f64 / seconds.max(1e-9);
            writeln!(
                out,
                "checked {} records, {} stored and {} external checkpoints, {} tiles, {} index files, {} compressed segment bytes in {:.2} s ({:.0} records/s)",
                view.records,
                view.checkpoints,
                view.external_checkpoints,
                view.tiles,
                view.index_files,
                view.segment_bytes,
                seconds,
                records_per_second
            )?;
            if view.external_checkpoints == 0 {
                writeln!(
                    out,
                    "note: only stored checkpoints were checked; keep `auditrail checkpoint` output elsewhere and pass it with --checkpoint to detect truncation and rollback"
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if view.intact {
        Status::Success
    } else {
        Status::Finding
    })
}

fn read_note(path: &Path, what: &str) -> Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {what} file {}", path.display()))?;
    let mut text = String::new();
    file.take(NOTE_FILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} file {}", path.display()))?;
    if text.len() as u64 > NOTE_FILE_BYTES_MAX {
        anyhow::bail!(
            "{what} file {} is larger than {NOTE_FILE_BYTES_MAX} bytes",
            path.display()
        );
    }
    Ok(text)
}

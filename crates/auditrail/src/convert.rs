//! `auditrail convert`: decode, normalize, apply the policy, encode to standard output.
//! Nothing is stored.

use std::io::Write;

use anyhow::{Context, Result};
use event::AuditEvent;

use crate::Status;
use crate::cli::{CommonArgs, ConvertArgs, ToFormat};
use crate::input::{self, InputStats, ReadOptions};
use crate::limits::WRITE_BUFFER_BYTES;
use crate::policy_file::LoadedPolicy;

/// What `convert` did, for the summary line.
#[derive(Debug, Default)]
struct Totals {
    dropped: u64,
    written: u64,
}

pub(crate) fn run(args: &ConvertArgs, common: &CommonArgs) -> Result<Status> {
    let policy = args.policy.as_deref().map(LoadedPolicy::load).transpose()?;
    if let Some(policy) = &policy {
        policy.print_warnings();
    }
    let encode: fn(&AuditEvent, &mut Vec<u8>) = match args.to {
        ToFormat::K8s => formats::k8s::encode,
        ToFormat::Jsonl => formats::jsonl::encode,
        ToFormat::Ecs => formats::ecs::encode,
    };
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let mut out = Vec::with_capacity(WRITE_BUFFER_BYTES + WRITE_BUFFER_BYTES / 4);
    let mut totals = Totals::default();
    let stats = input::read_inputs(
        &args.inputs,
        {
            let mut options =
                ReadOptions::new(args.from.input_format(), common.quiet, &args.accounts)?;
            options.keep_malformed = false;
            options
        },
        |batch| {
            for event in &mut batch.events {
                let kept = policy
                    .as_ref()
                    .is_none_or(|policy| policy.policy.apply(event).is_kept());
                if !kept {
                    totals.dropped += 1;
                    continue;
                }
                encode(event, &mut out);
                totals.written += 1;
            }
            if out.len() >= WRITE_BUFFER_BYTES {
                stdout
                    .write_all(&out)
                    .context("cannot write to standard output")?;
                out.clear();
            }
            Ok(())
        },
    )?;
    stdout
        .write_all(&out)
        .context("cannot write to standard output")?;
    stdout.flush().context("cannot write to standard output")?;
    if !common.quiet {
        input::eprintln_clear(&summary(&stats, &totals));
    }
    Ok(if stats.malformed > 0 {
        Status::BadInput
    } else {
        Status::Success
    })
}

fn summary(stats: &InputStats, totals: &Totals) -> String {
    let mut text = format!(
        "auditrail convert: {} events read from {} input{} ({} bytes); {} dropped by policy; {} written",
        stats.events,
        stats.inputs,
        if stats.inputs == 1 { "" } else { "s" },
        stats.bytes,
        totals.dropped,
        totals.written,
    );
    if stats.malformed > 0 {
        text.push_str(&format!(
            "; {} malformed records reported above",
            stats.malformed
        ));
    }
    text.push_str(&stats.skipped_note());
    if stats.warnings > 0 {
        text.push_str(&format!("; {} warnings", stats.warnings));
    }
    text
}

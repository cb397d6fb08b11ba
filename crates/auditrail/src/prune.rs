//! `auditrail prune`: retention. Removes the oldest sealed segments whose events are all older
//! than a cutoff (`--before TIME`, `--max-age DUR`) or that exceed a size budget
//! (`--max-bytes`), through the store and the ledger, which keep what proofs and `verify`
//! need and append a signed prune record to the trail. `--dry-run` only shows the plan.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use event::Timestamp;
use serde::Serialize;
use store::{PruneCriteria, PrunePlan, Store, StoreOptions};

use crate::cli::{CommonArgs, PruneArgs, ReportOutput};
use crate::{Status, clock};

/// Longest duration accepted (about 1,000 years), so that `now - duration` cannot overflow.
const DURATION_SECONDS_MAX: u64 = 1000 * 366 * 24 * 3600;

#[derive(Serialize)]
struct View {
    data: String,
    dry_run: bool,
    cutoff: Option<String>,
    max_bytes: Option<u64>,
    reason: String,
    segments: usize,
    records: u64,
    bytes: u64,
    first_seq_before: u64,
    first_seq_after: u64,
    kept_segments: usize,
    kept_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tiles_removed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prune_record_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<String>,
    removed: Vec<String>,
}

pub(crate) fn run(args: &PruneArgs, common: &CommonArgs) -> Result<Status> {
    let now = clock::now();
    let mut cutoff = None;
    if let Some(text) = &args.before {
        cutoff = Some(parse_time(text, now).with_context(|| format!("--before {text}"))?);
    }
    if let Some(text) = &args.max_age {
        let age = parse_duration(text).with_context(|| format!("--max-age {text}"))?;
        let at = ago(now, age);
        cutoff = Some(cutoff.map_or(at, |other: Timestamp| other.max(at)));
    }
    let max_bytes = match &args.max_bytes {
        Some(text) => Some(parse_bytes(text).with_context(|| format!("--max-bytes {text}"))?),
        None => None,
    };
    if cutoff.is_none() && max_bytes.is_none() {
        bail!("say what to prune: --before TIME, --max-age DUR or --max-bytes BYTES");
    }
    let reason = args
        .reason
        .clone()
        .unwrap_or_else(|| default_reason(cutoff, max_bytes));

    let data = &common.data;
    if !data.join("store.json").is_file() {
        bail!(
            "no audit trail in {}: check --data, or import events first",
            data.display()
        );
    }
    let options = StoreOptions {
        signing_key: args.signing_key.clone(),
        ..StoreOptions::default()
    };
    let mut store = Store::open(data, options, now)
        .with_context(|| format!("cannot open the audit trail in {}", data.display()))?;
    let criteria = PruneCriteria {
        before: cutoff,
        max_bytes,
    };
    let plan = store
        .plan_prune(&criteria)
        .context("cannot read the segments to prune")?;
    let mut view = view(args, common, &plan, cutoff, max_bytes, &reason);
    if !args.dry_run && !plan.is_empty() {
        let outcome = store
            .prune(&plan, &reason, now)
            .context("pruning failed; run it again (an interrupted prune is completed)")?;
        if let Some(outcome) = outcome {
            view.tiles_removed = Some(outcome.tiles_removed);
            view.prune_record_seq = Some(outcome.record_seq);
            view.checkpoint = Some(outcome.checkpoint);
        }
    }
    store
        .close(clock::now())
        .context("cannot write the final checkpoint")?;
    print(&view, args.output, common.quiet)?;
    Ok(Status::Success)
}

fn view(
    args: &PruneArgs,
    common: &CommonArgs,
    plan: &PrunePlan,
    cutoff: Option<Timestamp>,
    max_bytes: Option<u64>,
    reason: &str,
) -> View {
    View {
        data: common.data.display().to_string(),
        dry_run: args.dry_run,
        cutoff: cutoff.map(Timestamp::to_rfc3339),
        max_bytes,
        reason: reason.to_owned(),
        segments: plan.segments.len(),
        records: plan.records,
        bytes: plan.bytes,
        first_seq_before: plan.first_seq,
        first_seq_after: plan.before_seq,
        kept_segments: plan.kept_segments,
        kept_bytes: plan.kept_bytes,
        tiles_removed: None,
        prune_record_seq: None,
        checkpoint: None,
        removed: plan.segments.iter().map(|s| s.path.clone()).collect(),
    }
}

fn print(view: &View, output: ReportOutput, quiet: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        ReportOutput::Json => {
            serde_json::to_writer_pretty(&mut out, view)?;
            writeln!(out)?;
        }
        ReportOutput::Table if quiet => {}
        ReportOutput::Table => {
            let verb = if view.dry_run {
                "would remove"
            } else {
                "removed"
            };
            if view.segments == 0 {
                writeln!(
                    out,
                    "auditrail prune: nothing to prune in {} ({} segments, {} bytes kept; only whole sealed segments go, never the last one)",
                    view.data, view.kept_segments, view.kept_bytes
                )?;
            } else {
                writeln!(
                    out,
                    "auditrail prune: {verb} {} segments, {} records ({} .. {}), {} bytes from {}; {} segments, {} bytes kept",
                    view.segments,
                    view.records,
                    view.first_seq_before,
                    view.first_seq_after,
                    view.bytes,
                    view.data,
                    view.kept_segments,
                    view.kept_bytes
                )?;
                if let (Some(seq), Some(tiles)) = (view.prune_record_seq, view.tiles_removed) {
                    writeln!(
                        out,
                        "signed prune record at {seq} ({tiles} level-0 tiles removed); the trail keeps records from {} on",
                        view.first_seq_after
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn default_reason(cutoff: Option<Timestamp>, max_bytes: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(cutoff) = cutoff {
        parts.push(format!("events before {}", cutoff.to_rfc3339()));
    }
    if let Some(max) = max_bytes {
        parts.push(format!("segments above {max} bytes"));
    }
    format!("auditrail prune: {}", parts.join(", "))
}

/// RFC 3339, or a duration before `now`.
fn parse_time(text: &str, now: SystemTime) -> Result<Timestamp> {
    if let Ok(time) = Timestamp::parse(text) {
        return Ok(time);
    }
    match parse_duration(text) {
        Ok(age) => Ok(ago(now, age)),
        Err(_) => {
            bail!("expected an RFC 3339 time (2025-01-31T00:00:00Z) or a duration ago (30d, 12h)")
        }
    }
}

fn ago(now: SystemTime, age: Duration) -> Timestamp {
    let at = now.checked_sub(age).unwrap_or(UNIX_EPOCH);
    let nanos = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Timestamp::from_unix_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// `30d`, `12h`, `90m`, `45s`, `2w`, or several: `1d12h`.
fn parse_duration(text: &str) -> Result<Duration> {
    let mut seconds: u64 = 0;
    let mut number = String::new();
    let mut parts = 0;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => bail!("unknown duration unit {c:?}: use s, m, h, d or w"),
        };
        let value: u64 = number
            .parse()
            .map_err(|_| anyhow::anyhow!("a number must come before {c:?}"))?;
        seconds = value
            .checked_mul(unit)
            .and_then(|part| seconds.checked_add(part))
            .filter(|total| *total <= DURATION_SECONDS_MAX)
            .ok_or_else(|| anyhow::anyhow!("duration too long"))?;
        number.clear();
        parts += 1;
    }
    if !number.is_empty() || parts == 0 {
        bail!("expected a duration such as 30d, 12h or 1d12h");
    }
    Ok(Duration::from_secs(seconds))
}

/// `1000000`, `512K`, `10M`, `2G`, `1T` (powers of 1024; a trailing `B`/`iB` is allowed).
fn parse_bytes(text: &str) -> Result<u64> {
    let upper = text.trim().to_ascii_uppercase();
    let bare = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, scale) = match bare.chars().last() {
        Some('K') => (&bare[..bare.len() - 1], 1u64 << 10),
        Some('M') => (&bare[..bare.len() - 1], 1 << 20),
        Some('G') => (&bare[..bare.len() - 1], 1 << 30),
        Some('T') => (&bare[..bare.len() - 1], 1 << 40),
        _ => (bare, 1),
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| anyhow::anyhow!("expected a byte count such as 500M or 1073741824"))?;
    value
        .checked_mul(scale)
        .ok_or_else(|| anyhow::anyhow!("byte count too large"))
}

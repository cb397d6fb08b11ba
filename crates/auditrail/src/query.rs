//! `auditrail query`: the events that match the filters, newest first, from the data
//! directory, read-only (it works beside a running server and takes no lock).

use std::io::Write;

use anyhow::{Context, Result};
use event::{AuditEvent, Timestamp};
use index::table::Rows;
use index::{Filter, FilterText};

use crate::cli::{CommonArgs, FilterArgs, QueryArgs, QueryOutput, ReportFormat};
use crate::{Status, clock, follow, report};

pub(crate) fn run(args: &QueryArgs, common: &CommonArgs) -> Result<Status> {
    crate::prefer_small_pages();
    let filter = filter(&args.filters)?;
    if args.follow {
        return follow::run(args, common);
    }
    let dataset = store::open_dataset(&common.data)
        .with_context(|| format!("cannot read the audit trail in {}", common.data.display()))?;
    let result = dataset
        .query(&filter, args.limit)
        .context("the query failed")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let events: Vec<&AuditEvent> = result.events.iter().map(|(_, event)| event).collect();
    match args.output {
        QueryOutput::Table => report::write(&mut out, &rows(&events), ReportFormat::Table)?,
        QueryOutput::Json => {
            serde_json::to_writer_pretty(&mut out, &events)?;
            writeln!(out)?;
        }
        QueryOutput::Jsonl | QueryOutput::K8s => {
            let encode = if args.output == QueryOutput::K8s {
                formats::k8s::encode
            } else {
                formats::jsonl::encode
            };
            let mut buffer = Vec::new();
            for event in &events {
                encode(event, &mut buffer);
            }
            out.write_all(&buffer)?;
        }
        QueryOutput::Csv => report::write(&mut out, &rows(&events), ReportFormat::Csv)?,
    }
    out.flush()?;
    if !common.quiet {
        if events.is_empty() {
            crate::input::eprintln_clear(
                "no events match: widen the time range (--since 7d) or loosen the filters",
            );
        } else if result.truncated {
            crate::input::eprintln_clear(&format!(
                "showing the newest {} matching events; raise --limit for more",
                events.len()
            ));
        }
    }
    Ok(Status::Success)
}

/// The flags as the library's filter text (the API's query parameters parse the same way).
pub(crate) fn filter_text(args: &FilterArgs) -> FilterText {
    FilterText {
        since: args.since.clone(),
        until: args.until.clone(),
        user: args.user.clone(),
        verb: args.verb.clone(),
        resource: args.resource.clone(),
        namespace: args.namespace.clone(),
        name: args.name.clone(),
        code: args.code.clone(),
        source: args.source.clone(),
    }
}

pub(crate) fn filter(args: &FilterArgs) -> Result<Filter> {
    filter_text(args)
        .parse(timestamp_now())
        .map_err(|error| match error {
            index::Error::Filter { field, reason } => anyhow::anyhow!("--{field}: {reason}"),
            other => anyhow::Error::new(other),
        })
}

fn timestamp_now() -> Timestamp {
    let nanos = clock::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |duration| duration.as_nanos());
    Timestamp::from_unix_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

pub(crate) fn rows(events: &[&AuditEvent]) -> Rows {
    index::table::events(events.iter().copied())
}

//! `auditrail query`: the events that match the filters, newest first, from the data
//! directory, read-only (it works beside a running server and takes no lock).

use std::io::Write;

use anyhow::{Context, Result, bail};
use event::{AuditEvent, SourceKind, Timestamp};
use index::{CodeMatch, Filter, TextPattern, parse_time_bound};

use crate::cli::{CommonArgs, FilterArgs, QueryArgs, QueryOutput, ReportFormat};
use crate::report::{self, Rows};
use crate::{Status, clock};

pub(crate) fn run(args: &QueryArgs, common: &CommonArgs) -> Result<Status> {
    let filter = filter(&args.filters)?;
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

pub(crate) fn filter(args: &FilterArgs) -> Result<Filter> {
    let now = timestamp_now();
    let time = |text: &Option<String>, flag: &str| -> Result<Option<Timestamp>> {
        text.as_deref()
            .map(|text| parse_time_bound(text, now).with_context(|| format!("--{flag}")))
            .transpose()
    };
    let patterns = |values: &[String]| {
        values
            .iter()
            .map(|value| TextPattern::parse(value))
            .collect()
    };
    let mut codes = Vec::new();
    for code in &args.code {
        codes.push(CodeMatch::parse(code).with_context(|| format!("--code {code}"))?);
    }
    let mut sources = Vec::new();
    for source in &args.source {
        sources.push(source_kind(source)?);
    }
    let filter = Filter {
        since: time(&args.since, "since")?,
        until: time(&args.until, "until")?,
        users: patterns(&args.user),
        verbs: patterns(&args.verb),
        resources: patterns(&args.resource),
        namespaces: patterns(&args.namespace),
        names: patterns(&args.name),
        codes,
        sources,
    };
    filter
        .validate()
        .context("the filters contradict each other")?;
    Ok(filter)
}

fn source_kind(text: &str) -> Result<SourceKind> {
    const KINDS: [SourceKind; 6] = [
        SourceKind::K8s,
        SourceKind::Okd,
        SourceKind::Mke,
        SourceKind::Dcos,
        SourceKind::Auditd,
        SourceKind::Auditrail,
    ];
    match KINDS.into_iter().find(|kind| kind.as_str() == text) {
        Some(kind) => Ok(kind),
        None => bail!("--source {text:?}: expected one of k8s, okd, mke, dcos, auditd, auditrail"),
    }
}

fn timestamp_now() -> Timestamp {
    let nanos = clock::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |duration| duration.as_nanos());
    Timestamp::from_unix_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// The columns a person reads: when, who, what, on what, from where, result.
pub(crate) fn columns(event: &AuditEvent) -> [String; 7] {
    let user = match &event.impersonated_user {
        Some(as_user) => format!("{} (as {})", event.user.name, as_user.name),
        None => event.user.name.clone(),
    };
    let object = match &event.object {
        Some(object) => {
            let mut text = object.resource.clone();
            if !object.subresource.is_empty() {
                text = format!("{text}/{}", object.subresource);
            }
            match (object.namespace.as_str(), object.name.as_str()) {
                ("", "") => text,
                ("", name) => format!("{text} {name}"),
                (namespace, "") => format!("{text} {namespace}/*"),
                (namespace, name) => format!("{text} {namespace}/{name}"),
            }
        }
        None if !event.paths.is_empty() => event.paths.join(" "),
        None => event.path().to_owned(),
    };
    [
        event
            .when()
            .map_or_else(String::new, |time| time.to_rfc3339()),
        user,
        event.verb.clone(),
        object,
        event.code().map_or_else(
            || event.outcome.as_str().to_owned(),
            |code| code.to_string(),
        ),
        event.source_ips.first().cloned().unwrap_or_default(),
        event.origin.source.as_str().to_owned(),
    ]
}

const HEADER: [&str; 7] = [
    "TIME",
    "USER",
    "VERB",
    "OBJECT",
    "RESULT",
    "SOURCE IP",
    "SOURCE",
];

fn rows(events: &[&AuditEvent]) -> Rows {
    Rows {
        header: HEADER.to_vec(),
        rows: events
            .iter()
            .map(|event| {
                columns(event)
                    .into_iter()
                    .map(serde_json::Value::String)
                    .collect()
            })
            .collect(),
    }
}

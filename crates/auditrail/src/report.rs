//! `auditrail report`: the reports admins ask for, over the same filters as `query`, as a
//! table, JSON or CSV (for spreadsheets). The counting is `index::report`'s; this module only
//! chooses the columns.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use index::report::{self, Counts, Dimension, RequestRow};
use index::{Dataset, TextPattern};
use serde_json::{Value, json};

use crate::cli::{ChargebackBy, CommonArgs, ReportArgs, ReportFormat, ReportKind, TopBy};
use crate::{Status, query};

/// A report's rows: a header and typed cells.
pub(crate) struct Rows {
    pub(crate) header: Vec<&'static str>,
    pub(crate) rows: Vec<Vec<Value>>,
}

/// A table for a terminal: aligned columns without borders, fitted to its width when standard
/// output is one.
pub(crate) fn terminal_table() -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    if std::io::stdout().is_terminal() {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    }
    table
}

pub(crate) fn run(args: &ReportArgs, common: &CommonArgs) -> Result<Status> {
    let dataset = || {
        store::open_dataset(&common.data)
            .with_context(|| format!("cannot read the audit trail in {}", common.data.display()))
    };
    let rows = match &args.report {
        ReportKind::Changes {
            filters,
            object,
            limit,
        } => {
            let filter = query::filter(filters)?;
            match object {
                Some(object) => history(&dataset()?, object, &filter)?,
                None => requests(report::changes(&dataset()?, &filter, *limit)?),
            }
        }
        ReportKind::Activity { filters, limit } => {
            let Some(user) = filters.user.first() else {
                bail!("report activity needs --user (a name, or a pattern such as 'alice*')");
            };
            let filter = query::filter(filters)?;
            requests(report::activity(
                &dataset()?,
                &TextPattern::parse(user),
                &filter,
                *limit,
            )?)
        }
        ReportKind::TopUsers { filters, by, limit } => {
            let filter = query::filter(filters)?;
            let dimension = match by {
                TopBy::User => Dimension::User,
                TopBy::Group => Dimension::Group,
                TopBy::UserAgent => Dimension::UserAgent,
                TopBy::SourceIp => Dimension::SourceIp,
                TopBy::Resource => Dimension::Resource,
                TopBy::Namespace => Dimension::Namespace,
            };
            let rows = report::top_users(&dataset()?, &filter, dimension, *limit)?;
            Rows {
                header: vec!["KEY", "REQUESTS", "WRITES", "ERRORS"],
                rows: rows
                    .into_iter()
                    .map(|row| keyed(row.key, row.counts, None))
                    .collect(),
            }
        }
        ReportKind::Codes { filters, top } => {
            let filter = query::filter(filters)?;
            codes(report::codes(&dataset()?, &filter, *top)?)
        }
        ReportKind::Chargeback { filters, by } => {
            let filter = query::filter(filters)?;
            let by = match by {
                ChargebackBy::Namespace => report::ChargebackBy::Namespace,
                ChargebackBy::User => report::ChargebackBy::User,
                ChargebackBy::Group => report::ChargebackBy::Group,
            };
            let rows = report::chargeback(&dataset()?, &filter, by)?;
            Rows {
                header: vec!["KEY", "REQUESTS", "WRITES", "ERRORS", "DISTINCT USERS"],
                rows: rows
                    .into_iter()
                    .map(|row| keyed(row.key, row.counts, Some(row.distinct_users)))
                    .collect(),
            }
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write(&mut out, &rows, args.output)?;
    out.flush()?;
    if rows.rows.is_empty() && !common.quiet {
        crate::input::eprintln_clear(
            "nothing to report: widen the time range (--since 30d) or loosen the filters",
        );
    }
    Ok(Status::Success)
}

fn keyed(key: Option<String>, counts: Counts, distinct: Option<u64>) -> Vec<Value> {
    let mut row = vec![
        json!(key.unwrap_or_else(|| "(none)".to_owned())),
        json!(counts.requests),
        json!(counts.writes),
        json!(counts.errors),
    ];
    if let Some(distinct) = distinct {
        row.push(json!(distinct));
    }
    row
}

/// The DC/OS seed's table, for every source: TIMESTAMP USER ACTION OBJECT RESULT.
fn requests(rows: Vec<RequestRow>) -> Rows {
    Rows {
        header: vec![
            "TIMESTAMP",
            "USER",
            "ACTION",
            "OBJECT",
            "RESULT",
            "SOURCE IP",
        ],
        rows: rows.iter().map(request_cells).collect(),
    }
}

fn request_cells(row: &RequestRow) -> Vec<Value> {
    let user = match &row.impersonated_user {
        Some(as_user) => format!("{} (as {as_user})", row.user),
        None => row.user.clone(),
    };
    let result = row
        .code
        .map_or_else(|| row.outcome.as_str().to_owned(), |code| code.to_string());
    vec![
        json!(row.time.map(|time| time.to_rfc3339()).unwrap_or_default()),
        json!(user),
        json!(row.action()),
        json!(row.object()),
        json!(result),
        json!(row.source_ip.clone().unwrap_or_default()),
    ]
}

fn history(dataset: &Dataset, object: &str, filter: &index::Filter) -> Result<Rows> {
    let mut parts = object.splitn(3, '/');
    let (Some(resource), Some(namespace), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!(
            "--object {object:?}: expected RESOURCE/NAMESPACE/NAME (RESOURCE//NAME when cluster-scoped)"
        );
    };
    let versions = report::object_history(dataset, resource, namespace, name, filter)?;
    let mut rows = Vec::new();
    for version in versions {
        let mut cells = request_cells(&version.request);
        let diff = match &version.diff {
            Some(diff) => serde_json::to_value(diff)?,
            None if version.body.is_some() => json!("(first version with a body)"),
            None => json!("(no body kept)"),
        };
        cells.push(diff);
        rows.push(cells);
    }
    Ok(Rows {
        header: vec![
            "TIMESTAMP",
            "USER",
            "ACTION",
            "OBJECT",
            "RESULT",
            "SOURCE IP",
            "CHANGE",
        ],
        rows,
    })
}

fn codes(report: report::CodesReport) -> Rows {
    let mut rows = Vec::new();
    for class in &report.classes {
        let name = class
            .class
            .map_or_else(|| "none".to_owned(), |class| format!("{class}xx"));
        rows.push(vec![
            json!(name),
            json!(class.requests),
            json!(""),
            json!(""),
        ]);
    }
    for code in &report.codes {
        let detail = code
            .code
            .and_then(|code| report.errors.iter().find(|detail| detail.code == code));
        let users = detail.map_or_else(String::new, |detail| {
            let names: Vec<String> = detail
                .top_users
                .iter()
                .map(|(user, count)| format!("{} ({count})", user.as_deref().unwrap_or("(none)")))
                .collect();
            names.join(", ")
        });
        let paths = detail.map_or_else(String::new, |detail| {
            let paths: Vec<String> = detail
                .top_paths
                .iter()
                .map(|(path, count)| format!("{path} ({count})"))
                .collect();
            paths.join(", ")
        });
        let name = code
            .code
            .map_or_else(|| "none".to_owned(), |code| code.to_string());
        rows.push(vec![
            json!(name),
            json!(code.requests),
            json!(users),
            json!(paths),
        ]);
    }
    Rows {
        header: vec!["CODE", "REQUESTS", "TOP USERS", "TOP PATHS"],
        rows,
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Prints `rows` as a table, a JSON array of objects (keys from the header), or CSV.
pub(crate) fn write(out: &mut impl Write, rows: &Rows, format: ReportFormat) -> Result<()> {
    match format {
        ReportFormat::Json => {
            let objects: Vec<Value> = rows
                .rows
                .iter()
                .map(|row| {
                    let object: serde_json::Map<String, Value> = rows
                        .header
                        .iter()
                        .map(|name| name.to_lowercase().replace(' ', "_"))
                        .zip(row.iter().cloned())
                        .collect();
                    Value::Object(object)
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &objects)?;
            writeln!(out)?;
        }
        ReportFormat::Csv => {
            let quote = |field: String| {
                if field.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", field.replace('"', "\"\""))
                } else {
                    field
                }
            };
            let header: Vec<String> = rows
                .header
                .iter()
                .map(|name| name.to_lowercase().replace(' ', "_"))
                .collect();
            writeln!(out, "{}", header.join(","))?;
            for row in &rows.rows {
                let cells: Vec<String> = row.iter().map(|value| quote(text(value))).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        ReportFormat::Table => {
            if rows.rows.is_empty() {
                return Ok(());
            }
            let mut table = terminal_table();
            table.set_header(rows.header.clone());
            for row in &rows.rows {
                table.add_row(row.iter().map(|value| {
                    let cell = comfy_table::Cell::new(text(value));
                    if value.is_number() {
                        cell.set_alignment(CellAlignment::Right)
                    } else {
                        cell
                    }
                }));
            }
            writeln!(out, "{table}")?;
        }
    }
    Ok(())
}

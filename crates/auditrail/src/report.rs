//! `auditrail report`: the reports admins ask for, over the same filters as `query`, as a
//! table, JSON, JSON lines or CSV (for spreadsheets). The counting is `index::report`'s (for
//! Linux hosts `index::host`'s, with aureport's numbers) and the columns `index::table`'s
//! (the reports API answers the same JSON); this module only prints.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use index::TextPattern;
use index::host::{HostReport, Selection};
use index::table::{self, ReportSpec, Rows};
use serde_json::Value;

use crate::cli::{
    CommonArgs, FilterArgs, HostReportArgs, ReportArgs, ReportFormat, ReportKind, ResultArgs,
};
use crate::{Status, query};

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
    crate::prefer_small_pages();
    let (filters, spec) = spec(&args.report)?;
    let filter = query::filter(filters)?;
    let dataset = store::open_dataset(&common.data)
        .with_context(|| format!("cannot read the audit trail in {}", common.data.display()))?;
    let rows = table::report(&dataset, &spec, &filter).context("the report failed")?;
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

/// The filters and the report's options, as the library takes them.
fn spec(kind: &ReportKind) -> Result<(&FilterArgs, ReportSpec)> {
    Ok(match kind {
        ReportKind::Changes {
            filters,
            object,
            limit,
        } => (
            filters,
            ReportSpec::Changes {
                object: object.clone(),
                limit: *limit,
            },
        ),
        ReportKind::Activity { filters, limit } => {
            let Some(user) = filters.user.first() else {
                bail!("report activity needs --user (a name, or a pattern such as 'alice*')");
            };
            (
                filters,
                ReportSpec::Activity {
                    user: TextPattern::parse(user),
                    limit: *limit,
                },
            )
        }
        ReportKind::TopUsers { filters, by, limit } => (
            filters,
            ReportSpec::TopUsers {
                by: *by,
                limit: *limit,
            },
        ),
        ReportKind::Codes { filters, top } => (filters, ReportSpec::Codes { top: *top }),
        ReportKind::Chargeback { filters, by } => (filters, ReportSpec::Chargeback { by: *by }),
        ReportKind::Summary { filters, result } => (
            filters,
            ReportSpec::HostSummary {
                selection: selection(result),
            },
        ),
        ReportKind::Failed { filters } => (
            filters,
            ReportSpec::HostSummary {
                selection: Selection::Failed,
            },
        ),
        ReportKind::Logins(args) => host(args, HostReport::Logins),
        ReportKind::Executables(args) => host(args, HostReport::Executables),
        ReportKind::Files(args) => host(args, HostReport::Files),
        ReportKind::Keys(args) => host(args, HostReport::Keys),
    })
}

fn host(args: &HostReportArgs, report: HostReport) -> (&FilterArgs, ReportSpec) {
    (
        &args.filters,
        ReportSpec::Host {
            report,
            selection: selection(&args.result),
            summary: args.summary,
            limit: args.limit,
        },
    )
}

fn selection(result: &ResultArgs) -> Selection {
    if result.failed {
        Selection::Failed
    } else if result.success {
        Selection::Success
    } else {
        Selection::All
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Prints `rows` as a table, a JSON array of objects (keys from the header), JSON lines, or
/// CSV.
pub(crate) fn write(out: &mut impl Write, rows: &Rows, format: ReportFormat) -> Result<()> {
    let header: Vec<String> = rows.header.iter().map(|name| (*name).to_owned()).collect();
    write_table(out, &header, &rows.keys(), &rows.rows, format)
}

/// The writer of every tabular answer (`query`, `report`, `sql`): `header` names the columns
/// of the terminal table, `keys` the JSON keys and the CSV header, in column order.
pub(crate) fn write_table(
    out: &mut impl Write,
    header: &[String],
    keys: &[String],
    rows: &[Vec<Value>],
    format: ReportFormat,
) -> Result<()> {
    match format {
        ReportFormat::Json => {
            let objects: Vec<Object<'_>> = rows.iter().map(|row| Object { keys, row }).collect();
            serde_json::to_writer_pretty(&mut *out, &objects)?;
            writeln!(out)?;
        }
        ReportFormat::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut *out, &Object { keys, row })?;
                writeln!(out)?;
            }
        }
        ReportFormat::Csv => {
            let quote = |field: String| {
                if field.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", field.replace('"', "\"\""))
                } else {
                    field
                }
            };
            let names: Vec<String> = keys.iter().cloned().map(quote).collect();
            writeln!(out, "{}", names.join(","))?;
            for row in rows {
                let cells: Vec<String> = row.iter().map(|value| quote(text(value))).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        ReportFormat::Table => {
            if rows.is_empty() {
                return Ok(());
            }
            let mut table = terminal_table();
            table.set_header(header);
            for row in rows {
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

/// One row as a JSON object with its keys in column order.
struct Object<'a> {
    keys: &'a [String],
    row: &'a [Value],
}

impl serde::Serialize for Object<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.keys.len()))?;
        for (key, value) in self.keys.iter().zip(self.row) {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

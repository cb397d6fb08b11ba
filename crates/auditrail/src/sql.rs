//! `auditrail sql`: any SQL query over the table `events` (one row per stored event, the
//! columns of the index segments), from the data directory, read-only beside a running
//! server. The engine is `crates/sql` (DataFusion, behind the `sql` feature); this module
//! only prints its answer with the report writer.

use std::io::Write;

use anyhow::{Context, Result, bail};
use index::table::Rows;
use serde_json::json;

use crate::Status;
use crate::cli::{CommonArgs, SqlArgs};
use crate::report;

pub(crate) fn run(args: &SqlArgs, common: &CommonArgs) -> Result<Status> {
    crate::prefer_small_pages();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.columns {
        let rows = Rows {
            header: vec!["COLUMN", "TYPE", "MEANING"],
            rows: sql::columns()
                .into_iter()
                .map(|column| {
                    vec![
                        json!(column.name),
                        json!(column.kind),
                        json!(column.description),
                    ]
                })
                .collect(),
        };
        report::write(&mut out, &rows, args.output)?;
        out.flush()?;
        return Ok(Status::Success);
    }
    let Some(query) = args.query.as_deref() else {
        bail!("give a query, for example: auditrail sql \"SELECT count(*) FROM events\"");
    };
    if !sql::ENABLED {
        return Err(sql::Error::NotBuilt.into());
    }
    let dataset = store::open_dataset(&common.data)
        .with_context(|| format!("cannot read the audit trail in {}", common.data.display()))?;
    let answer = sql::run(&dataset, query, &sql::Options::default())?;
    // Column names as the query gave them: the table's header, the JSON keys, the CSV header.
    let names: Vec<String> = answer
        .columns
        .into_iter()
        .map(|column| column.name)
        .collect();
    report::write_table(&mut out, &names, &names, &answer.rows, args.output)?;
    out.flush()?;
    if !common.quiet {
        if answer.rows.is_empty() {
            crate::input::eprintln_clear(
                "no rows: widen the WHERE clause (for example time > now() - INTERVAL '30 days')",
            );
        } else if answer.truncated {
            crate::input::eprintln_clear(&format!(
                "showing the first {} rows; add a LIMIT or aggregate for the rest",
                answer.rows.len()
            ));
        }
    }
    Ok(Status::Success)
}

//! The rows people read: the columns of `auditrail query`'s table and of every report, as a
//! header and typed cells. The command line prints them as a table, JSON or CSV; the HTTP
//! API (`GET /api/v1/reports/{name}`) sends the same JSON, so that a script gets one shape
//! from either. The counting stays in [`crate::report`]; this module only chooses columns.

use event::AuditEvent;
use serde_json::{Map, Value, json};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::filter::{Filter, TextPattern};
use crate::host::{self, HostReport, Selection};
use crate::report::{self, ChargebackBy, Counts, Dimension, RequestRow};

/// A table: a header and rows of typed cells (strings and numbers).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    /// Column names, upper case as printed.
    pub header: Vec<&'static str>,
    /// One cell per column.
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// The JSON keys of the columns: lower case, spaces as `_` (`SOURCE IP` is `source_ip`).
    pub fn keys(&self) -> Vec<String> {
        self.header
            .iter()
            .map(|name| name.to_lowercase().replace(' ', "_"))
            .collect()
    }

    /// The rows as JSON objects keyed by [`Rows::keys`]: what `--output json` prints and
    /// the reports API answers.
    pub fn to_json(&self) -> Value {
        let keys = self.keys();
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let object: Map<String, Value> =
                        keys.iter().cloned().zip(row.iter().cloned()).collect();
                    Value::Object(object)
                })
                .collect(),
        )
    }
}

/// The header of the events table.
pub const EVENT_HEADER: [&str; 7] = [
    "TIME",
    "USER",
    "VERB",
    "OBJECT",
    "RESULT",
    "SOURCE IP",
    "SOURCE",
];

/// The columns a person reads of one event: when, who, what, on what, result, from where,
/// which source.
pub fn event_columns(event: &AuditEvent) -> [String; 7] {
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

/// The events table.
pub fn events<'a>(events: impl IntoIterator<Item = &'a AuditEvent>) -> Rows {
    Rows {
        header: EVENT_HEADER.to_vec(),
        rows: events
            .into_iter()
            .map(|event| {
                event_columns(event)
                    .into_iter()
                    .map(Value::String)
                    .collect()
            })
            .collect(),
    }
}

/// A report and its options, as `auditrail report NAME` and `GET /api/v1/reports/NAME`
/// take them (the filters come separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportSpec {
    /// Writes, newest first; or one object's history with diffs.
    Changes {
        /// `RESOURCE/NAMESPACE/NAME` (`RESOURCE//NAME` when cluster-scoped).
        object: Option<String>,
        /// Most rows.
        limit: usize,
    },
    /// Requests, writes and errors per key.
    TopUsers {
        /// The key.
        by: Dimension,
        /// Most rows.
        limit: usize,
    },
    /// Requests per code and class, with the users and paths behind errors.
    Codes {
        /// Users and paths listed per error code.
        top: usize,
    },
    /// One user's requests (also those made as another user).
    Activity {
        /// The user.
        user: TextPattern,
        /// Most rows.
        limit: usize,
    },
    /// Requests, writes, errors and distinct users per key.
    Chargeback {
        /// The key.
        by: ChargebackBy,
    },
    /// Linux hosts: `aureport --summary` (with [`Selection::Failed`], `aureport --failed`).
    HostSummary {
        /// Which events, by result.
        selection: Selection,
    },
    /// Linux hosts: `aureport -l`, `-x`, `-f` or `-k`, one row per event or (`summary`) the
    /// totals per value.
    Host {
        /// Which report.
        report: HostReport,
        /// Which events, by result.
        selection: Selection,
        /// Totals per value instead of rows.
        summary: bool,
        /// Most rows (oldest first).
        limit: usize,
    },
}

/// Report names, as on the command line.
pub const REPORT_NAMES: [&str; 5] = ["changes", "top-users", "codes", "activity", "chargeback"];
/// Linux host report names, as on the command line.
pub const HOST_REPORT_NAMES: [&str; 6] = [
    "summary",
    "failed",
    "logins",
    "executables",
    "files",
    "keys",
];

/// Default of `changes` and `activity` `limit`.
pub const DEFAULT_REQUEST_ROWS: usize = 100;
/// Default of `top-users` `limit`.
pub const DEFAULT_TOP_ROWS: usize = 10;
/// Default of the Linux host reports' `limit` (rows, oldest first).
pub const DEFAULT_HOST_ROWS: usize = 1000;
/// Default of `codes` `top`.
pub const DEFAULT_CODES_TOP: usize = 5;

impl Dimension {
    /// Names of the dimensions, as `--by` takes them.
    pub const NAMES: [(&'static str, Dimension); 6] = [
        ("user", Dimension::User),
        ("group", Dimension::Group),
        ("user-agent", Dimension::UserAgent),
        ("source-ip", Dimension::SourceIp),
        ("resource", Dimension::Resource),
        ("namespace", Dimension::Namespace),
    ];

    /// The dimension called `name`.
    pub fn parse(name: &str) -> Result<Dimension> {
        lookup(&Dimension::NAMES, name, "by")
    }
}

impl ChargebackBy {
    /// Names of the keys, as `--by` takes them.
    pub const NAMES: [(&'static str, ChargebackBy); 3] = [
        ("namespace", ChargebackBy::Namespace),
        ("user", ChargebackBy::User),
        ("group", ChargebackBy::Group),
    ];

    /// The key called `name`.
    pub fn parse(name: &str) -> Result<ChargebackBy> {
        lookup(&ChargebackBy::NAMES, name, "by")
    }
}

fn lookup<T: Copy>(names: &[(&'static str, T)], name: &str, field: &'static str) -> Result<T> {
    names
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, value)| *value)
        .ok_or_else(|| Error::Filter {
            field,
            reason: format!(
                "{:?} is not one of {}",
                name.chars().take(64).collect::<String>(),
                names
                    .iter()
                    .map(|(known, _)| *known)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Runs a report over `dataset` and lays out its rows.
pub fn report(dataset: &Dataset, spec: &ReportSpec, filter: &Filter) -> Result<Rows> {
    Ok(match spec {
        ReportSpec::Changes {
            object: Some(object),
            ..
        } => history(dataset, object, filter)?,
        ReportSpec::Changes {
            object: None,
            limit,
        } => requests(&report::changes(dataset, filter, *limit)?),
        ReportSpec::Activity { user, limit } => {
            requests(&report::activity(dataset, user, filter, *limit)?)
        }
        ReportSpec::TopUsers { by, limit } => Rows {
            header: vec!["KEY", "REQUESTS", "WRITES", "ERRORS"],
            rows: report::top_users(dataset, filter, *by, *limit)?
                .into_iter()
                .map(|row| keyed(row.key, row.counts, None))
                .collect(),
        },
        ReportSpec::Codes { top } => codes(report::codes(dataset, filter, *top)?),
        ReportSpec::Chargeback { by } => Rows {
            header: vec!["KEY", "REQUESTS", "WRITES", "ERRORS", "DISTINCT USERS"],
            rows: report::chargeback(dataset, filter, *by)?
                .into_iter()
                .map(|row| keyed(row.key, row.counts, Some(row.distinct_users)))
                .collect(),
        },
        ReportSpec::HostSummary { selection } => {
            host_summary(&host::summary(dataset, filter, *selection)?)
        }
        ReportSpec::Host {
            report,
            selection,
            summary: true,
            ..
        } => host_totals(*report, host::totals(dataset, filter, *report, *selection)?),
        ReportSpec::Host {
            report,
            selection,
            summary: false,
            limit,
        } => host_rows(
            *report,
            host::rows(dataset, filter, *report, *selection, *limit)?,
        ),
    })
}

/// aureport's summary lines (ITEM NUMBER), then the time range.
fn host_summary(summary: &host::Summary) -> Rows {
    let mut rows: Vec<Vec<Value>> = summary
        .lines()
        .into_iter()
        .map(|(item, number)| vec![json!(item), json!(number)])
        .collect();
    let time = |stamp: Option<(i64, u32)>| {
        stamp
            .and_then(|(seconds, millis)| {
                seconds
                    .checked_mul(1_000_000_000)
                    .and_then(|nanos| nanos.checked_add(i64::from(millis) * 1_000_000))
            })
            .map(|nanos| event::Timestamp::from_unix_nanos(nanos).to_rfc3339())
            .unwrap_or_default()
    };
    rows.push(vec![json!("first event"), json!(time(summary.first))]);
    rows.push(vec![json!("last event"), json!(time(summary.last))]);
    if summary.malformed > 0 {
        rows.push(vec![
            json!("events aureport would skip as malformed"),
            json!(summary.malformed),
        ]);
    }
    Rows {
        header: vec!["ITEM", "NUMBER"],
        rows,
    }
}

/// A host report's `--summary`: TOTAL and the value.
fn host_totals(report: HostReport, totals: host::Totals) -> Rows {
    let what = match report {
        HostReport::Logins => "AUID",
        HostReport::Executables => "EXE",
        HostReport::Files => "FILE",
        HostReport::Keys => "KEY",
    };
    Rows {
        header: vec!["TOTAL", what],
        rows: totals
            .rows
            .into_iter()
            .map(|(value, count)| vec![json!(count), json!(value)])
            .collect(),
    }
}

/// A detailed host report: TIME, NODE when the events have one, then aureport's columns.
fn host_rows(report: HostReport, found: host::HostRows) -> Rows {
    let with_node = found.rows.iter().any(|row| row.node.is_some());
    let mut header = vec!["TIME"];
    if with_node {
        header.push("NODE");
    }
    header.extend(report.columns().iter().map(|column| match *column {
        "auid" => "AUID",
        "host" => "HOST",
        "term" => "TERM",
        "exe" => "EXE",
        "success" => "SUCCESS",
        "event" => "EVENT",
        "file" => "FILE",
        "syscall" => "SYSCALL",
        "key" => "KEY",
        other => other,
    }));
    let rows = found
        .rows
        .into_iter()
        .map(|row| {
            let mut cells = vec![json!(
                row.time.map(|time| time.to_rfc3339()).unwrap_or_default()
            )];
            if with_node {
                cells.push(json!(row.node.unwrap_or_default()));
            }
            let last = row.cells.len().saturating_sub(1);
            for (index, cell) in row.cells.into_iter().enumerate() {
                // The event (serial) number is a number; the rest is text as aureport
                // prints it.
                match cell.parse::<u64>() {
                    Ok(serial) if index == last => cells.push(json!(serial)),
                    _ => cells.push(json!(cell)),
                }
            }
            cells
        })
        .collect();
    Rows { header, rows }
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

const REQUEST_HEADER: [&str; 6] = [
    "TIMESTAMP",
    "USER",
    "ACTION",
    "OBJECT",
    "RESULT",
    "SOURCE IP",
];

/// The DC/OS seed's table, for every source: TIMESTAMP USER ACTION OBJECT RESULT.
fn requests(rows: &[RequestRow]) -> Rows {
    Rows {
        header: REQUEST_HEADER.to_vec(),
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

fn history(dataset: &Dataset, object: &str, filter: &Filter) -> Result<Rows> {
    let mut parts = object.splitn(3, '/');
    let (Some(resource), Some(namespace), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Filter {
            field: "object",
            reason: format!(
                "{:?} is not RESOURCE/NAMESPACE/NAME (RESOURCE//NAME when cluster-scoped)",
                object.chars().take(256).collect::<String>()
            ),
        });
    };
    let versions = report::object_history(dataset, resource, namespace, name, filter)?;
    let mut rows = Vec::new();
    for version in versions {
        let mut cells = request_cells(&version.request);
        let diff = match &version.diff {
            Some(diff) => serde_json::to_value(diff).unwrap_or(Value::Null),
            None if version.body.is_some() => json!("(first version with a body)"),
            None => json!("(no body kept)"),
        };
        cells.push(diff);
        rows.push(cells);
    }
    let mut header = REQUEST_HEADER.to_vec();
    header.push("CHANGE");
    Ok(Rows { header, rows })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_errors_list_the_choices() {
        assert_eq!(
            Dimension::parse("user-agent").unwrap(),
            Dimension::UserAgent
        );
        assert_eq!(ChargebackBy::parse("group").unwrap(), ChargebackBy::Group);
        let error = Dimension::parse("team").unwrap_err().to_string();
        assert!(error.contains("user, group, user-agent"), "{error}");
    }

    #[test]
    fn json_keys_come_from_the_header() {
        let rows = Rows {
            header: vec!["KEY", "SOURCE IP"],
            rows: vec![vec![json!("a"), json!("10.0.0.1")]],
        };
        assert_eq!(
            rows.to_json(),
            json!([{"key": "a", "source_ip": "10.0.0.1"}])
        );
    }

    #[test]
    fn a_bad_object_names_the_field() {
        let dataset = Dataset::new(Vec::new());
        let spec = ReportSpec::Changes {
            object: Some("pods".to_owned()),
            limit: 10,
        };
        let error = report(&dataset, &spec, &Filter::default()).unwrap_err();
        assert!(error.to_string().starts_with("filter object:"), "{error}");
    }
}

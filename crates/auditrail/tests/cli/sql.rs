//! `auditrail sql` over an imported trail: the numbers against counts computed here from the
//! imported JSON itself, every output format, and the error messages. Built without the `sql`
//! feature (`cargo test -p auditrail --no-default-features --test cli sql::`, run by
//! `.ci/run`), the command says that the build lacks SQL support.
#![cfg_attr(not(feature = "sql"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::{run_in, text};

const EVENTS: usize = 3_000;

/// Imports, each of `EVENTS / IMPORTS` events; the last [`ROW_FORM_IMPORTS`] store in the
/// ledger's row form.
const IMPORTS: usize = 5;

/// The last imports, stored with `--no-compact`: each appends its events as one block, so
/// the first one's segment is sealed by the next one's append and the last one's stays open.
const ROW_FORM_IMPORTS: usize = 2;

/// A data directory with `EVENTS` synth events imported from JSON lines files, and the text
/// of those files. Every import but the last bulk-loads its events into an index segment of
/// their own (the only copy at rest); the last two, with `--no-compact`, store them in the
/// ledger's row form, whose segments are small here (8 KiB): a sealed ledger segment and the
/// open one, the tail.
fn imported() -> (tempfile::TempDir, String) {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("store.json"),
        r#"{"format":"auditrail-store","version":3,"origin":"test.example/sql","segment_bytes":8192}"#,
    )
    .unwrap();
    let mut json = Vec::new();
    let mut parts = vec![Vec::new(); IMPORTS];
    for (at, event) in synth::Generator::new(7, synth::SynthConfig::default())
        .take(EVENTS)
        .enumerate()
    {
        let mut line = Vec::new();
        formats::k8s::encode(&event, &mut line);
        parts[at * IMPORTS / EVENTS].extend_from_slice(&line);
        json.extend_from_slice(&line);
    }
    for (number, part) in parts.iter().enumerate() {
        let input = data.path().join(format!("part-{number}.jsonl"));
        std::fs::write(&input, part).unwrap();
        let mut args = vec!["import"];
        if number + ROW_FORM_IMPORTS >= IMPORTS {
            args.push("--no-compact");
        }
        args.push(input.to_str().unwrap());
        let output = run_in(data.path(), &args, b"");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let index_segments = files(&data.path().join("index/segments"), |entry| {
        entry.path().extension().is_some_and(|ext| ext == "parquet")
    });
    // An externalized ledger segment is a 32-byte stub; the others hold records.
    let ledger_segments = files(&data.path().join("ledger/segments"), |entry| {
        entry.metadata().unwrap().len() > 32
    });
    assert!(index_segments >= 2, "compacted: {index_segments}");
    assert!(
        ledger_segments >= 2,
        "sealed but not compacted, and open: {ledger_segments}"
    );
    (data, String::from_utf8(json).unwrap())
}

/// The entries of `dir` that `keep` keeps.
fn files(dir: &Path, keep: impl Fn(&std::fs::DirEntry) -> bool) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(Result::unwrap)
        .filter(|entry| keep(entry))
        .count()
}

/// Requests per user, computed from the audit.k8s.io JSON with serde_json alone.
fn users_in(json: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in json.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let user = event["user"]["username"].as_str().unwrap_or("").to_owned();
        *counts.entry(user).or_insert(0) += 1;
    }
    counts
}

const PER_USER: &str = r#"SELECT coalesce("user", '') AS "user", count(*) AS requests FROM events GROUP BY 1 ORDER BY 2 DESC, 1"#;

fn sql(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["sql"];
    all.extend_from_slice(args);
    let output = run_in(data, &all, b"");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

#[cfg(feature = "sql")]
#[test]
fn counts_per_user_match_the_imported_json_in_every_format() {
    let (data, json) = imported();
    let expected = users_in(&json);
    assert!(expected.len() > 3, "several users: {expected:?}");

    let rows: Vec<Value> =
        serde_json::from_str(&sql(data.path(), &["--output", "json", PER_USER])).unwrap();
    let from_json: BTreeMap<String, u64> = rows
        .iter()
        .map(|row| {
            (
                row["user"].as_str().unwrap().to_owned(),
                row["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(from_json, expected);
    // Ordered as asked: most requests first.
    let requests: Vec<u64> = rows
        .iter()
        .map(|row| row["requests"].as_u64().unwrap())
        .collect();
    assert!(
        requests.windows(2).all(|pair| pair[0] >= pair[1]),
        "{requests:?}"
    );

    let jsonl = sql(data.path(), &["--output", "jsonl", PER_USER]);
    let from_jsonl: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(from_jsonl, rows);
    // Keys in column order.
    assert!(
        jsonl.lines().next().unwrap().starts_with("{\"user\":"),
        "{jsonl}"
    );

    let csv = sql(data.path(), &["--output", "csv", PER_USER]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("user,requests"));
    let from_csv: BTreeMap<String, u64> = lines
        .map(|line| {
            let (user, count) = line.rsplit_once(',').unwrap();
            (user.trim_matches('"').to_owned(), count.parse().unwrap())
        })
        .collect();
    assert_eq!(from_csv, expected);

    let table = sql(data.path(), &["--output", "table", PER_USER]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["user", "requests"]);
    let (top_user, top_count) = expected.iter().max_by_key(|(_, count)| **count).unwrap();
    let first: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(first, [top_user.as_str(), &top_count.to_string()]);
    assert_eq!(table.lines().count(), 1 + expected.len());
}

#[cfg(feature = "sql")]
#[test]
fn empty_answers_say_so_and_columns_are_listed() {
    let (data, _) = imported();
    let output = run_in(
        data.path(),
        &["sql", "SELECT verb FROM events WHERE verb = 'no-such-verb'"],
        b"",
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stdout.is_empty());
    assert!(
        text(&output.stderr).contains("no rows"),
        "{}",
        text(&output.stderr)
    );

    let columns = sql(data.path(), &["--columns", "--output", "csv"]);
    assert!(columns.starts_with("column,type,meaning\n"), "{columns}");
    for name in ["time", "user", "verb", "request_flags", "ledger_seq"] {
        assert!(columns.contains(&format!("\n{name},")), "{name}: {columns}");
    }
}

#[cfg(feature = "sql")]
#[test]
fn errors_say_what_to_do_next() {
    let (data, _) = imported();
    let fails = |query: &str, needle: &str| {
        let output = run_in(data.path(), &["sql", query], b"");
        assert_eq!(output.status.code(), Some(2), "{query}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(needle), "{query}: {stderr}");
        assert!(output.stdout.is_empty());
    };
    fails("SELEC 1", "SQL syntax error");
    fails("SELECT usr FROM events", "auditrail sql --columns");
    fails("SELECT * FROM evnts", "the only table is `events`");
    fails("DROP TABLE events", "only queries are allowed");
    let output = run_in(data.path(), &["sql"], b"");
    assert_eq!(output.status.code(), Some(2));
    let empty = tempfile::tempdir().unwrap();
    let output = run_in(empty.path(), &["sql", "SELECT 1"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("import events first"),
        "{}",
        text(&output.stderr)
    );
}

#[cfg(not(feature = "sql"))]
#[test]
fn without_the_feature_the_command_says_what_is_missing() {
    let (data, _) = imported();
    let output = run_in(data.path(), &["sql", "SELECT count(*) FROM events"], b"");
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("built without SQL support"), "{stderr}");
    assert!(stderr.contains("auditrail query"), "{stderr}");
    assert!(output.stdout.is_empty());
    // The columns are documented all the same.
    let columns = sql(data.path(), &["--columns", "--output", "csv"]);
    assert!(columns.starts_with("column,type,meaning\n"), "{columns}");
}

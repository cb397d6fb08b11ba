//! SQL over a real data directory (sealed index segments plus the unsealed tail), checked
//! against counts computed here from the generated events themselves, and the errors a user
//! meets.
#![cfg(feature = "sql")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use event::AuditEvent;
use serde_json::json;
use sql::{Error, Options};
use store::{Prepared, Store, StoreOptions};

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_760_000_000)
}

/// Events in a data directory with small (256 KiB) ledger segments: the sealed ones compacted
/// into Parquet index segments (their ledger segments externalized: the Parquet files are
/// their only copy), then more events only in the ledger: sealed segments not compacted yet
/// and the open segment (together the tail). Built once for all tests.
struct Trail {
    dir: tempfile::TempDir,
    events: Vec<AuditEvent>,
}

/// Events appended before the compaction.
const COMPACTED: usize = 8_000;

/// Events appended after the compaction: only in the ledger, enough to seal a segment.
const AFTER_SEALED: usize = 4_000;

fn trail() -> &'static Trail {
    static TRAIL: OnceLock<Trail> = OnceLock::new();
    TRAIL.get_or_init(|| {
        let events: Vec<AuditEvent> = synth::Generator::new(11, synth::SynthConfig::default())
            .take(COMPACTED + AFTER_SEALED)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("store.json"),
            r#"{"format":"auditrail-store","version":3,"origin":"test.example/sql","segment_bytes":262144}"#,
        )
        .unwrap();
        let mut store = Store::open(dir.path(), StoreOptions::default(), now()).unwrap();
        let (first, rest) = events.split_at(COMPACTED);
        for chunk in first.chunks(500) {
            store.append(&Prepared::from_events(chunk), now()).unwrap();
        }
        let compacted = store.compact(now(), |_| {}).unwrap();
        assert!(compacted.segments >= 2, "several index segments");
        assert!(store.compactable().is_empty());
        // More events after the compaction: they are only in the ledger, in sealed segments
        // not compacted yet and in the open one.
        for chunk in rest.chunks(500) {
            store.append(&Prepared::from_events(chunk), now()).unwrap();
        }
        assert!(
            !store.compactable().is_empty(),
            "a sealed ledger segment is not compacted yet"
        );
        store.close(now()).unwrap();
        Trail { dir, events }
    })
}

fn query(text: &str) -> sql::Answer {
    query_with(text, &Options::default()).unwrap()
}

fn query_with(text: &str, options: &Options) -> sql::Result<sql::Answer> {
    let dataset = store::open_dataset(trail().dir.path()).unwrap();
    sql::run(&dataset, text, options)
}

/// `(key, count)` rows of a two-column answer.
fn counts(answer: &sql::Answer) -> BTreeMap<Option<String>, u64> {
    answer
        .rows
        .iter()
        .map(|row| (row[0].as_str().map(str::to_owned), row[1].as_u64().unwrap()))
        .collect()
}

fn count_where(
    keep: impl Fn(&AuditEvent) -> bool,
    key: impl Fn(&AuditEvent) -> Option<String>,
) -> BTreeMap<Option<String>, u64> {
    let mut counts = BTreeMap::new();
    for event in trail().events.iter().filter(|event| keep(event)) {
        *counts.entry(key(event)).or_insert(0) += 1;
    }
    counts
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[test]
fn the_table_holds_every_event_sealed_and_unsealed() {
    let trail = trail();
    let dataset = store::open_dataset(trail.dir.path()).unwrap();
    assert!(dataset.segments().len() >= 2, "sealed segments");
    let tail = dataset.tail_batch().map_or(0, |batch| batch.num_rows());
    let sealed: u64 = dataset.segments().iter().map(index::Segment::rows).sum();
    assert!(
        tail >= AFTER_SEALED,
        "the newest events are the tail: {tail}"
    );
    assert_eq!(sealed as usize + tail, trail.events.len());
    // The compacted ledger segments exist only as Parquet now.
    let parquet = std::fs::read_dir(trail.dir.path().join("index/segments"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|extension| extension == "parquet")
        })
        .count();
    assert_eq!(parquet, dataset.segments().len());
    let answer = query("SELECT count(*) AS n, count(DISTINCT ledger_seq) AS seqs FROM events");
    let total = trail.events.len();
    assert_eq!(answer.rows, vec![vec![json!(total), json!(total)]]);
    // The newest events (only in the ledger) are there.
    let newest: Vec<&str> = trail.events[total - 3..]
        .iter()
        .map(|event| event.id.as_str())
        .collect();
    let answer = query(&format!(
        "SELECT count(*) FROM events WHERE audit_id IN ('{}', '{}', '{}')",
        newest[0], newest[1], newest[2]
    ));
    let expected = trail
        .events
        .iter()
        .filter(|event| newest.contains(&event.id.as_str()))
        .count();
    assert_eq!(answer.rows, vec![vec![json!(expected)]]);
}

#[test]
fn counts_per_user_match_the_generated_events() {
    let answer = query(r#"SELECT "user", count(*) FROM events GROUP BY "user""#);
    let expected = count_where(|_| true, |event| non_empty(&event.user.name));
    assert_eq!(counts(&answer), expected);
    assert!(expected.len() > 3, "several users");
}

#[test]
fn every_row_holds_its_event_in_ledger_order() {
    // Row by row, sealed segments and tail alike: the columns read back as the fields of the
    // event appended at that place, in the order appended.
    let answer = query(
        r#"SELECT audit_id, stage, "user", verb, resource, namespace, name, code, time, source_ip
           FROM events ORDER BY ledger_seq"#,
    );
    let text = |value: &str| {
        if value.is_empty() {
            serde_json::Value::Null
        } else {
            json!(value)
        }
    };
    let expected: Vec<Vec<serde_json::Value>> = trail()
        .events
        .iter()
        .map(|event| {
            let object = event.object.as_ref();
            vec![
                text(&event.id),
                event
                    .stage
                    .map_or(serde_json::Value::Null, |stage| json!(stage.as_str())),
                text(&event.user.name),
                text(&event.verb),
                object.map_or(serde_json::Value::Null, |object| text(&object.resource)),
                object.map_or(serde_json::Value::Null, |object| text(&object.namespace)),
                object.map_or(serde_json::Value::Null, |object| text(&object.name)),
                event
                    .code()
                    .map_or(serde_json::Value::Null, |code| json!(code)),
                event
                    .time
                    .map_or(serde_json::Value::Null, |time| json!(time.to_rfc3339())),
                event
                    .source_ips
                    .first()
                    .map_or(serde_json::Value::Null, |ip| json!(ip)),
            ]
        })
        .collect();
    assert_eq!(answer.rows.len(), expected.len());
    for (at, (row, want)) in answer.rows.iter().zip(&expected).enumerate() {
        assert_eq!(row, want, "row {at}");
    }
}

#[test]
fn filters_and_groups_match_the_generated_events() {
    let answer = query(
        "SELECT verb, count(*) FROM events \
         WHERE code >= 400 AND resource IS NOT NULL GROUP BY verb",
    );
    let expected = count_where(
        |event| event.code().is_some_and(|code| code >= 400) && event.object.is_some(),
        |event| non_empty(&event.verb),
    );
    assert_eq!(counts(&answer), expected);
    assert!(!expected.is_empty(), "the synth traffic has errors");

    let answer = query(
        "SELECT namespace, count(*) FROM events \
         WHERE array_has(groups, 'system:serviceaccounts') GROUP BY namespace",
    );
    let expected =
        count_where(
            |event| {
                event.user.groups.as_ref().is_some_and(|groups| {
                    groups.iter().any(|group| group == "system:serviceaccounts")
                })
            },
            |event| {
                event
                    .object
                    .as_ref()
                    .and_then(|object| non_empty(&object.namespace))
            },
        );
    assert_eq!(counts(&answer), expected);
    assert!(!expected.is_empty(), "service accounts are in the traffic");
}

#[test]
fn times_are_rfc3339_and_rows_come_in_query_order() {
    let answer = query("SELECT time, ledger_seq FROM events ORDER BY ledger_seq DESC LIMIT 2");
    assert_eq!(answer.columns[0].name, "time");
    assert!(
        answer.columns[0].data_type.starts_with("Timestamp(ns"),
        "{:?}",
        answer.columns
    );
    let newest = trail().events.last().unwrap();
    assert_eq!(answer.rows[0][0], json!(newest.time.unwrap().to_rfc3339()));
    assert!(answer.rows[0][1].as_u64() > answer.rows[1][1].as_u64());
    assert!(!answer.truncated);
}

/// The text of an `EXPLAIN ANALYZE` answer.
fn plan_of(answer: &sql::Answer) -> String {
    answer
        .rows
        .iter()
        .map(|row| row.last().unwrap().as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of metric `name` of the (first) Parquet scan in a plan: `N total → M matched`.
fn metric<'a>(plan: &'a str, name: &str) -> &'a str {
    let after = plan
        .split(&format!("{name}="))
        .nth(1)
        .unwrap_or_else(|| panic!("no metric {name} in the plan: {plan}"));
    after.split(',').next().unwrap()
}

#[test]
fn time_filters_skip_whole_segments_by_statistics() {
    // A time bound before the first event: the segments' statistics exclude them, nothing
    // of them is read, and the tail alone is scanned.
    let first = trail()
        .events
        .iter()
        .filter_map(|event| event.time)
        .min()
        .unwrap();
    let bound = first.to_rfc3339();
    let plan = plan_of(&query(&format!(
        "EXPLAIN ANALYZE SELECT count(*) FROM events WHERE time < TIMESTAMP '{bound}'"
    )));
    assert!(
        metric(&plan, "files_ranges_pruned_statistics").ends_with("→ 0 matched"),
        "{plan}"
    );
    assert_eq!(metric(&plan, "bytes_scanned"), "0", "{plan}");
    let answer = query(&format!(
        "SELECT count(*) FROM events WHERE time < TIMESTAMP '{bound}'"
    ));
    assert_eq!(answer.rows, vec![vec![json!(0)]]);
}

#[test]
fn time_filters_prune_row_groups_by_statistics() {
    // One segment of 10 row groups of 1,000 events, in stage time order; a bound in the
    // middle keeps the row groups before it and prunes the others. (`time`, when the request
    // was received, is not ordered: a long watch ends long after it began.)
    let events: Vec<AuditEvent> = synth::Generator::new(5, synth::SynthConfig::default())
        .take(10_000)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment.parquet");
    let file = std::fs::File::create(&path).unwrap();
    let numbered = events
        .iter()
        .enumerate()
        .map(|(at, event)| (at as u64, event));
    index::write_segment_with(file, numbered, 1_000).unwrap();
    let dataset = index::Dataset::new(vec![index::Segment::open(&path).unwrap()]);
    let bound = events[4_500].stage_time.unwrap();
    let options = Options {
        threads: 1,
        ..Options::default()
    };
    let text = format!(
        "SELECT count(*) FROM events WHERE stage_time < TIMESTAMP '{}'",
        bound.to_rfc3339()
    );
    let plan = plan_of(&sql::run(&dataset, &format!("EXPLAIN ANALYZE {text}"), &options).unwrap());
    // "10 total → 5 matched -> 4 fully matched"
    let pruned = metric(&plan, "row_groups_pruned_statistics");
    assert!(pruned.starts_with("10 total → 5 matched"), "{plan}");
    let expected = events
        .iter()
        .filter(|event| event.stage_time.is_some_and(|time| time < bound))
        .count();
    assert!((4_000..5_000).contains(&expected));
    let answer = sql::run(&dataset, &text, &options).unwrap();
    assert_eq!(
        answer.rows,
        vec![vec![json!(expected)]],
        "pruning loses no row"
    );
}

#[test]
fn answers_are_cut_at_the_row_limit_and_say_so() {
    let options = Options {
        rows_max: 7,
        ..Options::default()
    };
    let answer = query_with("SELECT ledger_seq FROM events", &options).unwrap();
    assert_eq!(answer.rows.len(), 7);
    assert!(answer.truncated);
    let answer = query_with("SELECT ledger_seq FROM events LIMIT 7", &options).unwrap();
    assert_eq!(answer.rows.len(), 7);
    assert!(!answer.truncated, "exactly the limit is not cut");
}

#[test]
fn repeated_column_names_are_made_unique() {
    let answer = query(
        "SELECT a.verb, b.verb FROM events a JOIN events b ON a.ledger_seq = b.ledger_seq LIMIT 1",
    );
    let names: Vec<&str> = answer
        .columns
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["verb", "verb_2"]);
    let objects = serde_json::to_value(answer.objects()).unwrap();
    assert_eq!(objects[0]["verb"], objects[0]["verb_2"]);
}

#[test]
fn errors_say_what_to_do_next() {
    let error = |text: &str| query_with(text, &Options::default()).unwrap_err();
    let syntax = error("SELEC count(*) FROM events");
    assert!(matches!(syntax, Error::Syntax { .. }), "{syntax:?}");
    assert!(syntax.to_string().contains("SQL syntax error"), "{syntax}");

    let column = error("SELECT usr FROM events");
    let Error::UnknownColumn { name, valid, .. } = &column else {
        panic!("{column:?}");
    };
    assert_eq!(name, "usr");
    assert!(valid.contains("user") && valid.contains("verb"), "{valid}");
    let message = column.to_string();
    assert!(message.contains("auditrail sql --columns"), "{message}");
    assert!(message.contains("(did you mean user?)"), "{message}");

    let table = error("SELECT * FROM evnts");
    assert!(matches!(table, Error::UnknownTable { .. }), "{table:?}");
    assert!(
        table.to_string().contains("the only table is `events`"),
        "{table}"
    );

    let function = error("SELECT no_such_function(verb) FROM events");
    assert!(matches!(function, Error::Plan { .. }), "{function:?}");

    assert!(matches!(error("   "), Error::Empty));
    let long = format!("SELECT '{}'", "x".repeat(sql::limits::QUERY_BYTES_MAX));
    assert!(matches!(error(&long), Error::TooLong { .. }));
    for text in [
        "CREATE TABLE t AS SELECT 1",
        "DROP TABLE events",
        "INSERT INTO events SELECT * FROM events",
        "SET datafusion.execution.batch_size = 1",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
    ] {
        let refused = error(text);
        assert!(
            matches!(refused, Error::NotAQuery { .. }),
            "{text}: {refused:?}"
        );
        assert!(refused.is_user_error());
    }
    let out = trail().dir.path().join("copy.csv");
    let refused = error(&format!("COPY events TO '{}'", out.display()));
    assert!(matches!(refused, Error::NotAQuery { .. }), "{refused:?}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn memory_and_time_limits_stop_costly_queries() {
    let small = Options {
        memory_bytes: 1024 * 1024,
        ..Options::default()
    };
    let error = query_with("SELECT * FROM events ORDER BY uri, rest", &small).unwrap_err();
    assert!(matches!(error, Error::Memory { .. }), "{error:?}");
    assert!(error.to_string().contains("narrow it"), "{error}");

    let quick = Options {
        timeout: Some(Duration::from_millis(200)),
        ..Options::default()
    };
    let error = query_with(
        "SELECT count(*) FROM events a, events b, events c WHERE a.uri < b.uri AND b.uri < c.uri",
        &quick,
    )
    .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}

#[test]
fn describe_lists_the_documented_columns() {
    let answer = query("DESCRIBE events");
    let described: Vec<&str> = answer
        .rows
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    let documented: Vec<&str> = sql::columns().iter().map(|column| column.name).collect();
    assert_eq!(described, documented);
}

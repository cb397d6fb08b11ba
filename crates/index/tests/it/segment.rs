//! Segments: round trip, order, statistics pruning, point lookups, the tail.

use std::collections::BTreeMap;

use event::{
    Actor, AuditEvent, Level, ObjectRef, Origin, Outcome, RawJson, ResponseStatus, SourceKind,
    Stage, Timestamp,
};
use index::{
    Dataset, Filter, KeyIndex, Segment, TextPattern, read_segment, write_segment,
    write_segment_with,
};
use synth::{Generator, SynthConfig};

pub(crate) fn synth_events(count: usize) -> Vec<(u64, AuditEvent)> {
    Generator::new(7, SynthConfig::default())
        .take(count)
        .enumerate()
        .map(|(at, event)| (at as u64 + 1, event))
        .collect()
}

pub(crate) fn write(dir: &std::path::Path, name: &str, events: &[(u64, AuditEvent)]) -> Segment {
    write_grouped(dir, name, events, usize::MAX)
}

pub(crate) fn write_grouped(
    dir: &std::path::Path,
    name: &str,
    events: &[(u64, AuditEvent)],
    row_group_rows: usize,
) -> Segment {
    let path = dir.join(format!("{name}.parquet"));
    let file = std::fs::File::create(&path).unwrap();
    let written = write_segment_with(
        file,
        events.iter().map(|(seq, event)| (*seq, event)),
        row_group_rows,
    )
    .unwrap();
    assert_eq!(written.meta.rows, events.len() as u64);
    let keys = KeyIndex::from_bytes(&written.keys.to_bytes()).unwrap();
    Segment::open(&path).unwrap().with_keys(keys)
}

/// Events that exercise every NULL / empty / Some("") distinction of the schema.
fn edge_events() -> Vec<(u64, AuditEvent)> {
    let full = AuditEvent {
        origin: Origin {
            source: SourceKind::Okd,
            input: Some("/var/log/x.log".into()),
            line: Some(3),
            offset: Some(99),
        },
        id: "id-1".into(),
        stage: Some(Stage::ResponseStarted),
        level: Some(Level::RequestResponse),
        time: Some(Timestamp::from_unix_nanos(1_700_000_000_123_456_789)),
        stage_time: Some(Timestamp::from_unix_nanos(1_700_000_001_000_000_000)),
        user: Actor {
            name: "alice".into(),
            uid: "u1".into(),
            groups: Some(vec![]),
            extra: Some(BTreeMap::from([("k".into(), vec!["v".into()])])),
            login: Some(String::new()),
        },
        impersonated_user: Some(Actor::default()),
        verb: "update".into(),
        method: Some(String::new()),
        object: Some(ObjectRef {
            resource: "configmaps".into(),
            namespace: String::new(),
            name: "cm".into(),
            uid: "o1".into(),
            api_group: Some(String::new()),
            api_version: "v1".into(),
            resource_version: "12".into(),
            subresource: String::new(),
        }),
        uri: "/api/v1/configmaps/cm?x=1".into(),
        paths: vec!["/etc/passwd".into()],
        source_ips: vec!["10.0.0.1".into(), "10.0.0.2".into()],
        source_port: Some(443),
        user_agent: Some(String::new()),
        node: Some("n1".into()),
        status: Some(ResponseStatus {
            code: None,
            status: "Failure".into(),
            reason: "Conflict".into(),
            message: "m".into(),
            details: Some(RawJson::from_string(r#"{"name": "cm"}"#.into()).unwrap()),
        }),
        outcome: Outcome::Failure,
        annotations: BTreeMap::from([
            ("authorization.k8s.io/decision".into(), "allow".into()),
            ("authorization.k8s.io/reason".into(), "".into()),
        ]),
        request_object: Some(RawJson::from_string("{ \"a\" : [1, 2] }".into()).unwrap()),
        response_object: Some(RawJson::from_string("null".into()).unwrap()),
        extensions: event::Extensions {
            unknown: vec![event::UnknownField {
                scope: event::Scope::ObjectRef,
                name: "x".into(),
                value: RawJson::from_string("[true]".into()).unwrap(),
            }],
            kind: Some("Event".into()),
            api_version: None,
        },
    };
    let object_default = AuditEvent {
        object: Some(ObjectRef::default()),
        status: Some(ResponseStatus::default()),
        ..AuditEvent::default()
    };
    vec![
        (1, AuditEvent::default()),
        (2, full),
        (5, object_default),
        (
            9,
            AuditEvent {
                stage_time: Some(Timestamp::from_unix_nanos(-5)),
                status: Some(ResponseStatus {
                    code: Some(200),
                    ..ResponseStatus::default()
                }),
                ..AuditEvent::default()
            },
        ),
    ]
}

#[test]
fn events_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = edge_events();
    let base = events.len() as u64 + 10;
    events.extend(
        synth_events(3000)
            .into_iter()
            .map(|(seq, event)| (seq + base, event)),
    );
    let segment = write(dir.path(), "a", &events);
    assert_eq!(segment.read_events().unwrap(), events);
    assert_eq!(read_segment(segment.path()).unwrap(), events);
    let rows = segment.read_rows(&[3, 1, 2000, 1]).unwrap();
    assert_eq!(
        rows,
        vec![events[1].clone(), events[3].clone(), events[2000].clone()]
    );
}

#[test]
fn tail_round_trips_through_a_query() {
    let events = edge_events();
    let dataset = Dataset::new(Vec::new()).with_tail(events.clone()).unwrap();
    let result = dataset.query(&Filter::default(), 100).unwrap();
    let mut expected = events.clone();
    expected.sort_by_key(|(seq, event)| std::cmp::Reverse((event.when(), *seq)));
    assert_eq!(result.events, expected);
}

#[test]
fn sequence_must_increase() {
    let events = edge_events();
    let error = write_segment(Vec::new(), [(2, &events[0].1), (2, &events[1].1)]).unwrap_err();
    assert!(error.to_string().contains("increasing"), "{error}");
}

#[test]
fn statistics_and_bloom_filters_skip_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let group = 2000;
    let count = group * 3 + 10;
    let events = synth_events(count);
    let segment = write_grouped(dir.path(), "big", &events, group);
    assert_eq!(segment.row_groups(), 4);
    let dataset = Dataset::new(vec![segment]).with_threads(2);

    // Time: only the last row group can hold events after this time.
    let last_group_start = events[group * 3].1.when().unwrap();
    let later = events
        .iter()
        .filter(|(_, event)| event.when() > Some(last_group_start))
        .count();
    let filter = Filter {
        since: Some(Timestamp::from_unix_nanos(
            last_group_start.unix_nanos() + 1,
        )),
        ..Filter::default()
    };
    let result = dataset.query(&filter, usize::MAX).unwrap();
    assert_eq!(result.events.len(), later);
    assert!(result.stats.pruned_by_statistics >= 2, "{:?}", result.stats);

    // Equality: a user that does not exist is excluded by min/max or the bloom filter.
    let filter = Filter {
        users: vec![TextPattern::Exact("mallory@example.com".into())],
        ..Filter::default()
    };
    let result = dataset.query(&filter, 10).unwrap();
    assert!(result.events.is_empty());
    assert_eq!(
        result.stats.pruned_by_statistics + result.stats.pruned_by_bloom_filter,
        4,
        "{:?}",
        result.stats
    );
    assert_eq!(result.stats.rows_scanned, 0);

    // A sparse selection is read row by row in the second step; it finds what a naive
    // filter finds, in the same order.
    for filter in [
        Filter {
            verbs: vec![TextPattern::parse("delete")],
            resources: vec![TextPattern::parse("pods")],
            ..Filter::default()
        },
        Filter {
            verbs: vec![TextPattern::parse("get")],
            ..Filter::default()
        },
    ] {
        let mut expected: Vec<_> = events
            .iter()
            .filter(|(_, event)| filter.matches(event))
            .cloned()
            .collect();
        expected.sort_by_key(|(seq, event)| std::cmp::Reverse((event.when(), *seq)));
        assert!(!expected.is_empty());
        let result = dataset.query(&filter, usize::MAX).unwrap();
        assert_eq!(result.events, expected);
    }

    // A glob cannot be pruned, and still finds the same rows as a naive filter.
    let filter = Filter {
        users: vec![TextPattern::parse("*mallory*")],
        ..Filter::default()
    };
    let result = dataset.query(&filter, 10).unwrap();
    assert_eq!(result.stats.pruned_by_statistics, 0);
    assert_eq!(result.stats.rows_scanned, count as u64);
}

#[test]
fn lookups_by_id_and_object() {
    let dir = tempfile::tempdir().unwrap();
    let events = synth_events(5000);
    let (sealed, tail) = events.split_at(4000);
    let segment = write(dir.path(), "s", sealed);
    let unindexed = write(dir.path(), "u", &sealed[..0]);
    let dataset = Dataset::new(vec![segment, unindexed])
        .with_tail(tail.to_vec())
        .unwrap();

    let id = &events[1234].1.id;
    let expected: Vec<_> = events
        .iter()
        .filter(|(_, event)| &event.id == id)
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(dataset.lookup_id(id).unwrap(), expected);

    let object = events
        .iter()
        .rev()
        .find_map(|(_, event)| event.object.clone().filter(|o| !o.name.is_empty()))
        .unwrap();
    let mut expected: Vec<_> = events
        .iter()
        .filter(|(_, event)| {
            event.object.as_ref().is_some_and(|o| {
                o.resource == object.resource
                    && o.namespace == object.namespace
                    && o.name == object.name
            })
        })
        .cloned()
        .collect();
    expected.sort_by_key(|(seq, event)| (event.when(), *seq));
    let found = dataset
        .object_events(&object.resource, &object.namespace, &object.name)
        .unwrap();
    assert_eq!(found, expected);
}

/// A built segment is the same file whether its columns are encoded on one thread or
/// several, that file is what `write_segment` writes for the same events, and it reads back.
#[test]
fn built_segments_encode_columns_on_threads_to_the_same_file() {
    let events = synth_events(3000);
    let mut builder = index::SegmentBuilder::new();
    for (seq, event) in &events {
        builder.push(*seq, event).unwrap();
    }
    let built = builder.finish().unwrap();
    let mut one = Vec::new();
    built.write_to(&mut one, 1).unwrap();
    for threads in [2, 5] {
        let mut many = Vec::new();
        built.write_to(&mut many, threads).unwrap();
        assert!(one == many, "{threads} threads wrote another file");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("built.parquet");
    std::fs::write(&path, &one).unwrap();
    assert_eq!(read_segment(&path).unwrap(), events);
    let streamed = dir.path().join("streamed.parquet");
    write_segment(
        std::fs::File::create(&streamed).unwrap(),
        events.iter().map(|(seq, event)| (*seq, event)),
    )
    .unwrap();
    assert!(
        std::fs::read(&streamed).unwrap() == one,
        "the streamed file differs"
    );
}

/// The identifying times of rows with every mix of stage time and request time: the
/// bounds from the statistics cover each row's stage time (else request time), and a row
/// with neither is announced.
#[test]
fn identity_times_cover_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let at = |nanos: i64| Some(Timestamp::from_unix_nanos(nanos));
    // (time, stage_time) per row.
    let cases: [&[(Option<Timestamp>, Option<Timestamp>)]; 5] = [
        &[(at(5), at(50)), (at(1), at(60)), (at(7), at(40))],
        &[(at(5), None), (at(9), None), (None, at(3))],
        &[(None, None), (at(100), at(200))],
        &[(None, at(-5)), (None, at(8))],
        &[
            (at(30), at(31)),
            (at(10), at(11)),
            (None, None),
            (at(1), at(2)),
        ],
    ];
    for (number, rows) in cases.iter().enumerate() {
        let events: Vec<(u64, AuditEvent)> = rows
            .iter()
            .enumerate()
            .map(|(seq, (time, stage_time))| {
                (
                    seq as u64,
                    AuditEvent {
                        id: format!("e{seq}"),
                        time: *time,
                        stage_time: *stage_time,
                        ..AuditEvent::default()
                    },
                )
            })
            .collect();
        for row_group_rows in [1, 2, usize::MAX] {
            write_grouped(dir.path(), "times", &events, row_group_rows);
            let segment = Segment::open_footer(dir.path().join("times.parquet")).unwrap();
            let times = segment.identity_times().unwrap();
            let exact: Vec<Option<i64>> = rows
                .iter()
                .map(|(time, stage_time)| stage_time.or(*time).map(Timestamp::unix_nanos))
                .collect();
            let (low, high) = times.range.unwrap_or((i64::MAX, i64::MIN));
            for value in exact.iter().flatten() {
                assert!(
                    (low..=high).contains(value),
                    "case {number}, groups of {row_group_rows}: {value} outside {times:?}"
                );
            }
            if exact.contains(&None) {
                assert!(
                    times.untimed,
                    "case {number}, groups of {row_group_rows}: {times:?}"
                );
            }
            if row_group_rows == 1 {
                // One row per group: the statistics are exact.
                assert_eq!(times.untimed, exact.contains(&None), "case {number}");
                let present: Vec<i64> = exact.iter().flatten().copied().collect();
                let bounds = present
                    .iter()
                    .min()
                    .zip(present.iter().max())
                    .map(|(a, b)| (*a, *b));
                assert_eq!(times.range, bounds, "case {number}");
            }
        }
    }
    // With a stage time on every row, the bounds are exactly the stage times'.
    let events: Vec<(u64, AuditEvent)> = [(at(5), at(50)), (at(1), at(60))]
        .iter()
        .enumerate()
        .map(|(seq, (time, stage_time))| {
            (
                seq as u64,
                AuditEvent {
                    time: *time,
                    stage_time: *stage_time,
                    ..AuditEvent::default()
                },
            )
        })
        .collect();
    let segment = write(dir.path(), "stages", &events);
    assert_eq!(
        segment.identity_times(),
        Some(index::IdentityTimes {
            range: Some((50, 60)),
            untimed: false,
        })
    );
}

//! Filters: each form on a small set, and a property test that the columnar scan (segments
//! with many small row groups, plus a tail) selects exactly what `Filter::matches` selects
//! over a plain `Vec<AuditEvent>`.

use event::{Actor, AuditEvent, ObjectRef, Origin, ResponseStatus, SourceKind, Stage, Timestamp};
use index::{CodeMatch, Dataset, Filter, TextPattern};
use proptest::prelude::*;

use crate::segment::write_grouped;

const USERS: [&str; 5] = [
    "",
    "alice@example.com",
    "bob@example.com",
    "system:node:w1",
    "system:serviceaccount:kube-system:gc",
];
const VERBS: [&str; 5] = ["", "get", "list", "delete", "create"];
const RESOURCES: [&str; 4] = ["", "pods", "secrets", "configmaps"];
const NAMESPACES: [&str; 4] = ["", "default", "payments", "kube-system"];
const NAMES: [&str; 4] = ["", "web-1", "db", "web-2"];
const CODES: [Option<u16>; 6] = [None, Some(200), Some(201), Some(403), Some(404), Some(500)];
const SOURCES: [SourceKind; 3] = [SourceKind::K8s, SourceKind::Dcos, SourceKind::Okd];

pub(crate) struct Spec {
    pub(crate) seconds: Option<i64>,
    pub(crate) stage_seconds: Option<i64>,
    pub(crate) user: &'static str,
    pub(crate) verb: &'static str,
    pub(crate) object: Option<(&'static str, &'static str, &'static str)>,
    pub(crate) code: Option<u16>,
    pub(crate) source: SourceKind,
}

pub(crate) fn make(spec: &Spec) -> AuditEvent {
    AuditEvent {
        origin: Origin {
            source: spec.source,
            ..Origin::default()
        },
        stage: Some(Stage::ResponseComplete),
        time: spec.seconds.map(Timestamp::from_unix_seconds),
        stage_time: spec.stage_seconds.map(Timestamp::from_unix_seconds),
        user: Actor {
            name: spec.user.to_owned(),
            ..Actor::default()
        },
        verb: spec.verb.to_owned(),
        object: spec.object.map(|(resource, namespace, name)| ObjectRef {
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ..ObjectRef::default()
        }),
        status: spec.code.map(|code| ResponseStatus {
            code: Some(code),
            ..ResponseStatus::default()
        }),
        ..AuditEvent::default()
    }
}

fn event_strategy() -> impl Strategy<Value = AuditEvent> {
    (
        (
            prop::option::weighted(0.9, 0_i64..100),
            prop::option::of(0_i64..100),
        ),
        0..USERS.len(),
        0..VERBS.len(),
        prop::option::weighted(
            0.8,
            (0..RESOURCES.len(), 0..NAMESPACES.len(), 0..NAMES.len()),
        ),
        0..CODES.len(),
        0..SOURCES.len(),
    )
        .prop_map(
            |((seconds, stage_seconds), user, verb, object, code, source)| {
                make(&Spec {
                    seconds,
                    stage_seconds,
                    user: USERS[user],
                    verb: VERBS[verb],
                    object: object.map(|(r, n, m)| (RESOURCES[r], NAMESPACES[n], NAMES[m])),
                    code: CODES[code],
                    source: SOURCES[source],
                })
            },
        )
}

fn patterns(words: &'static [&'static str]) -> impl Strategy<Value = Vec<TextPattern>> {
    prop::collection::vec(
        prop_oneof![
            (0..words.len()).prop_map(move |at| TextPattern::parse(words[at])),
            (0..words.len()).prop_map(move |at| {
                let word = words[at];
                let cut = word.len() / 2;
                TextPattern::parse(&format!("{}*", &word[..cut]))
            }),
            (0..words.len()).prop_map(move |at| {
                let word = words[at];
                let middle = &word[word.len() / 3..(2 * word.len() / 3)];
                TextPattern::parse(&format!("*{middle}*"))
            }),
        ],
        0..3,
    )
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    (
        prop::option::of(0_i64..100),
        prop::option::of(0_i64..110),
        patterns(&USERS),
        patterns(&VERBS),
        patterns(&RESOURCES),
        patterns(&NAMESPACES),
        patterns(&NAMES),
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![200_u16, 201, 403, 404, 500, 302])
                    .prop_map(CodeMatch::Exact),
                (2_u16..6).prop_map(CodeMatch::Class),
            ],
            0..3,
        ),
        prop::collection::vec(prop::sample::select(SOURCES.to_vec()), 0..2),
    )
        .prop_map(
            |(since, until, users, verbs, resources, namespaces, names, codes, sources)| Filter {
                since: since.map(Timestamp::from_unix_seconds),
                until: until.map(Timestamp::from_unix_seconds),
                users,
                verbs,
                resources,
                namespaces,
                names,
                codes,
                sources,
            },
        )
}

fn naive(events: &[(u64, AuditEvent)], filter: &Filter) -> Vec<(u64, AuditEvent)> {
    let mut selected: Vec<_> = events
        .iter()
        .filter(|(_, event)| filter.matches(event))
        .cloned()
        .collect();
    selected.sort_by_key(|(seq, event)| std::cmp::Reverse((event.when(), *seq)));
    selected
}

/// Writes the first two thirds as segments of row groups of 7 rows and keeps the rest as
/// the tail.
pub(crate) fn dataset(dir: &std::path::Path, events: &[(u64, AuditEvent)]) -> Dataset {
    let split = events.len() * 2 / 3;
    let (sealed, tail) = events.split_at(split);
    let (first, second) = sealed.split_at(sealed.len() / 2);
    let segments = vec![
        write_grouped(dir, "one", first, 7),
        write_grouped(dir, "two", second, 7),
    ];
    Dataset::new(segments).with_tail(tail.to_vec()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn scan_selects_what_the_naive_filter_selects(
        events in prop::collection::vec(event_strategy(), 0..120),
        filters in prop::collection::vec(filter_strategy(), 1..8),
        limit in 1_usize..200,
    ) {
        let events: Vec<(u64, AuditEvent)> = events
            .into_iter()
            .enumerate()
            .map(|(at, event)| (at as u64 * 3 + 1, event))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let dataset = dataset(dir.path(), &events);
        for filter in &filters {
            let expected = naive(&events, filter);
            let result = dataset.query(filter, limit).unwrap();
            prop_assert_eq!(result.stats.rows_matched as usize, expected.len());
            prop_assert_eq!(result.truncated, expected.len() > limit);
            let expected: Vec<_> = expected.into_iter().take(limit).collect();
            prop_assert_eq!(result.events, expected);
        }
    }
}

fn sample() -> Vec<(u64, AuditEvent)> {
    let specs = [
        Spec {
            seconds: Some(10),
            stage_seconds: Some(11),
            user: "alice@example.com",
            verb: "delete",
            object: Some(("secrets", "payments", "db")),
            code: Some(200),
            source: SourceKind::K8s,
        },
        Spec {
            seconds: Some(20),
            stage_seconds: None,
            user: "bob@example.com",
            verb: "get",
            object: Some(("pods", "default", "web-1")),
            code: Some(404),
            source: SourceKind::K8s,
        },
        Spec {
            seconds: None,
            stage_seconds: Some(30),
            user: "system:serviceaccount:kube-system:gc",
            verb: "delete",
            object: Some(("pods", "default", "web-2")),
            code: Some(500),
            source: SourceKind::K8s,
        },
        Spec {
            seconds: Some(40),
            stage_seconds: None,
            user: "",
            verb: "get",
            object: None,
            code: Some(403),
            source: SourceKind::K8s,
        },
        Spec {
            seconds: Some(50),
            stage_seconds: None,
            user: "alice@example.com",
            verb: "create",
            object: Some(("configmaps", "payments", "web-1")),
            code: Some(201),
            source: SourceKind::Dcos,
        },
        Spec {
            seconds: None,
            stage_seconds: None,
            user: "bob@example.com",
            verb: "list",
            object: Some(("pods", "", "")),
            code: None,
            source: SourceKind::Okd,
        },
    ];
    specs
        .iter()
        .enumerate()
        .map(|(at, spec)| (at as u64 + 1, make(spec)))
        .collect()
}

fn seqs(dataset: &Dataset, filter: Filter) -> Vec<u64> {
    dataset
        .query(&filter, 100)
        .unwrap()
        .events
        .into_iter()
        .map(|(seq, _)| seq)
        .collect()
}

#[test]
fn each_filter_form() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample();
    let dataset = dataset(dir.path(), &events);
    let exact = |text: &str| vec![TextPattern::parse(text)];
    // Newest first; events without a time last.
    assert_eq!(seqs(&dataset, Filter::default()), vec![5, 4, 3, 2, 1, 6]);
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                users: exact("alice@example.com"),
                ..Filter::default()
            }
        ),
        vec![5, 1]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                users: exact("alice"),
                ..Filter::default()
            }
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                users: exact("*alice*"),
                ..Filter::default()
            }
        ),
        vec![5, 1]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                users: exact("system:serviceaccount:*"),
                ..Filter::default()
            }
        ),
        vec![3]
    );
    // The anonymous (empty) user never matches, not even `*`.
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                users: exact("*"),
                ..Filter::default()
            }
        ),
        vec![5, 3, 2, 1, 6]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                verbs: vec![TextPattern::parse("delete"), TextPattern::parse("create")],
                ..Filter::default()
            }
        ),
        vec![5, 3, 1]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                resources: exact("pods"),
                ..Filter::default()
            }
        ),
        vec![3, 2, 6]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                namespaces: exact("payments"),
                ..Filter::default()
            }
        ),
        vec![5, 1]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                names: exact("web-*"),
                ..Filter::default()
            }
        ),
        vec![5, 3, 2]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                codes: vec![CodeMatch::Class(4)],
                ..Filter::default()
            }
        ),
        vec![4, 2]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                codes: vec![CodeMatch::Exact(500), CodeMatch::Exact(201)],
                ..Filter::default()
            }
        ),
        vec![5, 3]
    );
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                sources: vec![SourceKind::Dcos, SourceKind::Okd],
                ..Filter::default()
            }
        ),
        vec![5, 6]
    );
    // since is inclusive, until exclusive; stage time stands in for a missing time.
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                since: Some(Timestamp::from_unix_seconds(20)),
                until: Some(Timestamp::from_unix_seconds(50)),
                ..Filter::default()
            }
        ),
        vec![4, 3, 2]
    );
    // Fields combine with "and".
    assert_eq!(
        seqs(
            &dataset,
            Filter {
                verbs: exact("delete"),
                namespaces: exact("payments"),
                resources: exact("secrets"),
                ..Filter::default()
            }
        ),
        vec![1]
    );
    assert_eq!(
        dataset.query(&Filter::default(), 2).unwrap().events.len(),
        2
    );
    assert!(dataset.query(&Filter::default(), 2).unwrap().truncated);
}

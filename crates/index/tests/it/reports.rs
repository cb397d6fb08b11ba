//! Each report on a small hand-built event set, with exact expected rows.

use event::{
    Actor, AuditEvent, ObjectRef, Origin, RawJson, ResponseStatus, SourceKind, Stage, Timestamp,
};
use index::report::{
    self, ChargebackBy, ChargebackRow, ClassRow, CodeRow, Counts, Dimension, ErrorDetail, TopRow,
};
use index::{Dataset, Filter, TextPattern};
use serde_json::json;

use crate::filters::dataset;

struct E {
    seconds: i64,
    stage: Stage,
    user: &'static str,
    groups: &'static [&'static str],
    impersonated: Option<&'static str>,
    verb: &'static str,
    method: Option<&'static str>,
    object: Option<(&'static str, &'static str, &'static str)>,
    uri: &'static str,
    code: u16,
    source: SourceKind,
    response: Option<serde_json::Value>,
}

const BASE: E = E {
    seconds: 0,
    stage: Stage::ResponseComplete,
    user: "",
    groups: &[],
    impersonated: None,
    verb: "",
    method: None,
    object: None,
    uri: "/",
    code: 200,
    source: SourceKind::K8s,
    response: None,
};

fn build(spec: E) -> AuditEvent {
    AuditEvent {
        origin: Origin {
            source: spec.source,
            ..Origin::default()
        },
        stage: (spec.source == SourceKind::K8s).then_some(spec.stage),
        time: Some(Timestamp::from_unix_seconds(spec.seconds)),
        user: Actor {
            name: spec.user.to_owned(),
            groups: (!spec.groups.is_empty())
                .then(|| spec.groups.iter().map(|g| (*g).to_owned()).collect()),
            ..Actor::default()
        },
        impersonated_user: spec.impersonated.map(|name| Actor {
            name: name.to_owned(),
            ..Actor::default()
        }),
        verb: spec.verb.to_owned(),
        method: spec.method.map(str::to_owned),
        object: spec.object.map(|(resource, namespace, name)| ObjectRef {
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ..ObjectRef::default()
        }),
        uri: spec.uri.to_owned(),
        status: (spec.stage != Stage::RequestReceived).then_some(ResponseStatus {
            code: Some(spec.code),
            ..ResponseStatus::default()
        }),
        response_object: spec
            .response
            .map(|value| RawJson::from_value(&value).unwrap()),
        ..AuditEvent::default()
    }
}

fn events() -> Vec<(u64, AuditEvent)> {
    let api = Some(("deployments", "payments", "api"));
    let specs = vec![
        E {
            seconds: 10,
            user: "alice",
            groups: &["dev-team"],
            verb: "create",
            object: api,
            code: 201,
            response: Some(json!({"kind": "Deployment", "spec": {"replicas": 1}})),
            ..BASE
        },
        E {
            seconds: 10,
            stage: Stage::RequestReceived,
            user: "alice",
            groups: &["dev-team"],
            verb: "create",
            object: api,
            ..BASE
        },
        E {
            seconds: 20,
            user: "bob",
            groups: &["sre-team"],
            verb: "get",
            object: Some(("pods", "default", "web")),
            ..BASE
        },
        E {
            seconds: 30,
            user: "alice",
            groups: &["dev-team"],
            verb: "patch",
            object: api,
            response: Some(json!({"kind": "Deployment", "spec": {"replicas": 3}})),
            ..BASE
        },
        E {
            seconds: 40,
            stage: Stage::ResponseStarted,
            uri: "/api?timeout=1s",
            code: 401,
            ..BASE
        },
        E {
            seconds: 50,
            user: "bob",
            groups: &["sre-team"],
            impersonated: Some("alice"),
            verb: "delete",
            object: api,
            response: Some(json!({"kind": "Status", "status": "Success"})),
            ..BASE
        },
        E {
            seconds: 60,
            user: "carol",
            method: Some("PUT"),
            uri: "/service/marathon/v2/apps/x?force=true",
            code: 403,
            source: SourceKind::Dcos,
            ..BASE
        },
        E {
            seconds: 70,
            stage: Stage::ResponseStarted,
            user: "alice",
            groups: &["dev-team"],
            verb: "watch",
            object: Some(("pods", "default", "")),
            ..BASE
        },
        E {
            seconds: 80,
            user: "bob",
            groups: &["sre-team"],
            verb: "get",
            object: Some(("secrets", "payments", "db")),
            uri: "/api/v1/namespaces/payments/secrets/db",
            code: 404,
            ..BASE
        },
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(at, spec)| (at as u64 + 1, build(spec)))
        .collect()
}

fn counts(requests: u64, writes: u64, errors: u64) -> Counts {
    Counts {
        requests,
        writes,
        errors,
    }
}

fn top(key: Option<&str>, requests: u64, writes: u64, errors: u64) -> TopRow {
    TopRow {
        key: key.map(str::to_owned),
        counts: counts(requests, writes, errors),
    }
}

fn with_dataset(check: impl Fn(&Dataset)) {
    let dir = tempfile::tempdir().unwrap();
    check(&dataset(dir.path(), &events()));
    // The same answers with everything sealed and with everything in the tail.
    check(&Dataset::new(vec![crate::segment::write_grouped(
        dir.path(),
        "all",
        &events(),
        2,
    )]));
    check(&Dataset::new(Vec::new()).with_tail(events()).unwrap());
}

#[test]
fn top_users_by_user_and_group() {
    with_dataset(|dataset| {
        let filter = Filter::default();
        assert_eq!(
            report::top_users(dataset, &filter, Dimension::User, 10).unwrap(),
            vec![
                top(Some("bob"), 3, 1, 1),
                top(Some("alice"), 2, 2, 0),
                top(None, 1, 0, 1),
                top(Some("carol"), 1, 1, 1),
            ]
        );
        assert_eq!(
            report::top_users(dataset, &filter, Dimension::Group, 2).unwrap(),
            vec![top(Some("sre-team"), 3, 1, 1), top(None, 2, 1, 2)]
        );
        assert_eq!(
            report::top_users(dataset, &filter, Dimension::Resource, 10).unwrap(),
            vec![
                top(Some("deployments"), 3, 3, 0),
                top(None, 2, 1, 2),
                top(Some("pods"), 1, 0, 0),
                top(Some("secrets"), 1, 0, 1),
            ]
        );
    });
}

#[test]
fn codes_with_the_users_and_paths_behind_errors() {
    with_dataset(|dataset| {
        let report = report::codes(dataset, &Filter::default(), 5).unwrap();
        let code = |code: u16, requests| CodeRow {
            code: Some(code),
            requests,
        };
        assert_eq!(
            report.codes,
            vec![
                code(200, 3),
                code(201, 1),
                code(401, 1),
                code(403, 1),
                code(404, 1)
            ]
        );
        assert_eq!(
            report.classes,
            vec![
                ClassRow {
                    class: Some(2),
                    requests: 4
                },
                ClassRow {
                    class: Some(4),
                    requests: 3
                }
            ]
        );
        assert_eq!(
            report.errors,
            vec![
                ErrorDetail {
                    code: 401,
                    requests: 1,
                    top_users: vec![(None, 1)],
                    top_paths: vec![("/api".to_owned(), 1)]
                },
                ErrorDetail {
                    code: 403,
                    requests: 1,
                    top_users: vec![(Some("carol".to_owned()), 1)],
                    top_paths: vec![("/service/marathon/v2/apps/x".to_owned(), 1)]
                },
                ErrorDetail {
                    code: 404,
                    requests: 1,
                    top_users: vec![(Some("bob".to_owned()), 1)],
                    top_paths: vec![("/api/v1/namespaces/payments/secrets/db".to_owned(), 1)]
                },
            ]
        );
    });
}

#[test]
fn changes_lists_writes_newest_first() {
    with_dataset(|dataset| {
        let rows = report::changes(dataset, &Filter::default(), 10).unwrap();
        let seqs: Vec<u64> = rows.iter().map(|row| row.seq).collect();
        assert_eq!(seqs, vec![7, 6, 4, 1]);
        assert_eq!(rows[0].action(), "PUT");
        assert_eq!(rows[0].object(), "/service/marathon/v2/apps/x");
        assert_eq!(rows[1].user, "bob");
        assert_eq!(rows[1].impersonated_user.as_deref(), Some("alice"));
        assert_eq!(rows[1].object(), "deployments payments/api");
        assert_eq!(rows[3].code, Some(201));
        let filter = Filter {
            namespaces: vec![TextPattern::parse("payments")],
            ..Filter::default()
        };
        let seqs: Vec<u64> = report::changes(dataset, &filter, 2)
            .unwrap()
            .iter()
            .map(|row| row.seq)
            .collect();
        assert_eq!(seqs, vec![6, 4]);
    });
}

#[test]
fn object_history_with_diffs() {
    with_dataset(|dataset| {
        let versions = report::object_history(
            dataset,
            "deployments",
            "payments",
            "api",
            &Filter::default(),
        )
        .unwrap();
        let seqs: Vec<u64> = versions.iter().map(|v| v.request.seq).collect();
        assert_eq!(seqs, vec![1, 4, 6]);
        assert!(versions[0].diff.is_none());
        assert_eq!(
            serde_json::to_value(versions[1].diff.as_ref().unwrap()).unwrap(),
            json!([{"op": "replace", "path": "/spec/replicas", "value": 3}])
        );
        assert!(versions[2].body.is_none());
        assert!(versions[2].diff.is_none());
    });
}

#[test]
fn activity_shows_impersonation() {
    with_dataset(|dataset| {
        let rows = report::activity(
            dataset,
            &TextPattern::parse("alice"),
            &Filter::default(),
            10,
        )
        .unwrap();
        let seqs: Vec<u64> = rows.iter().map(|row| row.seq).collect();
        assert_eq!(seqs, vec![6, 4, 1]);
        assert_eq!(rows[0].user, "bob");
        assert_eq!(rows[0].impersonated_user.as_deref(), Some("alice"));
    });
}

#[test]
fn chargeback_per_namespace_and_group() {
    with_dataset(|dataset| {
        let row = |key: Option<&str>, requests, writes, errors, distinct_users| ChargebackRow {
            key: key.map(str::to_owned),
            counts: counts(requests, writes, errors),
            distinct_users,
        };
        assert_eq!(
            report::chargeback(dataset, &Filter::default(), ChargebackBy::Namespace).unwrap(),
            vec![
                row(Some("payments"), 4, 3, 1, 2),
                row(None, 2, 1, 2, 1),
                row(Some("default"), 1, 0, 0, 1),
            ]
        );
        assert_eq!(
            report::chargeback(dataset, &Filter::default(), ChargebackBy::Group).unwrap(),
            vec![
                row(Some("sre-team"), 3, 1, 1, 1),
                row(None, 2, 1, 2, 1),
                row(Some("dev-team"), 2, 2, 0, 1),
            ]
        );
    });
}

/// One request counted once, written out here from the definitions rather than with
/// the library's own predicate: an event without a stage (other sources), a
/// `ResponseComplete` or `Panic` stage, or a failed `ResponseStarted` (a watch refused).
fn naive_is_request(event: &AuditEvent) -> bool {
    match event.stage {
        None => true,
        Some(Stage::ResponseComplete | Stage::Panic) => true,
        Some(Stage::ResponseStarted) => event.status.as_ref().and_then(|s| s.code) >= Some(400),
        Some(_) => false,
    }
}

/// A write: create, update, patch, delete, deletecollection, or (DC/OS and other HTTP
/// sources) a POST, PUT, PATCH or DELETE request.
fn naive_is_write(event: &AuditEvent) -> bool {
    matches!(
        event.verb.as_str(),
        "create" | "update" | "patch" | "delete" | "deletecollection"
    ) || matches!(
        event.method.as_deref(),
        Some("POST" | "PUT" | "PATCH" | "DELETE")
    )
}

/// The reports over generated traffic agree with a naive computation over the events.
#[test]
fn reports_on_generated_traffic_match_a_naive_count() {
    use std::collections::{BTreeMap, BTreeSet};

    let events = crate::segment::synth_events(20_000);
    let dir = tempfile::tempdir().unwrap();
    let (sealed, tail) = events.split_at(15_000);
    let dataset = Dataset::new(vec![crate::segment::write_grouped(
        dir.path(),
        "generated",
        sealed,
        1000,
    )])
    .with_tail(tail.to_vec())
    .unwrap();
    let requests: Vec<&AuditEvent> = events
        .iter()
        .map(|(_, event)| event)
        .filter(|event| naive_is_request(event))
        .collect();
    let count = |event: &AuditEvent| {
        counts(
            1,
            u64::from(naive_is_write(event)),
            u64::from(event.status.as_ref().and_then(|s| s.code) >= Some(400)),
        )
    };
    let add = |total: &mut Counts, more: Counts| {
        total.requests += more.requests;
        total.writes += more.writes;
        total.errors += more.errors;
    };

    let mut expected = naive_top(&events, &Filter::default(), |event| {
        (!event.user.name.is_empty()).then(|| event.user.name.clone())
    });
    expected.truncate(10);
    assert_eq!(
        report::top_users(&dataset, &Filter::default(), Dimension::User, 10).unwrap(),
        expected
    );

    let mut by_namespace: BTreeMap<Option<String>, (Counts, BTreeSet<String>)> = BTreeMap::new();
    for event in &requests {
        let namespace = (!event.namespace().is_empty()).then(|| event.namespace().to_owned());
        let entry = by_namespace.entry(namespace).or_default();
        add(&mut entry.0, count(event));
        if !event.user.name.is_empty() {
            entry.1.insert(event.user.name.clone());
        }
    }
    let mut expected: Vec<ChargebackRow> = by_namespace
        .into_iter()
        .map(|(key, (counts, users))| ChargebackRow {
            key,
            counts,
            distinct_users: users.len() as u64,
        })
        .collect();
    expected.sort_by(|a, b| {
        b.counts
            .requests
            .cmp(&a.counts.requests)
            .then(a.key.cmp(&b.key))
    });
    assert_eq!(
        report::chargeback(&dataset, &Filter::default(), ChargebackBy::Namespace).unwrap(),
        expected
    );

    let mut by_code: BTreeMap<Option<u16>, u64> = BTreeMap::new();
    for event in &requests {
        *by_code.entry(event.code()).or_default() += 1;
    }
    let expected: Vec<CodeRow> = by_code
        .into_iter()
        .map(|(code, requests)| CodeRow { code, requests })
        .collect();
    assert_eq!(
        report::codes(&dataset, &Filter::default(), 3)
            .unwrap()
            .codes,
        expected
    );

    let writes = requests
        .iter()
        .filter(|event| naive_is_write(event))
        .count();
    assert_eq!(
        report::changes(&dataset, &Filter::default(), usize::MAX)
            .unwrap()
            .len(),
        writes
    );
}

/// Top users per key of `key`, counted event by event (the report's rules, written out).
fn naive_top(
    events: &[(u64, AuditEvent)],
    filter: &Filter,
    key: impl Fn(&AuditEvent) -> Option<String>,
) -> Vec<TopRow> {
    use std::collections::BTreeMap;

    let mut by_key: BTreeMap<Option<String>, Counts> = BTreeMap::new();
    for (_, event) in events {
        if !filter.matches(event) || !naive_is_request(event) {
            continue;
        }
        let total = by_key.entry(key(event)).or_default();
        total.requests += 1;
        total.writes += u64::from(naive_is_write(event));
        total.errors += u64::from(event.status.as_ref().and_then(|s| s.code) >= Some(400));
    }
    let mut rows: Vec<TopRow> = by_key
        .into_iter()
        .map(|(key, counts)| TopRow { key, counts })
        .collect();
    rows.sort_by(|a, b| {
        b.counts
            .requests
            .cmp(&a.counts.requests)
            .then(a.key.cmp(&b.key))
    });
    rows
}

/// A row group longer than a scan batch (`SCAN_BATCH_ROWS`) is read in several batches when
/// read whole: `top-users` (whose count over every row of a batch runs in a loop of its
/// own) and a filtered `query` still count and select every row once, NULL users included.
#[test]
fn reports_over_a_row_group_longer_than_a_scan_batch() {
    use index::limits::{ROW_GROUP_ROWS, SCAN_BATCH_ROWS};

    let count = 2 * SCAN_BATCH_ROWS + 999;
    assert!(count <= ROW_GROUP_ROWS);
    let events = crate::segment::synth_events(count);
    assert!(
        events.iter().any(|(_, event)| event.user.name.is_empty()),
        "the generated traffic has requests without a user"
    );
    let dir = tempfile::tempdir().unwrap();
    let segment = crate::segment::write(dir.path(), "long", &events);
    assert_eq!(segment.row_groups(), 1);
    let dataset = Dataset::new(vec![segment]);

    let user = |event: &AuditEvent| (!event.user.name.is_empty()).then(|| event.user.name.clone());
    let namespace =
        |event: &AuditEvent| (!event.namespace().is_empty()).then(|| event.namespace().to_owned());
    let everything = Filter::default();
    let mut expected = naive_top(&events, &everything, user);
    expected.truncate(50);
    assert!(expected.iter().any(|row| row.key.is_none()));
    assert_eq!(
        report::top_users(&dataset, &everything, Dimension::User, 50).unwrap(),
        expected
    );
    let mut expected = naive_top(&events, &everything, namespace);
    expected.truncate(50);
    assert_eq!(
        report::top_users(&dataset, &everything, Dimension::Namespace, 50).unwrap(),
        expected
    );

    // A filter that selects many rows (the row group is read whole, in batches) and one
    // that selects few (the selected rows only).
    let since = events[count / 3].1.when().unwrap();
    for filter in [
        Filter {
            since: Some(since),
            ..Filter::default()
        },
        Filter {
            verbs: vec![TextPattern::parse("delete")],
            ..Filter::default()
        },
    ] {
        let mut expected = naive_top(&events, &filter, user);
        expected.truncate(50);
        assert_eq!(
            report::top_users(&dataset, &filter, Dimension::User, 50).unwrap(),
            expected,
            "{filter:?}"
        );
        let mut matching: Vec<(u64, AuditEvent)> = events
            .iter()
            .filter(|(_, event)| filter.matches(event))
            .cloned()
            .collect();
        matching.sort_by_key(|(seq, event)| std::cmp::Reverse((event.when(), *seq)));
        let result = dataset.query(&filter, 100).unwrap();
        assert_eq!(result.stats.rows_matched, matching.len() as u64);
        matching.truncate(100);
        assert_eq!(result.events, matching, "{filter:?}");
    }
}

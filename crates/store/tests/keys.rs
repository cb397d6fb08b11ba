//! Deduplication with bounded memory: whatever the history, appends and bulk loads store
//! exactly the events whose identity is not stored, while the keys held in memory stay
//! within the cache's limit plus the row-form tail's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use event::{AuditEvent, SourceKind, Stage, Timestamp};
use proptest::prelude::*;
use store::{Key, Prepared, Store, StoreOptions};

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_760_000_000)
}

fn options() -> StoreOptions {
    StoreOptions {
        origin: Some("test.example/keys".to_owned()),
        ..StoreOptions::default()
    }
}

/// A data directory whose ledger segments are sealed at 1 KiB: a handful of events each.
fn tiny_segment_store(dir: &Path) {
    std::fs::write(
        dir.join("store.json"),
        r#"{"format":"auditrail-store","version":3,"origin":"test.example/keys","segment_bytes":1024}"#,
    )
    .unwrap();
}

const SECOND: i64 = 1_000_000_000;
const BASE: i64 = 1_700_000_000 * SECOND;

/// One generated event: with an audit id (`kind` < 3, keyed by id, stage and time) or
/// without (keyed by content), at one of a few times (`None`: no time at all).
#[derive(Debug, Clone, Copy)]
struct Spec {
    kind: u8,
    n: u8,
    stage: bool,
    time: Option<u8>,
    /// Varies what the key does not cover (the verb of an event with an id): such events are
    /// duplicates all the same.
    noise: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..4,
        0u8..10,
        any::<bool>(),
        prop::option::weighted(0.9, 0u8..24),
        any::<bool>(),
    )
        .prop_map(|(kind, n, stage, time, noise)| Spec {
            kind,
            n,
            stage,
            time,
            noise,
        })
}

fn build(spec: &Spec) -> AuditEvent {
    let at = spec
        .time
        .map(|t| Timestamp::from_unix_nanos(BASE + i64::from(t) * SECOND));
    let mut event = AuditEvent {
        verb: if spec.noise { "get" } else { "list" }.into(),
        uri: format!("/api/v1/namespaces/n{}/pods", spec.n),
        ..AuditEvent::default()
    };
    event.origin.source = SourceKind::K8s;
    if spec.kind < 3 {
        event.id = format!("id-{}-{}", spec.kind, spec.n);
        event.stage = Some(if spec.stage {
            Stage::ResponseComplete
        } else {
            Stage::RequestReceived
        });
        // The request time is earlier; the stage time identifies.
        event.time = at.map(|t| Timestamp::from_unix_nanos(t.unix_nanos() - 3 * SECOND));
        event.stage_time = at;
    } else {
        event.verb = if spec.stage { "get" } else { "list" }.into();
        event.time = at;
    }
    event
}

#[derive(Debug, Clone)]
enum Op {
    /// `Store::append` (the server, `import --no-compact`).
    Append(Vec<Spec>),
    /// A bulk load (`import`), in batches of the given size.
    Load(Vec<Spec>, usize),
    /// Compaction of every sealed row-form segment.
    Compact,
    /// Close and open again.
    Reopen,
    /// Prune the oldest segments down to this percentage of the bytes at rest.
    Prune(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(spec(), 0..30).prop_map(Op::Append),
        3 => (prop::collection::vec(spec(), 0..40), 1usize..12).prop_map(|(specs, size)| Op::Load(specs, size)),
        2 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => (10u8..90).prop_map(Op::Prune),
    ]
}

/// The naive model: the key of every stored event, by sequence number.
#[derive(Debug, Default)]
struct Model {
    stored: BTreeMap<u64, Key>,
}

impl Model {
    /// The events of `events` that are new (first of their key, not stored), by index.
    fn fresh(&self, events: &[AuditEvent]) -> Vec<usize> {
        let known: HashSet<Key> = self.stored.values().copied().collect();
        let mut seen = HashSet::new();
        (0..events.len())
            .filter(|at| {
                let key = store::key(&events[*at]);
                !known.contains(&key) && seen.insert(key)
            })
            .collect()
    }
}

/// The keys of the events stored now, with how often each is stored.
fn stored_keys(store: &Store) -> BTreeMap<Key, u32> {
    let ledger = store.ledger();
    let mut keys = BTreeMap::new();
    for item in ledger.records(ledger.first_seq()..ledger.tree_size()) {
        let (seq, record) = item.unwrap();
        if let Some(event) = store::read_event(seq, &record).unwrap() {
            *keys.entry(store::key(&event)).or_insert(0) += 1;
        }
    }
    keys
}

/// Events in row-form ledger segments (whose keys the store holds as recent).
fn row_form_events(store: &Store) -> u64 {
    let ledger = store.ledger();
    let mut events = 0;
    for segment in ledger.segments().iter().filter(|s| !s.external) {
        let start = segment.first_seq.max(ledger.first_seq());
        for item in ledger.records(start..segment.first_seq + segment.record_count) {
            let (seq, record) = item.unwrap();
            if store::read_event(seq, &record).unwrap().is_some() {
                events += 1;
            }
        }
    }
    events
}

fn check(store: &Store, model: &Model, limit: usize, step: usize) {
    let stored = stored_keys(store);
    let twice: Vec<_> = stored.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "step {step}: stored twice: {twice:?}");
    let expected: HashSet<Key> = model.stored.values().copied().collect();
    let actual: HashSet<Key> = stored.keys().copied().collect();
    assert_eq!(actual, expected, "step {step}");
    let stats = store.key_stats();
    assert!(stats.cached_keys <= limit as u64, "step {step}: {stats:?}");
    assert_eq!(
        stats.recent_keys,
        row_form_events(store),
        "step {step}: {stats:?}"
    );
}

fn run(ops: Vec<Op>, limit: usize) {
    let dir = tempfile::tempdir().unwrap();
    tiny_segment_store(dir.path());
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    store.set_key_cache_limit(limit);
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Append(specs) => {
                let events: Vec<AuditEvent> = specs.iter().map(build).collect();
                let fresh = model.fresh(&events);
                let before = store.ledger().tree_size();
                let mut noted = Vec::new();
                let outcome = store
                    .append_noting_duplicates(&Prepared::from_events(&events), now(), &mut |at| {
                        noted.push(at)
                    })
                    .unwrap();
                assert_eq!(outcome.stored, fresh.len() as u64, "step {step}");
                let expected_duplicates: Vec<usize> =
                    (0..events.len()).filter(|at| !fresh.contains(at)).collect();
                assert_eq!(noted, expected_duplicates, "step {step}");
                for (offset, at) in fresh.iter().enumerate() {
                    model
                        .stored
                        .insert(before + offset as u64, store::key(&events[*at]));
                }
            }
            Op::Load(specs, size) => {
                let events: Vec<AuditEvent> = specs.iter().map(build).collect();
                let fresh = model.fresh(&events);
                let before = store.ledger().tree_size();
                let mut loader = store.loader();
                for chunk in events.chunks(size) {
                    loader
                        .append(&Prepared::from_events(chunk), chunk, now())
                        .unwrap();
                }
                let outcome = loader.finish(now()).unwrap();
                assert_eq!(outcome.accepted, fresh.len() as u64, "step {step}");
                assert_eq!(outcome.stored, fresh.len() as u64, "step {step}");
                assert_eq!(
                    outcome.duplicates,
                    (events.len() - fresh.len()) as u64,
                    "step {step}"
                );
                for (offset, at) in fresh.iter().enumerate() {
                    model
                        .stored
                        .insert(before + offset as u64, store::key(&events[*at]));
                }
            }
            Op::Compact => {
                store.compact(now(), |_| {}).unwrap();
            }
            Op::Reopen => {
                store.close(now()).unwrap();
                store = Store::open(dir.path(), options(), now()).unwrap();
                assert_eq!(
                    store.key_stats().loads,
                    0,
                    "opening reads no keys of segments"
                );
                store.set_key_cache_limit(limit);
            }
            Op::Prune(percent) => {
                let total: u64 = store
                    .plan_prune(&store::PruneCriteria {
                        before: None,
                        max_bytes: Some(u64::MAX),
                    })
                    .unwrap()
                    .kept_bytes;
                let plan = store
                    .plan_prune(&store::PruneCriteria {
                        before: None,
                        max_bytes: Some(total * u64::from(percent) / 100),
                    })
                    .unwrap();
                if store.prune(&plan, "property", now()).unwrap().is_some() {
                    model.stored = model.stored.split_off(&plan.before_seq);
                }
            }
        }
        check(&store, &model, limit, step);
    }
    store.close(now()).unwrap();
    let report = store::verify(dir.path(), &ledger::VerifyOptions::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random appends and loads of events at often repeated, often old times, across many
    /// small segments, interleaved with compaction, reopening and pruning, with a cache of
    /// a few keys: the events stored are always exactly those of the naive model (every key
    /// ever stored, minus those pruned), none twice, none skipped.
    #[test]
    fn dedup_matches_the_naive_model(ops in prop::collection::vec(op(), 1..16), limit in 0usize..40) {
        run(ops, limit);
    }
}

/// Events of `batches` batches of `per_batch` distinct events each, one a second, each batch
/// at times of its own, so that each ledger segment covers its own span of time.
fn timed_batches(batches: usize, per_batch: usize) -> Vec<Vec<AuditEvent>> {
    (0..batches)
        .map(|batch| {
            (0..per_batch)
                .map(|at| {
                    let time = BASE + ((batch * per_batch * 2 + at) as i64) * SECOND;
                    AuditEvent {
                        id: format!("b{batch}-{at}"),
                        stage: Some(Stage::ResponseComplete),
                        stage_time: Some(Timestamp::from_unix_nanos(time)),
                        time: Some(Timestamp::from_unix_nanos(time - SECOND)),
                        verb: "get".into(),
                        ..AuditEvent::default()
                    }
                })
                .collect()
        })
        .collect()
}

/// With a small cache, however many segments are looked up, the keys held stay within the
/// limit plus the row-form tail; a re-import in time order reads each segment's keys once;
/// opening reads none.
#[test]
fn the_keys_held_stay_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    tiny_segment_store(dir.path());
    let batches = timed_batches(48, 25);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    for batch in &batches {
        store.append(&Prepared::from_events(batch), now()).unwrap();
    }
    store.compact(now(), |_| {}).unwrap();
    store.close(now()).unwrap();

    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let segments = store.key_stats().segments;
    assert!(segments >= 10, "{:?}", store.key_stats());
    assert_eq!(store.key_repair().segments_summarised, segments);
    assert_eq!(store.key_repair().segments_read_whole, 0);
    assert_eq!(store.key_stats().loads, 0);
    let tail = row_form_events(&store);
    assert_eq!(store.key_stats().recent_keys, tail);
    assert!(tail < 100, "{tail}");

    // Room for about two segments' keys, of the many there are.
    let largest = store
        .ledger()
        .segments()
        .iter()
        .map(|segment| segment.record_count)
        .max()
        .unwrap();
    let limit = 2 * largest as usize + 1;
    store.set_key_cache_limit(limit);
    // Every batch again, in time order: all duplicates, each segment read once.
    for batch in &batches {
        let outcome = store.append(&Prepared::from_events(batch), now()).unwrap();
        assert_eq!(outcome.stored, 0);
        let stats = store.key_stats();
        assert!(stats.cached_keys <= limit as u64, "{stats:?}");
        assert_eq!(stats.recent_keys, tail, "{stats:?}");
    }
    let stats = store.key_stats();
    assert!(stats.loads <= segments, "{stats:?}");
    assert!(stats.evictions > 0, "{stats:?}");

    // Backwards, each batch shuffled, and new events among them: the same bound.
    for (number, batch) in batches.iter().enumerate().rev() {
        let mut mixed: Vec<AuditEvent> = batch.iter().rev().cloned().collect();
        let mut new = batch[0].clone();
        new.id = format!("new-{number}");
        mixed.insert(mixed.len() / 2, new);
        let outcome = store.append(&Prepared::from_events(&mixed), now()).unwrap();
        assert_eq!(
            (outcome.stored, outcome.duplicates),
            (1, batch.len() as u64)
        );
        let stats = store.key_stats();
        assert!(stats.cached_keys <= limit as u64, "{stats:?}");
    }

    // A bulk load of everything again, in time order: nothing stored, each segment read
    // once more at most.
    let loads = store.key_stats().loads;
    let all: Vec<AuditEvent> = batches.concat();
    let mut loader = store.loader();
    for chunk in all.chunks(100) {
        loader
            .append(&Prepared::from_events(chunk), chunk, now())
            .unwrap();
    }
    let outcome = loader.finish(now()).unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (0, all.len() as u64));
    let stats = store.key_stats();
    assert!(stats.loads - loads <= segments, "{stats:?}");
    assert!(stats.cached_keys <= limit as u64, "{stats:?}");
    store.close(now()).unwrap();
}

/// A bulk load's segments leave the recent keys once the ledger took them: after a load of
/// many segments' worth the recent keys are only the row-form tail's.
#[test]
fn a_bulk_load_keeps_only_its_segments_in_flight_as_recent_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    let batches = timed_batches(4, 500);
    for batch in &batches {
        let mut loader = store.loader();
        loader
            .append(&Prepared::from_events(batch), batch, now())
            .unwrap();
        loader.finish(now()).unwrap();
        assert_eq!(store.key_stats().recent_keys, 0);
    }
    assert_eq!(store.key_stats().segments, 4);
    // The same events by the server's path: found through the segments.
    let again = store
        .append(&Prepared::from_events(&batches[2]), now())
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 500));
    assert_eq!(store.key_stats().loads, 1);
    store.close(now()).unwrap();
}

/// A compaction commit hands the segment's keys (sorted on the compactor's thread) to the
/// cache: a retried batch of events just compacted is found a duplicate without reading
/// the segment's keys back from its file, which would stall a server's writer.
#[test]
fn a_compacted_segment_keys_are_cached_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    tiny_segment_store(dir.path());
    let batches = timed_batches(12, 25);
    let mut store = Store::open(dir.path(), options(), now()).unwrap();
    for batch in &batches {
        store.append(&Prepared::from_events(batch), now()).unwrap();
    }
    let mut compacted = 0;
    while let Some(job) = store.compaction_job().unwrap() {
        let done = job.run(&std::sync::atomic::AtomicBool::new(false)).unwrap();
        assert!(store.commit_compaction(done, now()).unwrap().is_some());
        compacted += 1;
    }
    assert!(compacted >= 2, "{compacted}");
    // The first batch's events are in the first segment, compacted.
    let first = &store.ledger().segments()[0];
    assert!(first.external && first.record_count >= 25, "{first:?}");
    let stats = store.key_stats();
    assert_eq!(stats.loads, 0, "{stats:?}");
    assert!(stats.cached_segments >= 1, "{stats:?}");
    let outcome = store
        .append(&Prepared::from_events(&batches[0]), now())
        .unwrap();
    assert_eq!(
        (outcome.stored, outcome.duplicates),
        (0, batches[0].len() as u64)
    );
    let stats = store.key_stats();
    assert_eq!(stats.loads, 0, "{stats:?}");
    store.close(now()).unwrap();
}

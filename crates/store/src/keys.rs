//! The identity keys of the stored events, used to skip duplicates, in memory proportional
//! to a bounded working set rather than to the history.
//!
//! A duplicate repeats the event's key time (stage time, else request time: part of what
//! the key covers, see `identity`), so a key need only be looked for where events of that
//! time are stored:
//!
//! - **Recent keys**: the keys of the records still in row form (the tail that is not
//!   compacted yet: a set, as small per key as the one every key used to be in) and of the
//!   events a bulk load took but has not handed to the ledger as an index segment yet (with
//!   their sequence numbers: at most `LOAD_SEGMENTS_IN_FLIGHT` + 1 segments). They leave
//!   when their segment becomes an index segment (a compaction committed, which hands over
//!   the keys it computed while converting the segment: [`StoredKeys::seal_compacted`]; a
//!   bulk load's segment appended: [`StoredKeys::seal`]) or is pruned.
//! - **Segment summaries**: every index segment has a few bytes in memory: its sequence
//!   range, the least and greatest key time of its events and whether some event has no
//!   time at all. They come from the Parquet footer's column statistics of `stage_time` and
//!   `time` (no data page is read; the file is what `verify` checks against its index
//!   record), or, for a file without those statistics, from its identity columns once.
//! - **Cached segment keys**: a key that is not recent is looked for in the segments whose
//!   range covers its time (an event without time: in those that hold such events). Their
//!   keys are computed on demand from the identity columns ([`index_keys`]) and kept, as a
//!   sorted table, in a cache of at most [`KEY_CACHE_KEYS_MAX`] keys from which the least
//!   recently used segment is evicted; a lookup of a batch loads each covered segment once.
//!
//! Nothing of this is stored: opening reads the footers of the index segments and the
//! records in row form, so there is no second copy of anything at rest and nothing to repair
//! or verify.
//!
//! Invariants:
//! - Dedup is exact: a key is reported stored if and only if an event with that key is in
//!   the ledger (after `first_seq`) or was taken by a bulk load under way.
//! - Memory: the cache holds at most its limit of keys (a segment larger than the limit is
//!   used and dropped, never cached); the summaries take a few dozen bytes per index segment;
//!   the recent keys are those of the row-form tail (which compaction keeps to a segment or
//!   two while it keeps up) and of the segments a bulk load has in flight.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use ledger::{Ledger, SegmentInfo};

use crate::identity::{Identity, Key, id_key, key, key_time};
use crate::limits::{KEY_CACHE_KEYS_MAX, KEY_LOAD_THREADS_MAX};
use crate::{StoreError, read_event};

/// A set of identity keys. Keys are SHA-256 output, already uniformly distributed, so the
/// hasher takes their first eight bytes instead of hashing them again.
pub(crate) type KeySet = HashSet<Key, KeyHashing>;

/// [`BuildHasher`] for [`KeySet`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyHashing;

impl BuildHasher for KeyHashing {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// Folds the bytes it is given into a `u64` (the array's length prefix is ignored).
#[derive(Debug)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
        }
    }
    fn write_usize(&mut self, _length: usize) {}
}

/// What opening computed for the stored keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyRepair {
    /// Index segments summarised from their footers' statistics (their keys are read only
    /// when a lookup needs them).
    pub segments_summarised: u64,
    /// Index segments whose footer lacked the statistics, summarised from their identity
    /// columns instead.
    pub segments_read_whole: u64,
    /// Keys computed from records still in row form.
    pub keys_rebuilt: u64,
}

/// How much the stored keys hold in memory, and how often segments' keys were loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyStats {
    /// Keys of the row-form tail and of a bulk load's segments in flight.
    pub recent_keys: u64,
    /// Keys of index segments held in the cache.
    pub cached_keys: u64,
    /// Index segments whose keys are in the cache.
    pub cached_segments: u64,
    /// The cache's limit, in keys.
    pub cache_limit: u64,
    /// Index segments with a summary (all of them).
    pub segments: u64,
    /// Times a segment's keys were read from its identity columns.
    pub loads: u64,
    /// Segments evicted from the cache to make room.
    pub evictions: u64,
}

/// The key times of one index segment's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    /// One past its last sequence number.
    end: u64,
    /// The least and greatest key time (it may be wider than the events', never narrower).
    range: Option<(i64, i64)>,
    /// Whether it may hold events without a key time.
    untimed: bool,
}

#[cfg(test)]
impl Summary {
    /// Whether an event of key time `time` may be in the segment.
    fn covers(&self, time: Option<i64>) -> bool {
        match time {
            Some(time) => self
                .range
                .is_some_and(|(low, high)| low <= time && time <= high),
            None => self.untimed,
        }
    }
}

/// The summaries ordered for finding those that cover a time: by least key time, with the
/// greatest key time of each prefix, so that a search walks back from the last segment
/// starting at or before the time and stops once no earlier one reaches it.
#[derive(Debug, Default)]
struct Timeline {
    /// (least, greatest key time, first sequence number), by least key time.
    spans: Vec<(i64, i64, u64)>,
    /// `reach[i]`: the greatest key time among `spans[..=i]`.
    reach: Vec<i64>,
    /// Segments that may hold events without a key time.
    untimed: Vec<u64>,
}

impl Timeline {
    fn new(summaries: &BTreeMap<u64, Summary>) -> Timeline {
        let mut spans: Vec<(i64, i64, u64)> = summaries
            .iter()
            .filter_map(|(first, summary)| summary.range.map(|(low, high)| (low, high, *first)))
            .collect();
        spans.sort_unstable();
        let mut reach = Vec::with_capacity(spans.len());
        let mut greatest = i64::MIN;
        for (_, high, _) in &spans {
            greatest = greatest.max(*high);
            reach.push(greatest);
        }
        let untimed = summaries
            .iter()
            .filter(|(_, summary)| summary.untimed)
            .map(|(first, _)| *first)
            .collect();
        Timeline {
            spans,
            reach,
            untimed,
        }
    }

    /// The segments that may hold an event of key time `time` (those whose range starts
    /// latest first).
    fn covering(&self, time: Option<i64>, out: &mut Vec<u64>) {
        out.clear();
        let Some(time) = time else {
            out.extend(self.untimed.iter().rev());
            return;
        };
        let starts_before = self.spans.partition_point(|(low, _, _)| *low <= time);
        for at in (0..starts_before).rev() {
            if self.reach[at] < time {
                break;
            }
            let (_, high, first) = self.spans[at];
            if high >= time {
                out.push(first);
            }
        }
    }
}

/// The keys of one index segment, sorted, with the start of each bucket of keys sharing
/// their leading bits (keys are uniformly distributed, so a bucket holds two to four): a
/// lookup is one bucket read and a search of a few keys, in 16 bytes per key and about one
/// more for the buckets.
#[derive(Debug)]
pub(crate) struct SortedKeys {
    keys: Box<[Key]>,
    starts: Box<[u32]>,
    bits: u32,
}

impl SortedKeys {
    pub(crate) fn new(mut keys: Vec<Key>) -> SortedKeys {
        keys.sort_unstable();
        keys.dedup();
        let bits = (usize::BITS - keys.len().leading_zeros()).saturating_sub(2);
        let buckets = 1usize << bits;
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut at = 0;
        for bucket in 0..buckets {
            while at < keys.len() && SortedKeys::bucket_of(&keys[at], bits) < bucket {
                at += 1;
            }
            starts.push(u32::try_from(at).unwrap_or(u32::MAX));
        }
        starts.push(u32::try_from(keys.len()).unwrap_or(u32::MAX));
        SortedKeys {
            keys: keys.into_boxed_slice(),
            starts: starts.into_boxed_slice(),
            bits,
        }
    }

    fn bucket_of(key: &Key, bits: u32) -> usize {
        if bits == 0 {
            return 0;
        }
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&key[..8]);
        usize::try_from(u64::from_be_bytes(prefix) >> (64 - bits)).unwrap_or(0)
    }

    fn contains(&self, key: &Key) -> bool {
        let bucket = SortedKeys::bucket_of(key, self.bits);
        let (Some(start), Some(end)) = (self.starts.get(bucket), self.starts.get(bucket + 1))
        else {
            return false;
        };
        self.keys
            .get(*start as usize..*end as usize)
            .is_some_and(|keys| keys.binary_search(key).is_ok())
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Segments' keys, least recently used evicted first, at most `limit` keys in all.
#[derive(Debug)]
struct Cache {
    segments: HashMap<u64, (SortedKeys, u64)>,
    keys: usize,
    limit: usize,
    clock: u64,
    loads: u64,
    evictions: u64,
}

impl Cache {
    fn new(limit: usize) -> Cache {
        Cache {
            segments: HashMap::new(),
            keys: 0,
            limit,
            clock: 0,
            loads: 0,
            evictions: 0,
        }
    }

    /// The keys of segment `first`, marked as just used.
    fn get(&mut self, first: u64) -> Option<&SortedKeys> {
        self.clock += 1;
        let (keys, used) = self.segments.get_mut(&first)?;
        *used = self.clock;
        Some(keys)
    }

    /// Keeps `keys` of segment `first` when they fit under the limit, evicting the least
    /// recently used segments to make room; gives them back when they cannot be kept (more
    /// keys than the limit).
    fn put(&mut self, first: u64, keys: SortedKeys) -> Option<SortedKeys> {
        if keys.len() > self.limit {
            return Some(keys);
        }
        self.make_room(keys.len());
        self.clock += 1;
        self.keys += keys.len();
        if let Some((replaced, _)) = self.segments.insert(first, (keys, self.clock)) {
            self.keys -= replaced.len();
        }
        None
    }

    fn remove(&mut self, first: u64) {
        if let Some((keys, _)) = self.segments.remove(&first) {
            self.keys -= keys.len();
        }
    }

    fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.make_room(0);
    }

    /// Evicts the least recently used segments until `room` more keys fit under the limit
    /// (or nothing is left to evict).
    fn make_room(&mut self, room: usize) {
        while self.keys + room > self.limit {
            let Some(oldest) = self
                .segments
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(first, _)| *first)
            else {
                break;
            };
            self.remove(oldest);
            self.evictions += 1;
        }
    }
}

/// The identity keys of every stored event; see the module documentation.
#[derive(Debug)]
pub(crate) struct StoredKeys {
    root: PathBuf,
    /// Keys of the events in row form.
    tail: KeySet,
    /// Keys a bulk load took, with their sequence numbers, until its segment is appended.
    loading: HashMap<Key, u64, KeyHashing>,
    /// Every index segment's summary, by first sequence number.
    summaries: BTreeMap<u64, Summary>,
    /// The summaries ordered by time; rebuilt when they change.
    timeline: Timeline,
    timeline_stale: bool,
    cache: Cache,
    /// Scratch list of covering segments.
    covering: Vec<u64>,
}

impl StoredKeys {
    /// The keys of every event stored in `ledger` (whose data directory is `root`): the
    /// index segments' summaries (their footers read on every available core) and the keys
    /// of the records in row form. `on_other` is called with every record in row form that
    /// is not an event (heartbeats, prune and index records).
    pub(crate) fn open(
        root: &Path,
        ledger: &Ledger,
        on_other: &mut dyn FnMut(&[u8]),
    ) -> Result<(StoredKeys, KeyRepair), StoreError> {
        let segments = ledger.segments();
        let external: Vec<&SegmentInfo> = segments.iter().filter(|s| s.external).collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, KEY_LOAD_THREADS_MAX);
        let next = std::sync::atomic::AtomicUsize::new(0);
        type Summarised = Result<(u64, Summary, bool), StoreError>;
        let results: std::sync::Mutex<Vec<Summarised>> = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..threads.min(external.len()) {
                scope.spawn(|| {
                    loop {
                        let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(segment) = external.get(at) else {
                            break;
                        };
                        let end = segment.first_seq + segment.record_count;
                        let files = crate::columns::IndexFiles::at(root, segment.first_seq, end);
                        let summary = summarise(&files.parquet, end)
                            .map(|(summary, whole)| (segment.first_seq, summary, whole));
                        if let Ok(mut results) = results.lock() {
                            results.push(summary);
                        }
                    }
                });
            }
        });
        let mut repair = KeyRepair::default();
        let mut keys = StoredKeys {
            root: root.to_owned(),
            tail: KeySet::with_hasher(KeyHashing),
            loading: HashMap::with_hasher(KeyHashing),
            summaries: BTreeMap::new(),
            timeline: Timeline::default(),
            timeline_stale: true,
            cache: Cache::new(KEY_CACHE_KEYS_MAX),
            covering: Vec::new(),
        };
        for result in results.into_inner().unwrap_or_default() {
            let (first, summary, whole) = result?;
            repair.segments_summarised += 1;
            if whole {
                repair.segments_read_whole += 1;
            }
            keys.summaries.insert(first, summary);
        }
        let first = ledger.first_seq();
        for segment in segments.iter().filter(|s| !s.external) {
            let end = segment.first_seq + segment.record_count;
            for item in ledger.records(segment.first_seq.max(first)..end) {
                let (seq, record) = item?;
                match read_event(seq, &record)? {
                    Some(event) => {
                        keys.tail.insert(key(&event));
                        repair.keys_rebuilt += 1;
                    }
                    None => on_other(&record),
                }
            }
        }
        Ok((keys, repair))
    }

    /// Takes `identity` as the event a bulk load is about to store at `seq` (in an index
    /// segment it hands over by [`StoredKeys::seal`]): false, taking nothing, when an event
    /// with its key is stored (or taken) already. May read covered segments' keys.
    pub(crate) fn insert(&mut self, identity: &Identity, seq: u64) -> Result<bool, StoreError> {
        if self.is_recent(&identity.key) || self.in_segments(identity)? {
            return Ok(false);
        }
        self.loading.insert(identity.key, seq);
        Ok(true)
    }

    fn is_recent(&self, key: &Key) -> bool {
        self.tail.contains(key) || self.loading.contains_key(key)
    }

    /// Whether an event with each identity's key is stored (or taken), in order; reads the
    /// keys of each segment that covers some of them at most once.
    pub(crate) fn stored(&mut self, identities: &[Identity]) -> Result<Vec<bool>, StoreError> {
        let mut stored = vec![false; identities.len()];
        self.refresh_timeline();
        // Segments not in the cache, with the identities they must be searched for.
        let mut wanted: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        let mut covering = std::mem::take(&mut self.covering);
        for (at, identity) in identities.iter().enumerate() {
            if self.is_recent(&identity.key) {
                stored[at] = true;
                continue;
            }
            self.timeline.covering(identity.time, &mut covering);
            let mut absent = Vec::new();
            for first in &covering {
                match self.cache.get(*first) {
                    Some(keys) if keys.contains(&identity.key) => {
                        stored[at] = true;
                        break;
                    }
                    Some(_) => {}
                    None => absent.push(*first),
                }
            }
            if !stored[at] {
                for first in absent {
                    wanted.entry(first).or_default().push(at);
                }
            }
        }
        self.covering = covering;
        for (first, ats) in wanted {
            if ats.iter().all(|at| stored[*at]) {
                continue;
            }
            let keys = self.load(first)?;
            for at in ats {
                if keys.contains(&identities[at].key) {
                    stored[at] = true;
                }
            }
            // Kept when it fits; else dropped here, used once.
            drop(self.cache.put(first, keys));
        }
        Ok(stored)
    }

    /// Adds the key of an event just stored in row form (its absence was established by
    /// [`StoredKeys::stored`]).
    pub(crate) fn add_stored(&mut self, key: Key) {
        self.tail.insert(key);
    }

    /// Whether `identity`'s key is in one of the index segments covering its time.
    fn in_segments(&mut self, identity: &Identity) -> Result<bool, StoreError> {
        self.refresh_timeline();
        let mut covering = std::mem::take(&mut self.covering);
        self.timeline.covering(identity.time, &mut covering);
        let mut found = false;
        let mut absent = Vec::new();
        for first in &covering {
            match self.cache.get(*first) {
                Some(keys) if keys.contains(&identity.key) => {
                    found = true;
                    break;
                }
                Some(_) => {}
                None => absent.push(*first),
            }
        }
        self.covering = covering;
        if found {
            return Ok(true);
        }
        for first in absent {
            let keys = self.load(first)?;
            let found = keys.contains(&identity.key);
            drop(self.cache.put(first, keys));
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Reads the keys of the index segment starting at `first`.
    fn load(&mut self, first: u64) -> Result<SortedKeys, StoreError> {
        let end = self
            .summaries
            .get(&first)
            .map_or(first, |summary| summary.end);
        let files = crate::columns::IndexFiles::at(&self.root, first, end);
        let keys = index_keys(&files.parquet)?;
        self.cache.loads += 1;
        Ok(SortedKeys::new(
            keys.into_iter().map(|(key, _)| key).collect(),
        ))
    }

    /// The records `first .. end` a bulk load took are now an index segment: it gets a
    /// summary, and the keys of its events leave the recent keys (they are found through the
    /// segment).
    pub(crate) fn seal(&mut self, first: u64, end: u64) {
        self.summarise_sealed(first, end);
        self.loading.retain(|_, seq| !(first..end).contains(seq));
    }

    /// The row-form records `first .. end`, whose events have `keys` (as the compaction
    /// computed and sorted them on its thread; `None`: read from the index segment), are now
    /// an index segment: it gets a summary, their keys leave the row-form tail's, and they
    /// go into the cache as that segment's: live events are the newest, so the next lookups
    /// need exactly this segment, and reading its keys back from the file would stall the
    /// writer (25-50 ms for a segment of 131,072 events).
    pub(crate) fn seal_compacted(&mut self, first: u64, end: u64, keys: Option<SortedKeys>) {
        self.summarise_sealed(first, end);
        let keys = match keys {
            Some(keys) => keys,
            None => {
                let files = crate::columns::IndexFiles::at(&self.root, first, end);
                match index_keys(&files.parquet) {
                    Ok(keys) => SortedKeys::new(keys.into_iter().map(|(key, _)| key).collect()),
                    // Unreadable: the keys stay (found twice, never missed).
                    Err(_) => return,
                }
            }
        };
        for key in keys.keys.iter() {
            self.tail.remove(key);
        }
        // Kept when it fits; else dropped here.
        drop(self.cache.put(first, keys));
    }

    /// Removes the keys of row-form events that were pruned.
    pub(crate) fn forget_tail(&mut self, keys: &[Key]) {
        for key in keys {
            self.tail.remove(key);
        }
    }

    /// Gives the index segment `first .. end` a summary from its footer. Should the footer be
    /// unreadable, the summary covers every time (a lookup then reads the file, and reports
    /// what is wrong with it).
    fn summarise_sealed(&mut self, first: u64, end: u64) {
        let files = crate::columns::IndexFiles::at(&self.root, first, end);
        let summary = summarise(&files.parquet, end).map_or(
            Summary {
                end,
                range: Some((i64::MIN, i64::MAX)),
                untimed: true,
            },
            |(summary, _)| summary,
        );
        self.summaries.insert(first, summary);
        self.cache.remove(first);
        self.timeline_stale = true;
    }

    /// Forgets every index segment and bulk-loaded key before `before` (pruned; the row-form
    /// keys go by [`StoredKeys::forget_tail`]).
    pub(crate) fn prune(&mut self, before: u64) {
        let kept = self.summaries.split_off(&before);
        for first in std::mem::replace(&mut self.summaries, kept).into_keys() {
            self.cache.remove(first);
        }
        self.timeline_stale = true;
        self.loading.retain(|_, seq| *seq >= before);
    }

    /// Sets the most keys the cache of segments' keys holds.
    pub(crate) fn set_cache_limit(&mut self, keys: usize) {
        self.cache.set_limit(keys);
    }

    /// What the stored keys hold in memory.
    pub(crate) fn stats(&self) -> KeyStats {
        KeyStats {
            recent_keys: (self.tail.len() + self.loading.len()) as u64,
            cached_keys: self.cache.keys as u64,
            cached_segments: self.cache.segments.len() as u64,
            cache_limit: self.cache.limit as u64,
            segments: self.summaries.len() as u64,
            loads: self.cache.loads,
            evictions: self.cache.evictions,
        }
    }

    fn refresh_timeline(&mut self) {
        if self.timeline_stale {
            self.timeline = Timeline::new(&self.summaries);
            self.timeline_stale = false;
        }
    }
}

/// The summary of the index segment in `parquet` ending at `end`, from its footer's
/// statistics, else (`true` beside it) from its identity columns.
fn summarise(parquet: &Path, end: u64) -> Result<(Summary, bool), StoreError> {
    let segment =
        index::Segment::open_footer(parquet).map_err(|error| index_error(parquet, error))?;
    if let Some(times) = segment.identity_times() {
        return Ok((
            Summary {
                end,
                range: times.range,
                untimed: times.untimed,
            },
            false,
        ));
    }
    let mut summary = Summary {
        end,
        range: None,
        untimed: false,
    };
    for (_, time) in keys_of(parquet, &segment)? {
        match time {
            Some(time) => {
                summary.range = Some(match summary.range {
                    Some((low, high)) => (low.min(time), high.max(time)),
                    None => (time, time),
                });
            }
            None => summary.untimed = true,
        }
    }
    Ok((summary, true))
}

fn index_error(parquet: &Path, error: index::Error) -> StoreError {
    StoreError::Io {
        path: parquet.to_owned(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// The keys of the events of an index segment, with their key times, from its identity
/// columns (only events without an id, keyed by their whole content, are read in full).
pub(crate) fn index_keys(parquet: &Path) -> Result<Vec<(Key, Option<i64>)>, StoreError> {
    let segment =
        index::Segment::open_footer(parquet).map_err(|error| index_error(parquet, error))?;
    keys_of(parquet, &segment)
}

fn keys_of(
    parquet: &Path,
    segment: &index::Segment,
) -> Result<Vec<(Key, Option<i64>)>, StoreError> {
    let identities = segment
        .read_identities()
        .map_err(|error| index_error(parquet, error))?;
    let mut keys = Vec::with_capacity(identities.len());
    let mut without_id = Vec::new();
    for (row, identity) in identities.iter().enumerate() {
        let time = identity.stage_time.or(identity.time);
        if identity.id.is_empty() {
            without_id.push(u32::try_from(row).unwrap_or(u32::MAX));
        } else {
            keys.push((
                id_key(identity.source, &identity.id, identity.stage, time),
                time.map(event::Timestamp::unix_nanos),
            ));
        }
    }
    if !without_id.is_empty() {
        for (_, event) in segment
            .read_rows(&without_id)
            .map_err(|error| index_error(parquet, error))?
        {
            keys.push((key(&event), key_time(&event)));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(n: u64) -> Key {
        crate::identity::id_key(event::SourceKind::K8s, &n.to_string(), None, None)
    }

    #[test]
    fn sorted_keys_find_exactly_their_keys() {
        for count in [0, 1, 2, 3, 5, 17, 1000, 4097] {
            let keys: Vec<Key> = (0..count).map(key_of).collect();
            let table = SortedKeys::new(keys.clone());
            assert_eq!(table.len(), count as usize);
            for key in &keys {
                assert!(table.contains(key), "{count}");
            }
            for n in count..count + 200 {
                assert!(!table.contains(&key_of(n)), "{count} {n}");
            }
            // The extremes of the key space land in the first and last buckets.
            assert!(!table.contains(&[0; 16]));
            assert!(!table.contains(&[0xff; 16]));
        }
    }

    #[test]
    fn the_timeline_finds_every_covering_segment_and_no_other() {
        let spans = [
            (0, (10, 20), false),
            (100, (15, 40), true),
            (200, (41, 50), false),
            (300, (-5, 100), false),
            (400, (60, 60), true),
        ];
        let summaries: BTreeMap<u64, Summary> = spans
            .iter()
            .map(|(first, range, untimed)| {
                (
                    *first,
                    Summary {
                        end: first + 10,
                        range: Some(*range),
                        untimed: *untimed,
                    },
                )
            })
            .collect();
        let timeline = Timeline::new(&summaries);
        let mut found = Vec::new();
        for time in -10..110 {
            timeline.covering(Some(time), &mut found);
            found.sort_unstable();
            let expected: Vec<u64> = summaries
                .iter()
                .filter(|(_, summary)| summary.covers(Some(time)))
                .map(|(first, _)| *first)
                .collect();
            assert_eq!(found, expected, "{time}");
        }
        timeline.covering(None, &mut found);
        found.sort_unstable();
        assert_eq!(found, vec![100, 400]);
    }

    #[test]
    fn the_cache_evicts_the_least_recently_used_and_keeps_its_limit() {
        let table =
            |from: u64, count: u64| SortedKeys::new((from..from + count).map(key_of).collect());
        let mut cache = Cache::new(10);
        assert!(cache.put(1, table(0, 4)).is_none());
        assert!(cache.put(2, table(10, 4)).is_none());
        assert!(cache.get(1).is_some());
        // 2 is the least recently used: it goes.
        assert!(cache.put(3, table(20, 4)).is_none());
        assert!(cache.get(2).is_none());
        assert!(cache.get(1).is_some() && cache.get(3).is_some());
        assert_eq!((cache.keys, cache.evictions), (8, 1));
        // More than the limit is given back, not kept.
        assert!(cache.put(4, table(30, 11)).is_some());
        assert_eq!(cache.keys, 8);
        cache.set_limit(4);
        assert_eq!((cache.keys, cache.segments.len()), (4, 1));
    }
}

//! The scan engine: sealed segments plus the unsealed tail, filtered by tight loops over
//! dictionary codes, pruned by row-group statistics and bloom filters, on all cores.
//!
//! A scan works on *chunks*: one row group of one segment, or the whole tail. Only the
//! columns a query needs are decoded. Low-cardinality strings arrive as `Int32` codes plus a
//! per-chunk dictionary, so a text filter is evaluated once per dictionary value and then
//! as one table lookup per row.
//!
//! Parallelism: `std::thread::scope` with one worker per core pulling chunk numbers from an
//! atomic counter. A chunk is 128 Ki rows, so work items are coarse and even; work stealing
//! (rayon) would buy nothing here and would be one more dependency.
//!
//! Invariants:
//! - A scan visits every row of every segment and of the tail that the filter can select:
//!   pruning only skips row groups whose statistics or bloom filters prove that no row
//!   matches. So a query never misses an acknowledged event the caller put in the dataset.
//! - Results are ordered newest first by `(when, seq)`, `seq` being unique, so equal times
//!   have a stable order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arrow_array::{
    Array, ListArray, RecordBatch, StringArray, TimestampNanosecondArray, UInt8Array, UInt16Array,
    UInt64Array,
};
use event::{AuditEvent, Timestamp};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

use crate::error::{Error, Result};
use crate::filter::{Filter, TextPattern};
use crate::limits::{RESULT_ROWS_MAX, ROW_GROUP_ROWS, SCAN_BATCH_ROWS, SCAN_THREADS_MAX};
use crate::schema::{Column, DictText, downcast};
use crate::segment::{BLOOM_COLUMNS, Segment, batch_of};
use crate::topk::TopK;

/// Sealed segments plus the unsealed tail: everything a query sees.
#[derive(Debug, Default)]
pub struct Dataset {
    segments: Vec<Segment>,
    tail: Option<Tail>,
    threads: Option<usize>,
}

#[derive(Debug)]
struct Tail {
    batch: RecordBatch,
    events: Vec<(u64, AuditEvent)>,
}

/// What a scan did, for tests and for `--explain`-style output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Row groups in the segments scanned.
    pub row_groups: u64,
    /// Row groups skipped by min/max statistics.
    pub pruned_by_statistics: u64,
    /// Row groups skipped by bloom filters.
    pub pruned_by_bloom_filter: u64,
    /// Rows decoded and tested (tail included).
    pub rows_scanned: u64,
    /// Rows the filter selected.
    pub rows_matched: u64,
}

/// The answer to [`Dataset::query`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// `(seq, event)`, newest first.
    pub events: Vec<(u64, AuditEvent)>,
    /// True when more events matched than the limit let through.
    pub truncated: bool,
    /// What the scan did.
    pub stats: ScanStats,
}

/// Where a row lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Place {
    /// Row `row` of segment `segment`.
    Segment { segment: usize, row: u32 },
    /// Event `index` of the tail.
    Tail { index: usize },
}

/// One decoded row group (or the tail), with the columns a scan asked for.
#[derive(Debug)]
pub(crate) struct Chunk {
    batch: RecordBatch,
    origin: ChunkOrigin,
    /// When the batch holds only some rows of the row group (a sparse selection was read),
    /// the row group row of each batch row.
    row_map: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Copy)]
enum ChunkOrigin {
    Segment { segment: usize, first_row: u64 },
    Tail,
}

/// A per-worker partial result that can be merged.
pub(crate) trait Accumulate: Send {
    /// Takes the selected `rows` of `chunk`.
    fn add(&mut self, chunk: &Chunk, rows: &[u32]) -> Result<()>;
    /// Takes every row of `chunk` (the filter tests no column, or the chunk holds only the
    /// rows it selected). An accumulator with a loop over whole columns overrides it; the
    /// default lists the rows and calls [`Accumulate::add`].
    fn add_all(&mut self, chunk: &Chunk) -> Result<()> {
        let rows: Vec<u32> = (0..u32::try_from(chunk.len()).unwrap_or(u32::MAX)).collect();
        self.add(chunk, &rows)
    }
    /// Folds another worker's result in.
    fn merge(&mut self, other: Self);
}

impl Chunk {
    pub(crate) fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub(crate) fn dict(&self, column: Column) -> Result<DictText<'_>> {
        let array = self
            .batch
            .column_by_name(column.name())
            .ok_or_else(|| missing(column))?;
        DictText::new(array, column)
    }

    pub(crate) fn strings(&self, column: Column) -> Result<&StringArray> {
        downcast(&self.batch, column)
    }

    pub(crate) fn list(&self, column: Column) -> Result<&ListArray> {
        downcast(&self.batch, column)
    }

    pub(crate) fn seqs(&self) -> Result<&UInt64Array> {
        downcast(&self.batch, Column::LedgerSeq)
    }

    pub(crate) fn flags(&self) -> Result<&UInt8Array> {
        downcast(&self.batch, Column::RequestFlags)
    }

    pub(crate) fn codes(&self) -> Result<&UInt16Array> {
        downcast(&self.batch, Column::Code)
    }

    pub(crate) fn times(&self) -> Result<Times<'_>> {
        Ok(Times {
            time: downcast(&self.batch, Column::Time)?,
            stage_time: downcast(&self.batch, Column::StageTime)?,
        })
    }

    pub(crate) fn place(&self, row: u32) -> Place {
        let row = match &self.row_map {
            Some(map) => map.get(row as usize).copied().unwrap_or(row),
            None => row,
        };
        match self.origin {
            ChunkOrigin::Segment { segment, first_row } => Place::Segment {
                segment,
                row: u32::try_from(first_row + u64::from(row)).unwrap_or(u32::MAX),
            },
            ChunkOrigin::Tail => Place::Tail {
                index: row as usize,
            },
        }
    }
}

/// The two time columns of a chunk, read as [`AuditEvent::when`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Times<'a> {
    time: &'a TimestampNanosecondArray,
    stage_time: &'a TimestampNanosecondArray,
}

impl Times<'_> {
    pub(crate) fn when(&self, row: usize) -> Option<i64> {
        if self.time.is_valid(row) {
            Some(self.time.value(row))
        } else if self.stage_time.is_valid(row) {
            Some(self.stage_time.value(row))
        } else {
            None
        }
    }
}

fn missing(column: Column) -> Error {
    Error::Schema {
        reason: format!("column {} was not loaded", column.name()),
    }
}

impl Dataset {
    /// A dataset over sealed segments (in any order).
    pub fn new(segments: Vec<Segment>) -> Dataset {
        Dataset {
            segments,
            tail: None,
            threads: None,
        }
    }

    /// Adds the unsealed tail: acknowledged events not yet in a segment.
    pub fn with_tail(mut self, events: Vec<(u64, AuditEvent)>) -> Result<Dataset> {
        let batch = batch_of(events.iter().map(|(seq, event)| (*seq, event)))?;
        self.tail = Some(Tail { batch, events });
        Ok(self)
    }

    /// Uses `threads` workers instead of one per core.
    pub fn with_threads(mut self, threads: usize) -> Dataset {
        self.threads = Some(threads.clamp(1, SCAN_THREADS_MAX));
        self
    }

    /// The sealed segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The unsealed tail as one Arrow batch in the segment schema ([`crate::schema::schema`]),
    /// in sequence order; `None` when no tail was added. Other engines (SQL) read it beside
    /// the segment files, so that they see every acknowledged event too.
    pub fn tail_batch(&self) -> Option<&RecordBatch> {
        self.tail.as_ref().map(|tail| &tail.batch)
    }

    /// The events the filter selects, newest first (then highest sequence first), at most
    /// `limit` of them.
    pub fn query(&self, filter: &Filter, limit: usize) -> Result<QueryResult> {
        self.query_after(filter, limit, None)
    }

    /// Like [`Dataset::query`], but only events that come after `after` in the newest-first
    /// order (strictly older, or as old with a lower sequence number): the next page of a
    /// paginated query whose previous page ended at `after`. Pages taken this way have no
    /// gaps and no repeats, whatever is stored in between (a later event lands before the
    /// first page or in a page not yet taken).
    pub fn query_after(
        &self,
        filter: &Filter,
        limit: usize,
        after: Option<Position>,
    ) -> Result<QueryResult> {
        let limit = limit.min(RESULT_ROWS_MAX);
        let mut narrowed;
        let mut filter = filter;
        if let Some(after) = after
            && filter.has_time()
            && after.when != i64::MIN
        {
            // Lets row groups entirely newer than the position be pruned by statistics.
            let bound = Timestamp::from_unix_nanos(after.when.saturating_add(1));
            narrowed = filter.clone();
            narrowed.until = Some(narrowed.until.map_or(bound, |until| until.min(bound)));
            filter = &narrowed;
        }
        let (hits, stats) = self.scan(
            filter,
            &[Column::Time, Column::StageTime, Column::LedgerSeq],
            || HitCollector {
                top: TopK::new(limit),
                before: after.map(|position| (position.when, position.seq)),
                skipped: 0,
            },
        )?;
        let matched =
            usize::try_from(stats.rows_matched.saturating_sub(hits.skipped)).unwrap_or(usize::MAX);
        let hits = hits.top.into_sorted();
        let events = self.materialize(hits.iter().map(|(_, place)| *place))?;
        Ok(QueryResult {
            truncated: matched > events.len(),
            events,
            stats,
        })
    }

    /// Every stored event with this audit id, in sequence order (the stages of one request).
    pub fn lookup_id(&self, id: &str) -> Result<Vec<(u64, AuditEvent)>> {
        let filter = Filter::default();
        self.lookup(
            |keys| keys.id_rows(id).to_vec(),
            |event| event.id == id,
            &filter,
        )
    }

    /// Every stored event about one object (any subresource), oldest first.
    pub fn object_events(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<(u64, AuditEvent)>> {
        let filter = Filter {
            resources: vec![TextPattern::Exact(resource.to_owned())],
            names: vec![TextPattern::Exact(name.to_owned())],
            ..Filter::default()
        };
        let mut events = self.lookup(
            |keys| keys.object_rows(resource, namespace, name).to_vec(),
            |event| {
                event.object.as_ref().is_some_and(|object| {
                    object.resource == resource
                        && object.namespace == namespace
                        && object.name == name
                })
            },
            &filter,
        )?;
        events.sort_by_key(|(seq, event)| (event.when(), *seq));
        Ok(events)
    }

    /// Candidate rows from each segment's key index (a filtered scan where a segment has
    /// none), then the tail, keeping the events that really match.
    fn lookup(
        &self,
        candidates: impl Fn(&crate::keys::KeyIndex) -> Vec<u32>,
        keep: impl Fn(&AuditEvent) -> bool,
        fallback: &Filter,
    ) -> Result<Vec<(u64, AuditEvent)>> {
        let mut found = Vec::new();
        let mut unindexed = Vec::new();
        for (at, segment) in self.segments.iter().enumerate() {
            match segment.keys() {
                Some(keys) => {
                    let rows = candidates(keys);
                    if !rows.is_empty() {
                        found.extend(segment.read_rows(&rows)?);
                    }
                }
                None => unindexed.push(at),
            }
        }
        if !unindexed.is_empty() {
            let subset = Dataset {
                segments: unindexed
                    .iter()
                    .filter_map(|at| self.segments.get(*at).cloned())
                    .collect(),
                tail: None,
                threads: self.threads,
            };
            let result = subset.query(fallback, RESULT_ROWS_MAX)?;
            found.extend(result.events);
        }
        found.retain(|(_, event)| keep(event));
        if let Some(tail) = &self.tail {
            found.extend(tail.events.iter().filter(|(_, event)| keep(event)).cloned());
        }
        found.sort_by_key(|(seq, _)| *seq);
        found.dedup_by_key(|(seq, _)| *seq);
        Ok(found)
    }

    /// Reads the events at `places`, keeping their order.
    pub(crate) fn materialize(
        &self,
        places: impl Iterator<Item = Place> + Clone,
    ) -> Result<Vec<(u64, AuditEvent)>> {
        let mut by_segment: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for place in places.clone() {
            if let Place::Segment { segment, row } = place {
                by_segment.entry(segment).or_default().push(row);
            }
        }
        let mut read: BTreeMap<(usize, u32), (u64, AuditEvent)> = BTreeMap::new();
        for (segment, mut rows) in by_segment {
            let Some(file) = self.segments.get(segment) else {
                continue;
            };
            rows.sort_unstable();
            rows.dedup();
            for (row, event) in rows.iter().zip(file.read_rows(&rows)?) {
                read.insert((segment, *row), event);
            }
        }
        let mut events = Vec::new();
        for place in places {
            let event = match place {
                Place::Segment { segment, row } => read.remove(&(segment, row)),
                Place::Tail { index } => self
                    .tail
                    .as_ref()
                    .and_then(|tail| tail.events.get(index).cloned()),
            };
            events.extend(event);
        }
        Ok(events)
    }

    /// Runs `make()`'s accumulator over every row the filter selects, in parallel, loading
    /// `columns` (plus what the filter needs).
    pub(crate) fn scan<A: Accumulate>(
        &self,
        filter: &Filter,
        columns: &[Column],
        make: impl Fn() -> A + Sync,
    ) -> Result<(A, ScanStats)> {
        filter.validate()?;
        let mut needed: Vec<Column> = columns.to_vec();
        needed.extend(filter_columns(filter));
        needed.sort_unstable();
        needed.dedup();

        let mut stats = ScanStats::default();
        let mut units = Vec::new();
        for (segment_at, segment) in self.segments.iter().enumerate() {
            let metadata = segment.metadata().metadata();
            let mut first_row = 0_u64;
            for (group, row_group) in metadata.row_groups().iter().enumerate() {
                stats.row_groups += 1;
                let rows = u64::try_from(row_group.num_rows()).unwrap_or_default();
                if statistics_exclude(row_group, filter) {
                    stats.pruned_by_statistics += 1;
                } else {
                    units.push(Unit::RowGroup {
                        segment: segment_at,
                        group,
                        first_row,
                    });
                }
                first_row += rows;
            }
        }
        if self.tail.is_some() {
            units.push(Unit::Tail);
        }

        let threads = self
            .threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            })
            .clamp(1, SCAN_THREADS_MAX)
            .min(units.len().max(1));
        let next = AtomicUsize::new(0);
        let bloom_pruned = AtomicU64::new(0);
        let scanned = AtomicU64::new(0);
        let matched = AtomicU64::new(0);
        let worker = || -> Result<A> {
            let mut accumulator = make();
            loop {
                let at = next.fetch_add(1, Ordering::Relaxed);
                let Some(unit) = units.get(at) else {
                    return Ok(accumulator);
                };
                let tested = self.load(*unit, &needed, filter, &bloom_pruned, |chunk, rows| {
                    match rows {
                        Rows::All => {
                            matched.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                            if chunk.len() > 0 {
                                accumulator.add_all(&chunk)?;
                            }
                        }
                        Rows::Some(rows) => {
                            matched.fetch_add(rows.len() as u64, Ordering::Relaxed);
                            if !rows.is_empty() {
                                accumulator.add(&chunk, &rows)?;
                            }
                        }
                    }
                    Ok(())
                })?;
                scanned.fetch_add(tested, Ordering::Relaxed);
            }
        };
        let results: Vec<Result<A>> = if threads <= 1 {
            vec![worker()]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().unwrap_or(Err(Error::ScanThread)))
                    .collect()
            })
        };
        let mut total: Option<A> = None;
        for result in results {
            let partial = result?;
            match total.as_mut() {
                None => total = Some(partial),
                Some(total) => total.merge(partial),
            }
        }
        stats.pruned_by_bloom_filter = bloom_pruned.into_inner();
        stats.rows_scanned = scanned.into_inner();
        stats.rows_matched = matched.into_inner();
        Ok((total.unwrap_or_else(make), stats))
    }

    /// Loads a unit and selects its rows, handing each `(chunk, selected rows)` to `each` as
    /// soon as it is read; returns the number of rows tested.
    ///
    /// A row group is read in two steps when the filter reads columns: first only those
    /// columns, to select rows; then, if any row matched, the other columns, of the
    /// selected rows only when they are few (the page index then skips whole pages).
    fn load(
        &self,
        unit: Unit,
        columns: &[Column],
        filter: &Filter,
        bloom_pruned: &AtomicU64,
        mut each: impl FnMut(Chunk, Rows) -> Result<()>,
    ) -> Result<u64> {
        let (segment, group, first_row) = match unit {
            Unit::Tail => {
                let Some(tail) = &self.tail else {
                    return Ok(0);
                };
                let chunk = Chunk {
                    batch: tail.batch.clone(),
                    origin: ChunkOrigin::Tail,
                    row_map: None,
                };
                let rows = select_rows(&chunk, filter)?;
                let tested = chunk.len() as u64;
                each(chunk, rows)?;
                return Ok(tested);
            }
            Unit::RowGroup {
                segment,
                group,
                first_row,
            } => (segment, group, first_row),
        };
        let Some(file) = self.segments.get(segment) else {
            return Ok(0);
        };
        let builder = file.reader()?;
        if bloom_excludes(&builder, group, filter)? {
            bloom_pruned.fetch_add(1, Ordering::Relaxed);
            return Ok(0);
        }
        let filter_only = filter_columns(filter);
        let origin = ChunkOrigin::Segment { segment, first_row };
        let mut tested = 0;
        if filter_only.is_empty() || filter_only.len() >= columns.len() {
            read_group(
                file,
                builder,
                group,
                columns,
                origin,
                Batches::Scan,
                |chunk| {
                    let rows = select_rows(&chunk, filter)?;
                    tested += chunk.len() as u64;
                    each(chunk, rows)
                },
            )?;
            return Ok(tested);
        }
        let mut probes = Vec::new();
        read_group(
            file,
            builder,
            group,
            &filter_only,
            origin,
            Batches::Whole,
            |probe| {
                probes.push(probe);
                Ok(())
            },
        )?;
        let mut sparse_reads = Vec::new();
        for probe in probes {
            let rows = select(&probe, filter)?;
            tested += probe.len() as u64;
            if rows.is_empty() {
                continue;
            }
            let ChunkOrigin::Segment {
                first_row: probe_first_row,
                ..
            } = probe.origin
            else {
                continue;
            };
            // Batches of one row group come one per row group with our files; a row group
            // split over several batches (another writer) is read whole, as one.
            let sparse = rows.len() * SPARSE_SELECTION_RATIO < probe.len()
                && probe.len() as u64 == row_group_rows(file, group);
            if !sparse {
                // Dense, or a row group split over batches: read the whole row group.
                let scan = Batches::Scan;
                read_group(
                    file,
                    file.reader()?,
                    group,
                    columns,
                    origin,
                    scan,
                    |chunk| {
                        let rows = select_rows(&chunk, filter)?;
                        each(chunk, rows)
                    },
                )?;
                return Ok(tested);
            }
            let probe_origin = ChunkOrigin::Segment {
                segment,
                first_row: probe_first_row,
            };
            sparse_reads.push((probe_origin, rows));
        }
        for (probe_origin, rows) in sparse_reads {
            let selection = selection_of(&rows, row_group_rows(file, group) as usize);
            read_group(
                file,
                file.reader()?,
                group,
                columns,
                probe_origin,
                Batches::Selected(selection),
                |chunk| {
                    let chunk = Chunk {
                        row_map: Some(rows.clone()),
                        ..chunk
                    };
                    each(chunk, Rows::All)
                },
            )?;
        }
        Ok(tested)
    }
}

/// The rows of a chunk that a filter selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rows {
    /// Every row of the chunk (the filter tests no column, or the chunk holds only the
    /// rows it selected): no list of row numbers is made.
    All,
    /// These rows, in row order.
    Some(Vec<u32>),
}

/// A selection of at most one in this many rows is read row by row in the second step.
const SPARSE_SELECTION_RATIO: usize = 8;

fn row_group_rows(file: &Segment, group: usize) -> u64 {
    file.metadata()
        .metadata()
        .row_groups()
        .get(group)
        .map_or(0, |row_group| {
            u64::try_from(row_group.num_rows()).unwrap_or_default()
        })
}

fn selection_of(rows: &[u32], length: usize) -> RowSelection {
    let mut selectors = Vec::new();
    let mut position = 0_usize;
    for row in rows {
        let row = *row as usize;
        if row > position {
            selectors.push(RowSelector::skip(row - position));
        }
        selectors.push(RowSelector::select(1));
        position = row + 1;
    }
    if length > position {
        selectors.push(RowSelector::skip(length - position));
    }
    RowSelection::from(selectors)
}

/// How [`read_group`] reads a row group.
enum Batches {
    /// Every row, [`SCAN_BATCH_ROWS`] at a time: the buffers of one batch are reused for
    /// the next while still in the core's cache (a whole row group in one batch grows the
    /// reader's buffers page by page, copying them each time).
    Scan,
    /// Every row in one batch ([`ROW_GROUP_ROWS`]; a longer row group, from another writer,
    /// comes in several), so that row numbers in a batch are those of the row group.
    Whole,
    /// The selected rows only, in one batch.
    Selected(RowSelection),
}

/// Reads `columns` of one row group as `batches` say and hands each batch to `each` as a
/// chunk.
fn read_group(
    file: &Segment,
    builder: ParquetRecordBatchReaderBuilder<std::fs::File>,
    group: usize,
    columns: &[Column],
    origin: ChunkOrigin,
    batches: Batches,
    mut each: impl FnMut(Chunk) -> Result<()>,
) -> Result<()> {
    let ChunkOrigin::Segment {
        segment,
        mut first_row,
    } = origin
    else {
        return Ok(());
    };
    let builder = builder
        .with_row_groups(vec![group])
        .with_projection(file.projection(columns));
    let sparse = matches!(batches, Batches::Selected(_));
    let builder = match batches {
        Batches::Scan => builder.with_batch_size(SCAN_BATCH_ROWS),
        Batches::Whole => builder.with_batch_size(ROW_GROUP_ROWS),
        Batches::Selected(selection) => builder
            .with_batch_size(ROW_GROUP_ROWS)
            .with_row_selection(selection),
    };
    for batch in builder.build()? {
        let batch = batch?;
        let rows = batch.num_rows() as u64;
        each(Chunk {
            batch,
            origin: ChunkOrigin::Segment { segment, first_row },
            row_map: None,
        })?;
        if !sparse {
            first_row += rows;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    RowGroup {
        segment: usize,
        group: usize,
        first_row: u64,
    },
    Tail,
}

struct HitCollector {
    top: TopK<Place>,
    /// Only keys below this one (the position a page starts after).
    before: Option<crate::topk::Key>,
    /// Matching rows at or above `before`.
    skipped: u64,
}

impl Accumulate for HitCollector {
    fn add(&mut self, chunk: &Chunk, rows: &[u32]) -> Result<()> {
        let times = chunk.times()?;
        let seqs = chunk.seqs()?;
        for row in rows {
            let at = *row as usize;
            let key = (times.when(at).unwrap_or(i64::MIN), seqs.value(at));
            if self.before.is_some_and(|before| key >= before) {
                self.skipped += 1;
                continue;
            }
            self.top.push(key, chunk.place(*row));
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        self.top.merge(other.top);
        self.skipped += other.skipped;
    }
}

/// A place in the newest-first order of query results: an event's time (`i64::MIN` for an
/// event without one, which sorts last) and ledger sequence number. The cursor of paginated
/// queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// [`AuditEvent::when`] in Unix nanoseconds, `i64::MIN` when the event has no time.
    pub when: i64,
    /// The ledger sequence number.
    pub seq: u64,
}

impl Position {
    /// The position of the event stored at `seq`.
    pub fn of(seq: u64, event: &AuditEvent) -> Position {
        Position {
            when: event.when().map_or(i64::MIN, Timestamp::unix_nanos),
            seq,
        }
    }
}

/// The columns the filter reads.
fn filter_columns(filter: &Filter) -> Vec<Column> {
    let mut columns = Vec::new();
    if filter.has_time() {
        columns.extend([Column::Time, Column::StageTime]);
    }
    let text: [(&[TextPattern], Column); 5] = [
        (&filter.users, Column::User),
        (&filter.verbs, Column::Verb),
        (&filter.resources, Column::Resource),
        (&filter.namespaces, Column::Namespace),
        (&filter.names, Column::Name),
    ];
    for (patterns, column) in text {
        if !patterns.is_empty() {
            columns.push(column);
        }
    }
    if !filter.codes.is_empty() {
        columns.push(Column::Code);
    }
    if !filter.sources.is_empty() {
        columns.push(Column::Source);
    }
    columns
}

/// The rows of `chunk` the filter selects, in row order.
pub(crate) fn select(chunk: &Chunk, filter: &Filter) -> Result<Vec<u32>> {
    Ok(match select_rows(chunk, filter)? {
        Rows::All => (0..u32::try_from(chunk.len()).unwrap_or(u32::MAX)).collect(),
        Rows::Some(rows) => rows,
    })
}

/// The rows of `chunk` the filter selects: [`Rows::All`] when it tests no column.
fn select_rows(chunk: &Chunk, filter: &Filter) -> Result<Rows> {
    let length = chunk.len();
    let mut rows: Option<Vec<u32>> = None;
    if filter.has_time() {
        let times = chunk.times()?;
        let since = filter.since.map_or(i64::MIN, |since| since.unix_nanos());
        let until = filter.until.map(|until| until.unix_nanos());
        narrow(&mut rows, length, |row| {
            times
                .when(row)
                .is_some_and(|when| when >= since && until.is_none_or(|until| when < until))
        });
    }
    let text: [(&[TextPattern], Column); 5] = [
        (&filter.users, Column::User),
        (&filter.verbs, Column::Verb),
        (&filter.resources, Column::Resource),
        (&filter.namespaces, Column::Namespace),
        (&filter.names, Column::Name),
    ];
    for (patterns, column) in text {
        if patterns.is_empty() {
            continue;
        }
        let dict = chunk.dict(column)?;
        let accept = dictionary_mask(dict.values, |value| {
            !value.is_empty() && patterns.iter().any(|pattern| pattern.matches(value))
        });
        narrow_dict(&mut rows, length, dict, &accept);
    }
    if !filter.codes.is_empty() {
        let codes = chunk.codes()?;
        let values = codes.values();
        narrow(&mut rows, length, |row| {
            codes.is_valid(row) && filter.codes.iter().any(|want| want.matches(values[row]))
        });
    }
    if !filter.sources.is_empty() {
        let dict = chunk.dict(Column::Source)?;
        let accept = dictionary_mask(dict.values, |value| {
            filter.sources.iter().any(|source| source.as_str() == value)
        });
        narrow_dict(&mut rows, length, dict, &accept);
    }
    Ok(rows.map_or(Rows::All, Rows::Some))
}

/// Evaluates `accept` once per dictionary value.
pub(crate) fn dictionary_mask(values: &StringArray, accept: impl Fn(&str) -> bool) -> Vec<bool> {
    (0..values.len())
        .map(|at| values.is_valid(at) && accept(values.value(at)))
        .collect()
}

fn narrow_dict(rows: &mut Option<Vec<u32>>, length: usize, dict: DictText<'_>, accept: &[bool]) {
    let keys = dict.array.keys().values();
    let nulls = dict.array.nulls();
    narrow(rows, length, |row| {
        nulls.is_none_or(|nulls| nulls.is_valid(row))
            && usize::try_from(keys[row])
                .ok()
                .and_then(|key| accept.get(key).copied())
                .unwrap_or(false)
    });
}

/// Keeps the rows for which `keep` holds: from all rows the first time, then from the rows
/// kept so far.
fn narrow(rows: &mut Option<Vec<u32>>, length: usize, keep: impl Fn(usize) -> bool) {
    match rows {
        Some(rows) => rows.retain(|row| keep(*row as usize)),
        None => {
            *rows = Some(
                (0..length)
                    .filter(|row| keep(*row))
                    .map(|row| row as u32)
                    .collect(),
            );
        }
    }
}

/// True when the row group's min/max statistics prove that no row matches.
fn statistics_exclude(row_group: &RowGroupMetaData, filter: &Filter) -> bool {
    let rows = u64::try_from(row_group.num_rows()).unwrap_or_default();
    let statistics = |column: Column| {
        row_group
            .columns()
            .get(column.index())
            .and_then(|chunk| chunk.statistics())
    };
    let all_null = |stats: &Statistics| stats.null_count_opt() == Some(rows);
    if filter.has_time() && time_excludes(row_group, filter, rows) {
        return true;
    }
    let text: [(&[TextPattern], Column); 5] = [
        (&filter.users, Column::User),
        (&filter.verbs, Column::Verb),
        (&filter.resources, Column::Resource),
        (&filter.namespaces, Column::Namespace),
        (&filter.names, Column::Name),
    ];
    for (patterns, column) in text {
        if patterns.is_empty() {
            continue;
        }
        let Some(stats) = statistics(column) else {
            continue;
        };
        if all_null(stats) {
            return true;
        }
        let (Some(min), Some(max)) = (stats.min_bytes_opt(), stats.max_bytes_opt()) else {
            continue;
        };
        let outside = |pattern: &TextPattern| {
            pattern
                .exact()
                .is_some_and(|value| value.as_bytes() < min || value.as_bytes() > max)
        };
        if patterns.iter().all(outside) {
            return true;
        }
    }
    if !filter.codes.is_empty()
        && let Some(stats) = statistics(Column::Code)
    {
        if all_null(stats) {
            return true;
        }
        if let Statistics::Int32(values) = stats
            && let (Some(min), Some(max)) = (values.min_opt(), values.max_opt())
        {
            let outside = |want: &crate::filter::CodeMatch| {
                let (low, high) = want.range();
                i32::from(high) < *min || i32::from(low) > *max
            };
            if filter.codes.iter().all(outside) {
                return true;
            }
        }
    }
    false
}

/// True when no row's `when` can fall in the filter's time range. `when` is `time`, else
/// `stage_time`, so the possible values are covered by the union of both columns' ranges
/// (only `time`'s when it has no NULL).
fn time_excludes(row_group: &RowGroupMetaData, filter: &Filter, rows: u64) -> bool {
    let range = |column: Column| -> Option<Option<(i64, i64)>> {
        let stats = row_group.columns().get(column.index())?.statistics()?;
        if stats.null_count_opt()? == rows {
            return Some(None);
        }
        match stats {
            Statistics::Int64(values) => Some(Some((*values.min_opt()?, *values.max_opt()?))),
            _ => None,
        }
    };
    let Some(time) = range(Column::Time) else {
        return false;
    };
    let time_has_nulls = row_group
        .columns()
        .get(Column::Time.index())
        .and_then(|chunk| chunk.statistics())
        .and_then(Statistics::null_count_opt)
        != Some(0);
    let hull = if time_has_nulls {
        let Some(stage) = range(Column::StageTime) else {
            return false;
        };
        match (time, stage) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (one, None) | (None, one) => one,
        }
    } else {
        time
    };
    let Some((low, high)) = hull else {
        return true;
    };
    filter.since.is_some_and(|since| high < since.unix_nanos())
        || filter.until.is_some_and(|until| low >= until.unix_nanos())
}

/// True when a bloom filter proves that no row of the row group matches an exact filter.
fn bloom_excludes(
    builder: &ParquetRecordBatchReaderBuilder<std::fs::File>,
    group: usize,
    filter: &Filter,
) -> Result<bool> {
    let text: [(&[TextPattern], Column); 5] = [
        (&filter.users, Column::User),
        (&filter.verbs, Column::Verb),
        (&filter.resources, Column::Resource),
        (&filter.namespaces, Column::Namespace),
        (&filter.names, Column::Name),
    ];
    for (patterns, column) in text {
        if patterns.is_empty() || !BLOOM_COLUMNS.contains(&column) {
            continue;
        }
        let exact: Option<Vec<&str>> = patterns.iter().map(TextPattern::exact).collect();
        let Some(exact) = exact else {
            continue;
        };
        let Some(bloom) = builder.get_row_group_column_bloom_filter(group, column.index())? else {
            continue;
        };
        if !exact.iter().any(|value| bloom.check(*value)) {
            return Ok(true);
        }
    }
    Ok(false)
}

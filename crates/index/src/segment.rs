//! Writing events to a Parquet segment and reading them back.
//!
//! A segment is one Parquet file (zstd, dictionary encoding on low-cardinality strings,
//! [`ROW_GROUP_ROWS`] rows per row group, chunk statistics on every filter column, page
//! statistics on the time and sequence columns, bloom filters on `user`, `verb`, `resource`,
//! `namespace` and `name`), plus a [`KeyIndex`] for point lookups that the caller stores
//! beside it (see [`crate::keys`]).
//!
//! Invariants:
//! - Rows are in strictly increasing `ledger_seq` order, which the file declares as its
//!   sorting column; [`write_segment`] refuses anything else.
//! - The file is a plain Parquet file: DuckDB, Spark, Trino and DataFusion read it as is.
//! - Reading a segment back gives exactly the `(seq, event)` pairs written
//!   (see [`crate::schema`]).

use std::borrow::Borrow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch};
use event::{AuditEvent, Timestamp};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, compute_leaves,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, PageIndexPolicy, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::keys::{KeyIndex, KeyIndexBuilder};
use crate::limits::{
    BLOOM_FILTER_FPP, DATA_PAGE_BYTES, DICTIONARY_PAGE_BYTES, ROW_GROUP_ROWS, SEGMENT_ROWS_MAX,
    STATISTICS_TRUNCATE_BYTES, ZSTD_LEVEL,
};
use crate::schema::{self, BatchBuilder, Column, events_from_batch};

/// Key of the file metadata entry that names the format version.
pub const FORMAT_KEY: &str = "auditrail.segment.format";
/// The format version this crate writes and reads. Version 2 moved the origin's input, line
/// and offset out of `rest` into their own columns; version 1 files are refused.
pub const FORMAT_VERSION: &str = "2";

/// The columns that carry bloom filters (the equality filters of `auditrail query`).
pub(crate) const BLOOM_COLUMNS: [Column; 5] = [
    Column::User,
    Column::Verb,
    Column::Resource,
    Column::Namespace,
    Column::Name,
];

/// What a written segment holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentMeta {
    /// Number of rows (events).
    pub rows: u64,
    /// The first and last ledger sequence numbers, `None` when empty.
    pub seq_range: Option<(u64, u64)>,
    /// The earliest and latest event time (`AuditEvent::when`), `None` when no event has one.
    pub time_range: Option<(Timestamp, Timestamp)>,
    /// Number of row groups.
    pub row_groups: usize,
}

/// The result of [`write_segment`]: the segment's summary and its key index.
#[derive(Debug)]
pub struct WrittenSegment {
    /// What the segment holds.
    pub meta: SegmentMeta,
    /// Audit id and object lookups into the segment; store it beside the file
    /// ([`KeyIndex::write_to`]).
    pub keys: KeyIndex,
}

/// The writer settings of every segment.
pub fn writer_properties() -> Result<WriterProperties> {
    let zstd = ZstdLevel::try_new(ZSTD_LEVEL)?;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_size_limit(DATA_PAGE_BYTES)
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_statistics_truncate_length(Some(STATISTICS_TRUNCATE_BYTES))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: i32::try_from(Column::LedgerSeq.index()).unwrap_or_default(),
            descending: false,
            nulls_first: false,
        }]))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            FORMAT_KEY.to_owned(),
            FORMAT_VERSION.to_owned(),
        )]));
    // Times and sequence numbers rise almost monotonically: delta encoding stores the
    // sequence in almost nothing and the times in fewer bits than plain + zstd.
    for column in [Column::Time, Column::StageTime, Column::LedgerSeq] {
        builder = builder.set_column_statistics_enabled(
            ColumnPath::from(column.name()),
            EnabledStatistics::Page,
        );
    }
    // Line numbers and offsets rise by small steps within an input: delta encoding stores
    // a line in almost nothing and an offset in about one and a half bytes.
    for column in [
        Column::Time,
        Column::StageTime,
        Column::LedgerSeq,
        Column::OriginLine,
        Column::OriginOffset,
    ] {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from(column.name()), false)
            .set_column_encoding(
                ColumnPath::from(column.name()),
                Encoding::DELTA_BINARY_PACKED,
            );
    }
    for column in [
        Column::Uri,
        Column::AuditId,
        Column::RequestObject,
        Column::ResponseObject,
        Column::Rest,
    ] {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from(column.name()), false)
            .set_column_statistics_enabled(
                ColumnPath::from(column.name()),
                EnabledStatistics::None,
            );
    }
    for column in BLOOM_COLUMNS {
        builder = builder
            .set_column_bloom_filter_enabled(ColumnPath::from(column.name()), true)
            .set_column_bloom_filter_fpp(ColumnPath::from(column.name()), BLOOM_FILTER_FPP)
            .set_column_bloom_filter_max_ndv(
                ColumnPath::from(column.name()),
                ROW_GROUP_ROWS as u64,
            );
    }
    Ok(builder.build())
}

/// Writes `events` (in strictly increasing sequence order) as one Parquet segment to `out`.
///
/// Returns what the segment holds and its key index. `out` is written sequentially; the
/// caller makes it durable (fsync, rename) as it sees fit. Events may be borrowed or owned,
/// so a segment can be streamed without holding it in memory (only one row group of column
/// builders is).
pub fn write_segment<W: Write + Send, E: Borrow<AuditEvent>>(
    out: W,
    events: impl IntoIterator<Item = (u64, E)>,
) -> Result<WrittenSegment> {
    write_segment_with(out, events, ROW_GROUP_ROWS)
}

/// [`write_segment`] with `row_group_rows` rows per row group (clamped to
/// `1..=ROW_GROUP_ROWS`); for tests that need many row groups from few events.
pub fn write_segment_with<W: Write + Send, E: Borrow<AuditEvent>>(
    out: W,
    events: impl IntoIterator<Item = (u64, E)>,
    row_group_rows: usize,
) -> Result<WrittenSegment> {
    let row_group_rows = row_group_rows.clamp(1, ROW_GROUP_ROWS);
    let properties = writer_properties()?
        .into_builder()
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    let mut writer = ArrowWriter::try_new(out, schema::schema(), Some(properties))?;
    let mut rows = SegmentBuilder::new();
    for (seq, event) in events {
        rows.push(seq, event.borrow())?;
        if rows.builder.rows() >= row_group_rows {
            writer.write(&rows.builder.finish()?)?;
            writer.flush()?;
        }
    }
    if rows.builder.rows() > 0 {
        writer.write(&rows.builder.finish()?)?;
    }
    let metadata = writer.close()?;
    let mut meta = rows.meta;
    meta.row_groups = metadata.num_row_groups();
    Ok(WrittenSegment {
        meta,
        keys: rows.keys.finish(),
    })
}

/// Builds a segment row by row in memory, for a writer that converts events as they arrive
/// and writes the file elsewhere (another thread): [`SegmentBuilder::finish`] gives the rows
/// as one Arrow batch with the key index, and [`BuiltSegment::write_to`] writes them as the
/// same Parquet file [`write_segment`] would.
pub struct SegmentBuilder {
    builder: BatchBuilder,
    keys: KeyIndexBuilder,
    meta: SegmentMeta,
    previous: Option<u64>,
}

impl std::fmt::Debug for SegmentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentBuilder")
            .field("meta", &self.meta)
            .finish()
    }
}

impl Default for SegmentBuilder {
    fn default() -> SegmentBuilder {
        SegmentBuilder::new()
    }
}

impl SegmentBuilder {
    /// An empty segment.
    pub fn new() -> SegmentBuilder {
        SegmentBuilder {
            builder: BatchBuilder::new(),
            keys: KeyIndexBuilder::default(),
            meta: SegmentMeta::default(),
            previous: None,
        }
    }

    /// Adds `event` as the row of ledger record `seq` (strictly increasing).
    pub fn push(&mut self, seq: u64, event: &AuditEvent) -> Result<()> {
        if let Some(previous) = self.previous
            && seq <= previous
        {
            return Err(Error::SeqOrder { previous, seq });
        }
        let row = usize::try_from(self.meta.rows).unwrap_or(usize::MAX);
        if row >= SEGMENT_ROWS_MAX {
            return Err(Error::SegmentTooLarge {
                max: SEGMENT_ROWS_MAX,
            });
        }
        self.builder.append(seq, event)?;
        self.previous = Some(seq);
        self.keys.add(u32::try_from(row).unwrap_or(u32::MAX), event);
        self.meta.seq_range = Some(
            self.meta
                .seq_range
                .map_or((seq, seq), |(first, _)| (first, seq)),
        );
        if let Some(when) = event.when() {
            self.meta.time_range = Some(match self.meta.time_range {
                None => (when, when),
                Some((low, high)) => (low.min(when), high.max(when)),
            });
        }
        self.meta.rows += 1;
        Ok(())
    }

    /// Rows added.
    pub fn rows(&self) -> u64 {
        self.meta.rows
    }

    /// The rows as one batch, with their key index; the builder starts anew.
    pub fn finish(&mut self) -> Result<BuiltSegment> {
        let batch = self.builder.finish()?;
        let keys = std::mem::take(&mut self.keys).finish();
        let mut meta = std::mem::take(&mut self.meta);
        meta.row_groups = batch.num_rows().div_ceil(ROW_GROUP_ROWS);
        self.previous = None;
        Ok(BuiltSegment { batch, keys, meta })
    }
}

/// The rows of a segment built by [`SegmentBuilder`], not yet written.
#[derive(Debug)]
pub struct BuiltSegment {
    batch: RecordBatch,
    /// Audit id and object lookups into the rows.
    pub keys: KeyIndex,
    /// What the segment holds.
    pub meta: SegmentMeta,
}

impl BuiltSegment {
    /// Writes the rows as a Parquet segment to `out` (the caller makes it durable), encoding
    /// the columns of each row group on up to `threads` threads at once (the file is the same
    /// whatever their number: each column chunk is encoded alone, then they are laid out in
    /// column order).
    pub fn write_to<W: Write + Send>(&self, out: W, threads: usize) -> Result<()> {
        let schema = schema::schema();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(writer_properties()?))?;
        let (mut file, factory) = writer.into_serialized_writer()?;
        let mut start = 0;
        let mut group = 0;
        while start < self.batch.num_rows() {
            let length = ROW_GROUP_ROWS.min(self.batch.num_rows() - start);
            let batch = self.batch.slice(start, length);
            let mut columns = Vec::new();
            for (array, field) in batch.columns().iter().zip(schema.fields()) {
                columns.extend(compute_leaves(field, array)?);
            }
            let writers = factory.create_column_writers(group)?;
            let chunks = encode_columns(writers.into_iter().zip(columns).collect(), threads)?;
            let mut row_group = file.next_row_group()?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut row_group)?;
            }
            row_group.close()?;
            start += length;
            group += 1;
        }
        file.close()?;
        Ok(())
    }
}

/// Encodes each column with its writer, on up to `threads` threads taking the next column
/// as they finish one; the chunks come back in column order.
fn encode_columns(
    columns: Vec<(ArrowColumnWriter, ArrowLeafColumn)>,
    threads: usize,
) -> Result<Vec<ArrowColumnChunk>> {
    let encode = |(mut writer, column): (ArrowColumnWriter, ArrowLeafColumn)| {
        writer.write(&column)?;
        Ok::<_, Error>(writer.close()?)
    };
    let threads = threads.clamp(1, columns.len().max(1));
    if threads == 1 {
        return columns.into_iter().map(encode).collect();
    }
    let count = columns.len();
    let queue = std::sync::Mutex::new(columns.into_iter().enumerate());
    let done = std::sync::Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut queue| queue.next());
                    let Some((at, column)) = next else { break };
                    let chunk = encode(column);
                    if let Ok(mut done) = done.lock() {
                        done.push((at, chunk));
                    }
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_default();
    if done.len() != count {
        return Err(Error::Schema {
            reason: format!("{} of {count} columns encoded", done.len()),
        });
    }
    done.sort_by_key(|(at, _)| *at);
    done.into_iter().map(|(_, chunk)| chunk).collect()
}

/// Builds an in-memory batch of events (the unsealed tail), in the segment schema.
pub(crate) fn batch_of<'a>(
    events: impl IntoIterator<Item = (u64, &'a AuditEvent)>,
) -> Result<RecordBatch> {
    let mut builder = BatchBuilder::new();
    for (seq, event) in events {
        builder.append(seq, event)?;
    }
    builder.finish()
}

/// The fields of a row that identify its event (see [`Segment::read_identities`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowIdentity {
    /// The ledger sequence number.
    pub seq: u64,
    /// The source kind.
    pub source: event::SourceKind,
    /// The audit id, empty when the event has none.
    pub id: String,
    /// The stage.
    pub stage: Option<event::Stage>,
    /// When the request was received.
    pub time: Option<Timestamp>,
    /// When the stage was reached.
    pub stage_time: Option<Timestamp>,
}

/// What [`Segment::identity_times`] tells of a segment's identifying times (nanoseconds
/// since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityTimes {
    /// The least and greatest identifying time (stage time, else request time) of a row
    /// that has one; `None` when no row has one.
    pub range: Option<(i64, i64)>,
    /// Whether some row may have neither time.
    pub untimed: bool,
}

/// A sealed segment opened for reading: its Parquet footer and, when loaded, its key index.
#[derive(Debug, Clone)]
pub struct Segment {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    row_group_starts: Vec<u64>,
    keys: Option<KeyIndex>,
}

impl Segment {
    /// Opens a segment file and reads its footer (with the page index).
    pub fn open(path: impl Into<PathBuf>) -> Result<Segment> {
        Segment::open_with(path.into(), PageIndexPolicy::Optional)
    }

    /// Opens a segment file and reads its footer without the page index: enough for
    /// [`Segment::identity_times`] and whole reads, in fewer bytes than [`Segment::open`].
    pub fn open_footer(path: impl Into<PathBuf>) -> Result<Segment> {
        Segment::open_with(path.into(), PageIndexPolicy::Skip)
    }

    fn open_with(path: PathBuf, page_index: PageIndexPolicy) -> Result<Segment> {
        let file = open_file(&path)?;
        let options = ArrowReaderOptions::new().with_page_index_policy(page_index);
        let metadata = ArrowReaderMetadata::load(&file, options)?;
        let version = metadata
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|pairs| pairs.iter().find(|pair| pair.key == FORMAT_KEY))
            .and_then(|pair| pair.value.clone());
        if version.as_deref() != Some(FORMAT_VERSION) {
            return Err(Error::Schema {
                reason: format!(
                    "{}: segment format {} is not {FORMAT_VERSION}; this store was written by another auditrail release: read it with that release, or import its events again into a new data directory",
                    path.display(),
                    version.as_deref().unwrap_or("unknown")
                ),
            });
        }
        for column in Column::ALL {
            if metadata.schema().field_with_name(column.name()).is_err() {
                return Err(Error::Schema {
                    reason: format!("{}: column {} is missing", path.display(), column.name()),
                });
            }
        }
        let mut row_group_starts = Vec::new();
        let mut start = 0_u64;
        for row_group in metadata.metadata().row_groups() {
            row_group_starts.push(start);
            start += u64::try_from(row_group.num_rows()).unwrap_or_default();
        }
        Ok(Segment {
            path,
            metadata,
            row_group_starts,
            keys: None,
        })
    }

    /// Attaches the segment's key index (as written by [`write_segment`]).
    pub fn with_keys(mut self, keys: KeyIndex) -> Segment {
        self.keys = Some(keys);
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of rows.
    pub fn rows(&self) -> u64 {
        u64::try_from(self.metadata.metadata().file_metadata().num_rows()).unwrap_or_default()
    }

    /// Number of row groups.
    pub fn row_groups(&self) -> usize {
        self.row_group_starts.len()
    }

    pub(crate) fn metadata(&self) -> &ArrowReaderMetadata {
        &self.metadata
    }

    /// The key index, when attached.
    pub fn keys(&self) -> Option<&KeyIndex> {
        self.keys.as_ref()
    }

    /// A reader builder over this segment's file with the footer already parsed.
    pub(crate) fn reader(&self) -> Result<ParquetRecordBatchReaderBuilder<File>> {
        let file = open_file(&self.path)?;
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            file,
            self.metadata.clone(),
        ))
    }

    /// The projection of `columns`.
    pub(crate) fn projection(&self, columns: &[Column]) -> ProjectionMask {
        let indices: Vec<usize> = columns.iter().map(|column| column.index()).collect();
        ProjectionMask::roots(self.metadata.parquet_schema(), indices)
    }

    /// Every event in the segment, in sequence order.
    pub fn read_events(&self) -> Result<Vec<(u64, AuditEvent)>> {
        let reader = self
            .reader()?
            .with_projection(self.projection(&Column::STORED))
            .with_batch_size(ROW_GROUP_ROWS)
            .build()?;
        let mut events = Vec::with_capacity(usize::try_from(self.rows()).unwrap_or_default());
        for batch in reader {
            events.extend(events_from_batch(&batch?)?);
        }
        Ok(events)
    }

    /// Every event in the segment, in sequence order, one at a time, decoded from `rows` rows
    /// read at a time (so that a reader holds one batch of columns and one event in memory).
    pub fn event_rows(&self, rows: usize) -> Result<EventRows> {
        self.event_rows_from(0, rows)
    }

    /// [`event_rows`](Segment::event_rows) from row `start` on (a reader that splits a
    /// segment among threads): the pages before it are skipped, not decoded.
    pub fn event_rows_from(&self, start: u64, rows: usize) -> Result<EventRows> {
        let mut builder = self
            .reader()?
            .with_projection(self.projection(&Column::STORED))
            .with_batch_size(rows.clamp(1, ROW_GROUP_ROWS));
        if start > 0 {
            let skip = usize::try_from(start.min(self.rows())).unwrap_or(usize::MAX);
            let rest = usize::try_from(self.rows().saturating_sub(start)).unwrap_or(usize::MAX);
            builder = builder.with_row_selection(RowSelection::from(vec![
                RowSelector::skip(skip),
                RowSelector::select(rest),
            ]));
        }
        Ok(EventRows {
            reader: builder.build()?,
            columns: None,
            row: 0,
        })
    }

    /// What identifies each row's event, in row order, read from the few columns that hold
    /// it (for a store that skips events it already holds).
    pub fn read_identities(&self) -> Result<Vec<RowIdentity>> {
        let columns = [
            Column::Time,
            Column::StageTime,
            Column::LedgerSeq,
            Column::Source,
            Column::Stage,
            Column::AuditId,
        ];
        let reader = self
            .reader()?
            .with_projection(self.projection(&columns))
            .with_batch_size(ROW_GROUP_ROWS)
            .build()?;
        let mut rows = Vec::with_capacity(usize::try_from(self.rows()).unwrap_or_default());
        for batch in reader {
            let batch = batch?;
            let time =
                schema::downcast::<arrow_array::TimestampNanosecondArray>(&batch, Column::Time)?;
            let stage_time = schema::downcast::<arrow_array::TimestampNanosecondArray>(
                &batch,
                Column::StageTime,
            )?;
            let seq = schema::downcast::<arrow_array::UInt64Array>(&batch, Column::LedgerSeq)?;
            let id = schema::downcast::<arrow_array::StringArray>(&batch, Column::AuditId)?;
            let source = schema::DictText::new(
                batch
                    .column_by_name(Column::Source.name())
                    .ok_or_else(|| schema::wrong_type(Column::Source))?,
                Column::Source,
            )?;
            let stage = schema::DictText::new(
                batch
                    .column_by_name(Column::Stage.name())
                    .ok_or_else(|| schema::wrong_type(Column::Stage))?,
                Column::Stage,
            )?;
            for row in 0..batch.num_rows() {
                let bad = |reason: String| Error::Row {
                    row: row as u64,
                    reason,
                };
                let at = |array: &arrow_array::TimestampNanosecondArray| {
                    (!array.is_null(row)).then(|| Timestamp::from_unix_nanos(array.value(row)))
                };
                rows.push(RowIdentity {
                    seq: seq.value(row),
                    source: schema::parse_source(source.get(row).unwrap_or_default())
                        .ok_or_else(|| bad("unknown source".to_owned()))?,
                    id: if id.is_null(row) {
                        String::new()
                    } else {
                        id.value(row).to_owned()
                    },
                    stage: match stage.get(row) {
                        Some(text) => Some(
                            text.parse()
                                .map_err(|error: event::UnknownName| bad(error.to_string()))?,
                        ),
                        None => None,
                    },
                    time: at(time),
                    stage_time: at(stage_time),
                });
            }
        }
        Ok(rows)
    }

    /// The range of the time that identifies each row's event (its stage time, else its
    /// request time) and whether some row may have neither, from the row groups' column
    /// statistics of `stage_time` and `time` alone (no data page is read). The range covers
    /// every row's identifying time (it may be wider, never narrower), and `untimed` is true
    /// whenever a row has neither time (it may also be true when none has). `None` when a
    /// row group lacks the statistics needed; [`Segment::read_identities`] then tells exactly.
    pub fn identity_times(&self) -> Option<IdentityTimes> {
        let mut times = IdentityTimes {
            range: None,
            untimed: false,
        };
        let mut widen = |low: i64, high: i64| {
            times.range = Some(match times.range {
                Some((a, b)) => (a.min(low), b.max(high)),
                None => (low, high),
            });
        };
        for row_group in self.metadata.metadata().row_groups() {
            let rows = u64::try_from(row_group.num_rows()).ok()?;
            // The null count and, unless every value is null, the exact bounds of a column.
            let column = |column: Column| -> Option<(u64, Option<(i64, i64)>)> {
                let stats = row_group.columns().get(column.index())?.statistics()?;
                let nulls = stats.null_count_opt()?;
                if nulls >= rows {
                    return Some((nulls, None));
                }
                match stats {
                    Statistics::Int64(values) if values.min_is_exact() && values.max_is_exact() => {
                        Some((nulls, Some((*values.min_opt()?, *values.max_opt()?))))
                    }
                    _ => None,
                }
            };
            let (stage_nulls, stage) = column(Column::StageTime)?;
            if let Some((low, high)) = stage {
                widen(low, high);
            }
            if stage_nulls == 0 {
                // Every row is identified by its stage time.
                continue;
            }
            // Some rows fall back to the request time; which ones the statistics do not
            // tell, so every request time counts, and a NULL one may be a row with neither.
            let (time_nulls, time) = column(Column::Time)?;
            if let Some((low, high)) = time {
                widen(low, high);
            }
            if time_nulls > 0 {
                times.untimed = true;
            }
        }
        Some(times)
    }

    /// The events at the given row numbers (any order, duplicates ignored), in row order.
    pub fn read_rows(&self, rows: &[u32]) -> Result<Vec<(u64, AuditEvent)>> {
        let mut rows: Vec<u64> = rows.iter().map(|row| u64::from(*row)).collect();
        rows.sort_unstable();
        rows.dedup();
        let mut events = Vec::with_capacity(rows.len());
        let mut at = 0;
        for (group, start) in self.row_group_starts.iter().enumerate() {
            let end = self
                .row_group_starts
                .get(group + 1)
                .copied()
                .unwrap_or_else(|| self.rows());
            let take = rows[at..].partition_point(|row| *row < end);
            let in_group = &rows[at..at + take];
            at += take;
            if in_group.is_empty() {
                continue;
            }
            let mut selectors = Vec::new();
            let mut position = *start;
            for row in in_group {
                if *row > position {
                    selectors.push(RowSelector::skip(
                        usize::try_from(row - position).unwrap_or_default(),
                    ));
                }
                selectors.push(RowSelector::select(1));
                position = row + 1;
            }
            let reader = self
                .reader()?
                .with_row_groups(vec![group])
                .with_projection(self.projection(&Column::STORED))
                .with_row_selection(RowSelection::from(selectors))
                .with_batch_size(ROW_GROUP_ROWS)
                .build()?;
            for batch in reader {
                events.extend(events_from_batch(&batch?)?);
            }
        }
        Ok(events)
    }
}

/// The events of a segment with their sequence numbers, one at a time (see
/// [`Segment::event_rows`]).
pub struct EventRows {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    /// The batch being read, and the next row of it.
    columns: Option<schema::StoredColumns>,
    row: usize,
}

impl std::fmt::Debug for EventRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRows").field("row", &self.row).finish()
    }
}

impl Iterator for EventRows {
    type Item = Result<(u64, AuditEvent)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(columns) = &self.columns
                && self.row < columns.rows()
            {
                let row = self.row;
                self.row += 1;
                return Some(columns.event(row).map(|event| (columns.seq(row), event)));
            }
            let columns = self
                .reader
                .next()?
                .map_err(Error::from)
                .and_then(|batch| schema::StoredColumns::new(&batch));
            match columns {
                Ok(columns) => {
                    self.columns = Some(columns);
                    self.row = 0;
                }
                Err(error) => {
                    self.columns = None;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// Reads every `(seq, event)` of the segment file at `path`.
pub fn read_segment(path: impl AsRef<Path>) -> Result<Vec<(u64, AuditEvent)>> {
    Segment::open(path.as_ref())?.read_events()
}

pub(crate) fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

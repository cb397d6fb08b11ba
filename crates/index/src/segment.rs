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

use arrow_array::RecordBatch;
use event::{AuditEvent, Timestamp};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, PageIndexPolicy, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
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
/// The format version this crate writes.
pub const FORMAT_VERSION: &str = "1";

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
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column.name()), EnabledStatistics::Page)
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
    let mut builder = BatchBuilder::new();
    let mut keys = KeyIndexBuilder::default();
    let mut meta = SegmentMeta::default();
    let mut previous: Option<u64> = None;
    for (seq, event) in events {
        let event = event.borrow();
        if let Some(previous) = previous
            && seq <= previous
        {
            return Err(Error::SeqOrder { previous, seq });
        }
        previous = Some(seq);
        let row = usize::try_from(meta.rows).unwrap_or(usize::MAX);
        if row >= SEGMENT_ROWS_MAX {
            return Err(Error::SegmentTooLarge {
                max: SEGMENT_ROWS_MAX,
            });
        }
        keys.add(u32::try_from(row).unwrap_or(u32::MAX), event);
        meta.seq_range = Some(meta.seq_range.map_or((seq, seq), |(first, _)| (first, seq)));
        if let Some(when) = event.when() {
            meta.time_range = Some(match meta.time_range {
                None => (when, when),
                Some((low, high)) => (low.min(when), high.max(when)),
            });
        }
        builder.append(seq, event)?;
        meta.rows += 1;
        if builder.rows() >= row_group_rows {
            writer.write(&builder.finish()?)?;
            writer.flush()?;
        }
    }
    if builder.rows() > 0 {
        writer.write(&builder.finish()?)?;
    }
    let metadata = writer.close()?;
    meta.row_groups = metadata.num_row_groups();
    Ok(WrittenSegment {
        meta,
        keys: keys.finish(),
    })
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
        let path = path.into();
        let file = open_file(&path)?;
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let metadata = ArrowReaderMetadata::load(&file, options)?;
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

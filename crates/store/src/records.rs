//! Reading ledger records from the segment files without opening the ledger for writing (no
//! lock, no recovery), for verification and for queries beside a running writer. A damaged or
//! torn block ends the scan: what lies beyond it is the ledger verification's business.

use std::path::{Path, PathBuf};

use crate::StoreError;

/// Calls `on_record(seq, record)` for every readable record with `seq >= from`, in order.
/// Returns the sequence number after the last record read.
pub(crate) fn scan(
    root: &Path,
    from: u64,
    on_record: impl FnMut(u64, &[u8]),
) -> Result<u64, StoreError> {
    scan_with(root, from, true, on_record)
}

/// [`scan`]; with `events` false, the events of externalized segments (their Parquet rows)
/// are skipped and only the other records kept beside them are given.
pub(crate) fn scan_with(
    root: &Path,
    from: u64,
    events: bool,
    mut on_record: impl FnMut(u64, &[u8]),
) -> Result<u64, StoreError> {
    let files = segment_files(&root.join("ledger").join("segments"))?;
    let mut next = from;
    let columnar = crate::columns::ColumnarRecords::new(root);
    for (index, (first, path)) in files.iter().enumerate() {
        if files
            .get(index + 1)
            .is_some_and(|(following, _)| *following <= from)
        {
            continue;
        }
        let (bytes, path) = match std::fs::read(path) {
            Ok(bytes) => (bytes, path.clone()),
            // Compacted since the listing (a server beside this reader): its stub was
            // written before the segment file was removed.
            Err(_) => {
                let stub = path.with_file_name(ledger::segment::external_file_name(*first));
                let Ok(bytes) = std::fs::read(&stub) else {
                    break;
                };
                (bytes, stub)
            }
        };
        if path.extension().is_some_and(|extension| extension == "ext") {
            // Externalized: the records are in the index segment's files.
            let Ok((stub_first, count)) = ledger::segment::decode_external(&bytes) else {
                break;
            };
            if !events {
                let Ok(others) = columnar.others(stub_first, stub_first + count) else {
                    break;
                };
                for (seq, record) in others.iter().filter(|(seq, _)| *seq >= from) {
                    on_record(*seq, record);
                }
                next = next.max(stub_first + count);
                continue;
            }
            let Ok(records) = columnar.read(stub_first, stub_first + count) else {
                break;
            };
            for (seq, record) in (stub_first..).zip(&records) {
                if seq >= from {
                    on_record(seq, record);
                    next = seq + 1;
                }
            }
            continue;
        }
        let mut position = ledger::segment::HEADER_BYTES;
        let mut seq = *first;
        while position < bytes.len() && !ledger::segment::is_footer(&bytes[position..]) {
            let Ok(header) = ledger::segment::decode_block_header(&bytes[position..]) else {
                break;
            };
            let frame = &bytes[position..];
            if ledger::segment::check_block(&header, frame).is_err() {
                return Ok(next);
            }
            seq = header.first_seq;
            let block_end = seq + u64::from(header.record_count);
            if block_end > from {
                let result = ledger::segment::for_each_record(&header, frame, |record| {
                    if seq >= from {
                        on_record(seq, record);
                        next = seq + 1;
                    }
                    seq += 1;
                });
                if result.is_err() {
                    return Ok(next);
                }
            }
            seq = block_end;
            position += header.frame_len() as usize;
        }
        let _ = seq;
    }
    Ok(next)
}

/// Ledger segment files (and stubs of externalized ones) with the first sequence number in
/// their names, in order.
pub(crate) fn segment_files(directory: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Io {
                path: directory.to_owned(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| StoreError::Io {
                path: directory.to_owned(),
                source,
            })?
            .path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if let Some(first) = ledger::segment::parse_external_file_name(name) {
            files.push((first, true, path));
        } else if let Some(first) = ledger::segment::parse_segment_file_name(name) {
            files.push((first, false, path));
        }
    }
    // A segment being externalized beside this reader may have its stub and its file at
    // once: one copy of its records is read, from the stub's index files (written and
    // checked before the stub).
    files.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    files.dedup_by_key(|(first, _, _)| *first);
    Ok(files
        .into_iter()
        .map(|(first, _, path)| (first, path))
        .collect())
}

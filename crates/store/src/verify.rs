//! Verifying a data directory without changing it: the ledger's own verification (every
//! leaf, tile and checkpoint, external checkpoints) and, in parallel, the key index
//! recomputed from the stored records. A tampered key index would make the store drop new
//! events as duplicates, so it is covered like everything else the store reads.

use std::fmt;
use std::path::Path;

use ledger::{FileStorage, Finding, VerifyOptions, VerifyReport};

use crate::limits::KEY_BYTES;
use crate::{StoreError, keys, record_key};

/// Something wrong in a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFinding {
    /// Found by the ledger's verification.
    Ledger(Finding),
    /// The key of record `seq` in `index/keys.bin` is not the key of the stored event.
    KeyMismatch {
        /// The record.
        seq: u64,
    },
    /// `index/keys.bin` holds a different number of keys than there are records.
    KeyCount {
        /// Records read from the segments.
        records: u64,
        /// Keys in the file.
        keys: u64,
    },
    /// A stored record is not a readable event.
    UnreadableRecord {
        /// The record.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// `index/keys.bin` starts at another record than the ledger.
    KeyBase {
        /// First record of the key file.
        keys: u64,
        /// First record stored in the ledger.
        ledger: u64,
    },
    /// The key index could not be read.
    KeysUnreadable {
        /// Why.
        reason: String,
    },
    /// An index segment file does not match the hash its ledger record commits to.
    IndexMismatch {
        /// The file, relative to the data directory.
        file: String,
    },
    /// An index segment file that no index record in the ledger vouches for.
    IndexUnrecorded {
        /// The file, relative to the data directory.
        file: String,
    },
    /// An index record whose files are missing.
    IndexMissing {
        /// The file, relative to the data directory.
        file: String,
    },
}

impl fmt::Display for StoreFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreFinding::Ledger(finding) => write!(f, "ledger/{finding}"),
            StoreFinding::KeyMismatch { seq } => {
                write!(
                    f,
                    "index/keys.bin: key of record {seq} does not match the stored event"
                )
            }
            StoreFinding::KeyCount { records, keys } => {
                write!(f, "index/keys.bin: {keys} keys for {records} records")
            }
            StoreFinding::UnreadableRecord { seq, reason } => {
                write!(f, "record {seq} is not a readable event: {reason}")
            }
            StoreFinding::KeyBase { keys, ledger } => write!(
                f,
                "index/keys.bin: starts at record {keys} but the ledger's first record is {ledger}"
            ),
            StoreFinding::KeysUnreadable { reason } => write!(f, "index/keys.bin: {reason}"),
            StoreFinding::IndexMismatch { file } => {
                write!(
                    f,
                    "{file}: does not match the SHA-256 its ledger record commits to"
                )
            }
            StoreFinding::IndexUnrecorded { file } => {
                write!(
                    f,
                    "{file}: no index record in the ledger vouches for this file"
                )
            }
            StoreFinding::IndexMissing { file } => {
                write!(f, "{file}: committed to in the ledger but missing")
            }
        }
    }
}

/// What [`verify`] checked and found.
#[derive(Debug, Clone, Default)]
pub struct StoreVerifyReport {
    /// The ledger's report.
    pub ledger: VerifyReport,
    /// Keys recomputed and compared.
    pub keys_checked: u64,
    /// Everything wrong, ledger findings first.
    pub findings: Vec<StoreFinding>,
}

impl StoreVerifyReport {
    /// Whether nothing was found.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies the data directory at `root` without writing to it.
pub fn verify(root: &Path, options: &VerifyOptions) -> Result<StoreVerifyReport, StoreError> {
    let ledger_root = root.join("ledger");
    if !ledger_root.is_dir() {
        return Err(StoreError::Io {
            path: ledger_root,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no ledger here: check --data, or import events first",
            ),
        });
    }
    let storage = FileStorage::new(&ledger_root);
    let (ledger_report, key_findings) = std::thread::scope(|scope| {
        let keys = scope.spawn(|| verify_keys(root));
        let columnar = crate::columns::ColumnarRecords::new(root);
        let report = ledger::verify_with(&storage, options, Some(&columnar));
        let keys = keys.join().unwrap_or_else(|_| {
            (
                0,
                vec![StoreFinding::KeysUnreadable {
                    reason: "verification thread failed".to_owned(),
                }],
            )
        });
        (report, keys)
    });
    let ledger_report = ledger_report?;
    let (keys_checked, key_findings) = key_findings;
    let mut findings: Vec<StoreFinding> = ledger_report
        .findings
        .iter()
        .cloned()
        .map(StoreFinding::Ledger)
        .collect();
    findings.extend(key_findings);
    Ok(StoreVerifyReport {
        ledger: ledger_report,
        keys_checked,
        findings,
    })
}

/// Recomputes every key from the records in the segment files and compares. Records below
/// the ledger's prune point have no keys; the key file must start at it.
fn verify_keys(root: &Path) -> (u64, Vec<StoreFinding>) {
    let mut findings = Vec::new();
    let mut index_records = Vec::new();
    let unreadable = |reason: String| (0, vec![StoreFinding::KeysUnreadable { reason }]);
    let bytes = match keys::read_all(&root.join("index").join("keys.bin")) {
        Ok(bytes) => bytes,
        Err(error) => return unreadable(error.to_string()),
    };
    let (header, base) = match keys::parse_header(&bytes) {
        Ok(parsed) => parsed,
        Err(reason) => return unreadable(reason),
    };
    let keys = &bytes[header..];
    // A damaged anchor is the ledger verification's finding; count from 0 then.
    let first = ledger::pruned_before(&FileStorage::new(root.join("ledger"))).unwrap_or(0);
    if base != first {
        findings.push(StoreFinding::KeyBase {
            keys: base,
            ledger: first,
        });
        return (0, findings);
    }
    let key_count = (keys.len() / KEY_BYTES) as u64;
    let mut checked = 0u64;
    // Damaged blocks are the ledger verification's findings; the scan stops at them.
    let scanned = crate::records::scan(root, first, |seq, record| {
        if let Some(index_record) = crate::IndexRecord::parse(record) {
            index_records.push(index_record);
        }
        let expected = match record_key(seq, record) {
            Ok(key) => Some(key),
            Err(error) => {
                findings.push(StoreFinding::UnreadableRecord {
                    seq,
                    reason: error.to_string(),
                });
                None
            }
        };
        let start = (seq - first) as usize * KEY_BYTES;
        let stored = keys.get(start..start + KEY_BYTES);
        if let (Some(expected), Some(stored)) = (expected, stored) {
            checked += 1;
            if stored != expected {
                findings.push(StoreFinding::KeyMismatch { seq });
            }
        }
    });
    let seq = match scanned {
        Ok(next) => next,
        Err(error) => {
            findings.push(StoreFinding::KeysUnreadable {
                reason: error.to_string(),
            });
            return (checked, findings);
        }
    };
    if key_count != seq - first {
        findings.push(StoreFinding::KeyCount {
            records: seq - first,
            keys: key_count,
        });
    }
    check_index(root, &index_records, &mut findings);
    (checked, findings)
}

/// Compares every index segment file with the hash its ledger record commits to.
fn check_index(root: &Path, records: &[crate::IndexRecord], findings: &mut Vec<StoreFinding>) {
    use sha2::{Digest, Sha256};
    let relative = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    // Ranges wholly below the prune point are gone with their records.
    let pruned = ledger::pruned_before(&FileStorage::new(root.join("ledger"))).unwrap_or(0);
    let files: Vec<_> = crate::columns::segment_files(root)
        .unwrap_or_default()
        .into_iter()
        .filter(|files| files.end_seq > pruned)
        .collect();
    let mut vouched = std::collections::BTreeSet::new();
    for record in records.iter().filter(|record| record.end_seq > pruned) {
        let Some(found) = files
            .iter()
            .find(|files| files.first_seq == record.first_seq && files.end_seq == record.end_seq)
        else {
            let parquet = crate::columns::segments_dir(root).join(format!(
                "{:020}-{:020}.parquet",
                record.first_seq, record.end_seq
            ));
            findings.push(StoreFinding::IndexMissing {
                file: relative(&parquet),
            });
            continue;
        };
        vouched.insert(record.first_seq);
        let mut checks = vec![
            (&found.parquet, Some(&record.parquet_sha256)),
            (&found.keys, Some(&record.keys_sha256)),
        ];
        if record.v >= 2 {
            checks.push((&found.extra, record.extra_sha256.as_ref()));
        }
        for (path, expected) in checks {
            match std::fs::read(path) {
                Ok(bytes)
                    if expected.is_some_and(|expected| {
                        crate::columns::hex(&Sha256::digest(&bytes)) == *expected
                    }) => {}
                Ok(_) => findings.push(StoreFinding::IndexMismatch {
                    file: relative(path),
                }),
                Err(_) => findings.push(StoreFinding::IndexMissing {
                    file: relative(path),
                }),
            }
        }
    }
    for files in &files {
        if !vouched.contains(&files.first_seq) {
            findings.push(StoreFinding::IndexUnrecorded {
                file: relative(&files.parquet),
            });
        }
    }
}

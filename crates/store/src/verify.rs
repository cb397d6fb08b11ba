//! Verifying a data directory without changing it: the ledger's own verification (every
//! leaf, recomputed from the records wherever they are kept, which for compacted segments
//! means from their index files; every tile and checkpoint; external checkpoints) and, in
//! parallel, every index segment file against the hash its ledger record commits to and
//! every record still in row form for being a readable event. A tampered index file would
//! make queries lie, so it is covered like everything else the store reads.

use std::fmt;
use std::path::Path;

use ledger::{FileStorage, Finding, VerifyOptions, VerifyReport};

use crate::{StoreError, read_event};

/// Something wrong in a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFinding {
    /// Found by the ledger's verification.
    Ledger(Finding),
    /// A stored record is not a readable event.
    UnreadableRecord {
        /// The record.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The records could not be read to find the index records.
    IndexUnreadable {
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
            StoreFinding::UnreadableRecord { seq, reason } => {
                write!(f, "record {seq} is not a readable event: {reason}")
            }
            StoreFinding::IndexUnreadable { reason } => {
                write!(f, "index records could not be read: {reason}")
            }
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
    /// Index segment files compared with the hash their ledger record commits to.
    pub index_files_checked: u64,
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
    let (ledger_report, index) = std::thread::scope(|scope| {
        let index = scope.spawn(|| verify_index(root));
        let columnar = crate::columns::ColumnarRecords::new(root);
        let report = ledger::verify_with(&storage, options, Some(&columnar));
        let index = index.join().unwrap_or_else(|_| {
            (
                0,
                vec![StoreFinding::IndexUnreadable {
                    reason: "verification thread failed".to_owned(),
                }],
            )
        });
        (report, index)
    });
    let ledger_report = ledger_report?;
    let (index_files_checked, index_findings) = index;
    let mut findings: Vec<StoreFinding> = ledger_report
        .findings
        .iter()
        .cloned()
        .map(StoreFinding::Ledger)
        .collect();
    findings.extend(index_findings);
    Ok(StoreVerifyReport {
        ledger: ledger_report,
        index_files_checked,
        findings,
    })
}

/// Finds the index records (in the row-form segments and beside the events of compacted
/// ones, without decoding those events: the ledger's verification does), checks that every
/// row-form record is readable, and compares the index files with their records.
fn verify_index(root: &Path) -> (u64, Vec<StoreFinding>) {
    let mut findings = Vec::new();
    let mut index_records = Vec::new();
    // A damaged anchor is the ledger verification's finding; count from 0 then.
    let first = ledger::pruned_before(&FileStorage::new(root.join("ledger"))).unwrap_or(0);
    // Damaged blocks are the ledger verification's findings; the scan stops at them.
    let scanned = crate::records::scan_with(root, first, false, |seq, record| {
        if let Some(index_record) = crate::IndexRecord::parse(record) {
            index_records.push(index_record);
        } else if let Err(error) = read_event(seq, record) {
            findings.push(StoreFinding::UnreadableRecord {
                seq,
                reason: error.to_string(),
            });
        }
    });
    if let Err(error) = scanned {
        findings.push(StoreFinding::IndexUnreadable {
            reason: error.to_string(),
        });
        return (0, findings);
    }
    let checked = check_index(root, &index_records, &mut findings);
    (checked, findings)
}

/// Compares every index segment file with the hash its ledger record commits to.
fn check_index(
    root: &Path,
    records: &[crate::IndexRecord],
    findings: &mut Vec<StoreFinding>,
) -> u64 {
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
    let mut checked = 0;
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
        // Version 3 records sit inside their own `.extra` file, which cannot hash itself;
        // every record in it is a leaf that the ledger's verification recomputes.
        if record.v == 2 {
            checks.push((&found.extra, record.extra_sha256.as_ref()));
        }
        for (path, expected) in checks {
            checked += 1;
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
    checked
}

//! Walking a segment file's frames, shared by recovery (open) and verification.

use std::io;

use crate::segment::{
    BLOCK_HEADER_BYTES, FOOTER_BYTES, FormatFault, HEADER_BYTES, check_block, decode_block_header,
    decode_footer, decode_header, is_footer,
};

/// Where one block lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockMeta {
    pub(crate) offset: u64,
    pub(crate) frame_len: u64,
    pub(crate) first_seq: u64,
    pub(crate) record_count: u32,
}

/// The result of walking a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    pub(crate) first_seq: u64,
    pub(crate) blocks: Vec<BlockMeta>,
    pub(crate) record_count: u64,
    /// Offset just past the last good block (or the header).
    pub(crate) valid_len: u64,
    pub(crate) sealed: bool,
    pub(crate) file_len: u64,
    /// The first problem, at a byte offset; everything from there on is unusable.
    pub(crate) fault: Option<(u64, FormatFault)>,
}

/// Why a segment could not be walked at all.
#[derive(Debug)]
pub(crate) enum ScanError {
    Io(io::Error),
    Header(FormatFault),
}

/// Walk a segment. `read_at(offset, len)` returns up to `len` bytes. With
/// `check_checksums`, whole frames are read and their crc32c checked; otherwise only the
/// frame headers are read (sealed segments at open; verify reads everything).
pub(crate) fn scan_segment(
    file_len: u64,
    check_checksums: bool,
    mut read_at: impl FnMut(u64, usize) -> io::Result<Vec<u8>>,
) -> Result<SegmentScan, ScanError> {
    let header_bytes = read_at(0, HEADER_BYTES).map_err(ScanError::Io)?;
    let header = decode_header(&header_bytes).map_err(ScanError::Header)?;
    let mut scan = SegmentScan {
        first_seq: header.first_seq,
        blocks: Vec::new(),
        record_count: 0,
        valid_len: HEADER_BYTES as u64,
        sealed: false,
        file_len,
        fault: None,
    };
    let mut offset = HEADER_BYTES as u64;
    while offset < file_len {
        let peek_len = BLOCK_HEADER_BYTES.max(FOOTER_BYTES);
        let head = read_at(offset, peek_len).map_err(ScanError::Io)?;
        if is_footer(&head) {
            match decode_footer(&head) {
                Ok(footer) => {
                    let consistent = footer.first_seq == scan.first_seq
                        && footer.record_count == scan.record_count
                        && footer.block_count as usize == scan.blocks.len();
                    if !consistent {
                        scan.fault = Some((
                            offset,
                            FormatFault::Field {
                                field: "footer",
                                value: footer.record_count,
                            },
                        ));
                    } else if offset + FOOTER_BYTES as u64 != file_len {
                        scan.fault = Some((
                            offset + FOOTER_BYTES as u64,
                            FormatFault::Field {
                                field: "bytes_after_footer",
                                value: file_len,
                            },
                        ));
                    } else {
                        scan.sealed = true;
                        scan.valid_len = file_len;
                    }
                }
                Err(fault) => scan.fault = Some((offset, fault)),
            }
            return Ok(scan);
        }
        let block = match decode_block_header(&head) {
            Ok(block) => block,
            Err(fault) => {
                scan.fault = Some((offset, fault));
                return Ok(scan);
            }
        };
        let expected_seq = scan.first_seq + scan.record_count;
        if block.first_seq != expected_seq {
            scan.fault = Some((
                offset,
                FormatFault::Field {
                    field: "block_first_seq",
                    value: block.first_seq,
                },
            ));
            return Ok(scan);
        }
        let frame_len = block.frame_len();
        if offset + frame_len > file_len {
            scan.fault = Some((
                offset,
                FormatFault::Truncated {
                    needed: frame_len,
                    available: file_len - offset,
                },
            ));
            return Ok(scan);
        }
        if check_checksums {
            let frame = read_at(offset, frame_len as usize).map_err(ScanError::Io)?;
            if let Err(fault) = check_block(&block, &frame) {
                scan.fault = Some((offset, fault));
                return Ok(scan);
            }
        }
        scan.blocks.push(BlockMeta {
            offset,
            frame_len,
            first_seq: block.first_seq,
            record_count: block.record_count,
        });
        scan.record_count += u64::from(block.record_count);
        offset += frame_len;
        scan.valid_len = offset;
    }
    Ok(scan)
}

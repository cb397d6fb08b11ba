//! The segment file format: a header, checksummed zstd blocks of records, and a footer
//! once sealed. `docs/ledger-format.md` is the normative description; this module is the
//! one implementation of it.
//!
//! ```text
//! header (32 B): magic "ADTRLSEG" | version u32 | header_len u32 | first_seq u64 |
//!                crc32c(bytes 0..24) u32 | reserved u32
//! block  (32 B + payload): magic "BLK1" | compressed_len u32 | uncompressed_len u32 |
//!                record_count u32 | first_seq u64 | codec u8 | reserved [3] |
//!                crc32c(bytes 0..28 ‖ payload) u32 | payload
//! footer (32 B): magic "ADTRLEND" | first_seq u64 | record_count u64 |
//!                block_count u32 | crc32c(bytes 0..28) u32
//! ```
//!
//! All integers are little-endian. The uncompressed payload is a sequence of records,
//! each a `u32` length followed by the record bytes. Invariants: blocks in a segment are
//! in sequence order without gaps; every length read from disk is checked against
//! [`crate::limits`] before anything is allocated; a segment with a footer is sealed and
//! never written again.

use crate::limits::{
    BLOCK_COMPRESSED_BYTES_MAX, BLOCK_RECORDS_MAX, BLOCK_UNCOMPRESSED_BYTES_MAX, RECORD_BYTES_MAX,
    RECORD_FRAME_BYTES,
};

/// Magic at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"ADTRLSEG";
/// Magic of a sealed segment's footer.
pub const FOOTER_MAGIC: [u8; 8] = *b"ADTRLEND";
/// Magic of a block frame.
pub const BLOCK_MAGIC: [u8; 4] = *b"BLK1";
/// Current segment format version.
pub const SEGMENT_VERSION: u32 = 1;
/// Bytes of the segment header.
pub const HEADER_BYTES: usize = 32;
/// Bytes of a block frame header.
pub const BLOCK_HEADER_BYTES: usize = 32;
/// Bytes of the footer.
pub const FOOTER_BYTES: usize = 32;
/// Block codec: zstd.
pub const CODEC_ZSTD: u8 = 1;

/// Directory of the segment files, relative to the ledger root.
pub const SEGMENT_DIR: &str = "segments";

/// File name of the segment whose first record has sequence number `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.seg")
}

/// Parse a segment file name back to its first sequence number.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// File name of the stub that stands for the sealed segment starting at `first_seq` once its
/// records are kept in another form (see [`crate::Ledger::externalize`]).
pub fn external_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.ext")
}

/// Parse an external-segment stub name back to its first sequence number.
pub fn parse_external_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".ext")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Magic of an external-segment stub.
pub const EXTERNAL_MAGIC: [u8; 8] = *b"ADTRLEXT";
/// Current external-segment stub version.
pub const EXTERNAL_VERSION: u32 = 1;
/// Bytes of an external-segment stub.
pub const EXTERNAL_BYTES: usize = 32;

/// Encode an external-segment stub:
/// magic "ADTRLEXT" | version u32 | crc32c(bytes 16..32) u32 | first_seq u64 | record_count u64.
pub fn encode_external(first_seq: u64, record_count: u64) -> [u8; EXTERNAL_BYTES] {
    let mut bytes = [0u8; EXTERNAL_BYTES];
    bytes[0..8].copy_from_slice(&EXTERNAL_MAGIC);
    bytes[8..12].copy_from_slice(&EXTERNAL_VERSION.to_le_bytes());
    bytes[16..24].copy_from_slice(&first_seq.to_le_bytes());
    bytes[24..32].copy_from_slice(&record_count.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[16..32]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Decode and check an external-segment stub: `(first_seq, record_count)`.
pub fn decode_external(bytes: &[u8]) -> Result<(u64, u64), FormatFault> {
    if bytes.len() != EXTERNAL_BYTES {
        return Err(FormatFault::Field {
            field: "stub_len",
            value: bytes.len() as u64,
        });
    }
    let stub = fixed::<EXTERNAL_BYTES>(bytes)?;
    if stub[0..8] != EXTERNAL_MAGIC {
        return Err(FormatFault::BadMagic {
            found: stub[0..8].to_vec(),
        });
    }
    let version = u32_at(&stub, 8);
    if version != EXTERNAL_VERSION {
        return Err(FormatFault::Version { version });
    }
    let stored = u32_at(&stub, 12);
    let computed = crc32c::crc32c(&stub[16..32]);
    if stored != computed {
        return Err(FormatFault::Checksum { stored, computed });
    }
    Ok((u64_at(&stub, 16), u64_at(&stub, 24)))
}

/// What is wrong with a piece of a segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatFault {
    /// Fewer bytes than the structure needs.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// Wrong magic number.
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// Bytes found.
        found: Vec<u8>,
    },
    /// Unsupported version.
    #[error("unsupported segment version {version}")]
    Version {
        /// Version found.
        version: u32,
    },
    /// Checksum mismatch.
    #[error("crc32c mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum {
        /// Checksum in the file.
        stored: u32,
        /// Checksum of the bytes.
        computed: u32,
    },
    /// A length or count is outside its limit or inconsistent.
    #[error("bad field {field}: {value}")]
    Field {
        /// Field name.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// zstd could not decompress the payload.
    #[error("decompression failed: {message}")]
    Decompress {
        /// zstd's message.
        message: String,
    },
}

/// A parsed segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Sequence number of the segment's first record.
    pub first_seq: u64,
}

/// Encode a segment header.
pub fn encode_header(first_seq: u64) -> [u8; HEADER_BYTES] {
    let mut bytes = [0u8; HEADER_BYTES];
    bytes[0..8].copy_from_slice(&SEGMENT_MAGIC);
    bytes[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    bytes[12..16].copy_from_slice(&(HEADER_BYTES as u32).to_le_bytes());
    bytes[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[0..24]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Decode and check a segment header.
pub fn decode_header(bytes: &[u8]) -> Result<SegmentHeader, FormatFault> {
    let header = fixed::<HEADER_BYTES>(bytes)?;
    if header[0..8] != SEGMENT_MAGIC {
        return Err(FormatFault::BadMagic {
            found: header[0..8].to_vec(),
        });
    }
    let stored = u32_at(&header, 24);
    let computed = crc32c::crc32c(&header[0..24]);
    if stored != computed {
        return Err(FormatFault::Checksum { stored, computed });
    }
    let version = u32_at(&header, 8);
    if version != SEGMENT_VERSION {
        return Err(FormatFault::Version { version });
    }
    let header_len = u32_at(&header, 12);
    if header_len as usize != HEADER_BYTES {
        return Err(FormatFault::Field {
            field: "header_len",
            value: header_len.into(),
        });
    }
    // Bytes 28..32 are reserved and written as zeros. The checksum does not cover them, so
    // they must be checked here, or a changed byte there would go unnoticed.
    let reserved = u32_at(&header, 28);
    if reserved != 0 {
        return Err(FormatFault::Field {
            field: "reserved",
            value: reserved.into(),
        });
    }
    Ok(SegmentHeader {
        first_seq: u64_at(&header, 16),
    })
}

/// A parsed block frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Compressed payload bytes.
    pub compressed_len: u32,
    /// Uncompressed payload bytes.
    pub uncompressed_len: u32,
    /// Records in the block.
    pub record_count: u32,
    /// Sequence number of the first record.
    pub first_seq: u64,
    /// Stored checksum.
    pub crc: u32,
}

impl BlockHeader {
    /// Bytes of the whole frame (header and payload).
    pub fn frame_len(&self) -> u64 {
        (BLOCK_HEADER_BYTES + self.compressed_len as usize) as u64
    }
}

/// Encode a block frame around a compressed payload.
pub fn encode_block(
    first_seq: u64,
    record_count: u32,
    uncompressed_len: u32,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let mut header = [0u8; BLOCK_HEADER_BYTES];
    header[0..4].copy_from_slice(&BLOCK_MAGIC);
    header[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[8..12].copy_from_slice(&uncompressed_len.to_le_bytes());
    header[12..16].copy_from_slice(&record_count.to_le_bytes());
    header[16..24].copy_from_slice(&first_seq.to_le_bytes());
    header[24] = CODEC_ZSTD;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[0..28]), payload);
    header[28..32].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

/// Decode a block frame header and check its fields against the limits (the checksum
/// is checked by [`check_block`] once the payload is read).
pub fn decode_block_header(bytes: &[u8]) -> Result<BlockHeader, FormatFault> {
    let header = fixed::<BLOCK_HEADER_BYTES>(bytes)?;
    if header[0..4] != BLOCK_MAGIC {
        return Err(FormatFault::BadMagic {
            found: header[0..4].to_vec(),
        });
    }
    let block = BlockHeader {
        compressed_len: u32_at(&header, 4),
        uncompressed_len: u32_at(&header, 8),
        record_count: u32_at(&header, 12),
        first_seq: u64_at(&header, 16),
        crc: u32_at(&header, 28),
    };
    if header[24] != CODEC_ZSTD {
        return Err(FormatFault::Field {
            field: "codec",
            value: header[24].into(),
        });
    }
    if block.compressed_len as usize > BLOCK_COMPRESSED_BYTES_MAX {
        return Err(FormatFault::Field {
            field: "compressed_len",
            value: block.compressed_len.into(),
        });
    }
    if block.uncompressed_len as usize > BLOCK_UNCOMPRESSED_BYTES_MAX {
        return Err(FormatFault::Field {
            field: "uncompressed_len",
            value: block.uncompressed_len.into(),
        });
    }
    let count = block.record_count as usize;
    if count == 0
        || count > BLOCK_RECORDS_MAX
        || count * RECORD_FRAME_BYTES > block.uncompressed_len as usize
    {
        return Err(FormatFault::Field {
            field: "record_count",
            value: count as u64,
        });
    }
    Ok(block)
}

/// Check a whole frame's checksum (`frame` = header ‖ payload).
pub fn check_block(header: &BlockHeader, frame: &[u8]) -> Result<(), FormatFault> {
    let expected = header.frame_len();
    if (frame.len() as u64) < expected {
        return Err(FormatFault::Truncated {
            needed: expected,
            available: frame.len() as u64,
        });
    }
    let computed = crc32c::crc32c_append(
        crc32c::crc32c(&frame[0..28]),
        &frame[BLOCK_HEADER_BYTES..expected as usize],
    );
    if computed != header.crc {
        return Err(FormatFault::Checksum {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Decompress a checked frame's payload and split it into records.
pub fn decode_records(header: &BlockHeader, frame: &[u8]) -> Result<Vec<Vec<u8>>, FormatFault> {
    let mut records = Vec::with_capacity(header.record_count as usize);
    for_each_record(header, frame, |record| records.push(record.to_vec()))?;
    Ok(records)
}

/// Decompress a checked frame's payload and call `on_record` for each record in order,
/// without copying them. On a framing error, the records before it have been passed.
pub fn for_each_record(
    header: &BlockHeader,
    frame: &[u8],
    mut on_record: impl FnMut(&[u8]),
) -> Result<(), FormatFault> {
    let payload = frame
        .get(BLOCK_HEADER_BYTES..header.frame_len() as usize)
        .ok_or(FormatFault::Truncated {
            needed: header.frame_len(),
            available: frame.len() as u64,
        })?;
    let raw =
        zstd::bulk::decompress(payload, header.uncompressed_len as usize).map_err(|error| {
            FormatFault::Decompress {
                message: error.to_string(),
            }
        })?;
    if raw.len() != header.uncompressed_len as usize {
        return Err(FormatFault::Field {
            field: "uncompressed_len",
            value: raw.len() as u64,
        });
    }
    let mut count = 0u32;
    let mut position = 0usize;
    while position < raw.len() {
        let Some(length_bytes) = raw.get(position..position + RECORD_FRAME_BYTES) else {
            return Err(FormatFault::Field {
                field: "record_frame",
                value: position as u64,
            });
        };
        let length = u32_at(length_bytes, 0) as usize;
        position += RECORD_FRAME_BYTES;
        if length > RECORD_BYTES_MAX || position + length > raw.len() {
            return Err(FormatFault::Field {
                field: "record_len",
                value: length as u64,
            });
        }
        count += 1;
        if count > header.record_count {
            return Err(FormatFault::Field {
                field: "record_count",
                value: u64::from(count),
            });
        }
        on_record(&raw[position..position + length]);
        position += length;
    }
    if count != header.record_count {
        return Err(FormatFault::Field {
            field: "record_count",
            value: u64::from(count),
        });
    }
    Ok(())
}

/// A parsed footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// First sequence number of the segment.
    pub first_seq: u64,
    /// Records in the segment.
    pub record_count: u64,
    /// Blocks in the segment.
    pub block_count: u32,
}

/// Encode a footer.
pub fn encode_footer(footer: &Footer) -> [u8; FOOTER_BYTES] {
    let mut bytes = [0u8; FOOTER_BYTES];
    bytes[0..8].copy_from_slice(&FOOTER_MAGIC);
    bytes[8..16].copy_from_slice(&footer.first_seq.to_le_bytes());
    bytes[16..24].copy_from_slice(&footer.record_count.to_le_bytes());
    bytes[24..28].copy_from_slice(&footer.block_count.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[0..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Decode and check a footer.
pub fn decode_footer(bytes: &[u8]) -> Result<Footer, FormatFault> {
    let footer = fixed::<FOOTER_BYTES>(bytes)?;
    if footer[0..8] != FOOTER_MAGIC {
        return Err(FormatFault::BadMagic {
            found: footer[0..8].to_vec(),
        });
    }
    let stored = u32_at(&footer, 28);
    let computed = crc32c::crc32c(&footer[0..28]);
    if stored != computed {
        return Err(FormatFault::Checksum { stored, computed });
    }
    Ok(Footer {
        first_seq: u64_at(&footer, 8),
        record_count: u64_at(&footer, 16),
        block_count: u32_at(&footer, 24),
    })
}

/// Whether the bytes at a frame position start a footer rather than a block.
pub fn is_footer(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0..8] == FOOTER_MAGIC
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], FormatFault> {
    bytes
        .get(..N)
        .and_then(|slice| slice.try_into().ok())
        .ok_or(FormatFault::Truncated {
            needed: N as u64,
            available: bytes.len() as u64,
        })
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(word)
}

/// Builds the blocks of one batch: records are framed into ~[`BLOCK_BYTES_TARGET`]
/// payloads and compressed with zstd.
///
/// [`BLOCK_BYTES_TARGET`]: crate::limits::BLOCK_BYTES_TARGET
pub(crate) struct BlockEncoder {
    compressor: zstd::bulk::Compressor<'static>,
    raw: Vec<u8>,
    /// The compressed payload of the block being written, reused from block to block (a
    /// fresh ~1 MiB buffer per block costs page faults on every block).
    compressed: Vec<u8>,
    raw_records: u32,
    raw_first_seq: u64,
}

impl std::fmt::Debug for BlockEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockEncoder")
            .field("buffered", &self.raw.len())
            .finish_non_exhaustive()
    }
}

/// A block written by the encoder, with where it lives in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EncodedBlock {
    pub(crate) offset_in_output: usize,
    pub(crate) frame_len: u64,
    pub(crate) first_seq: u64,
    pub(crate) record_count: u32,
}

impl BlockEncoder {
    pub(crate) fn new(level: i32) -> std::io::Result<BlockEncoder> {
        Ok(BlockEncoder {
            compressor: zstd::bulk::Compressor::new(level)?,
            raw: Vec::new(),
            compressed: Vec::new(),
            raw_records: 0,
            raw_first_seq: 0,
        })
    }

    /// Add a record with sequence number `seq`, flushing a full block into `out` first.
    pub(crate) fn push(
        &mut self,
        seq: u64,
        record: &[u8],
        out: &mut Vec<u8>,
        blocks: &mut Vec<EncodedBlock>,
    ) -> std::io::Result<()> {
        let framed = RECORD_FRAME_BYTES + record.len();
        if self.raw_records > 0 && self.raw.len() + framed > crate::limits::BLOCK_BYTES_TARGET {
            self.flush(out, blocks)?;
        }
        if self.raw_records == 0 {
            self.raw_first_seq = seq;
        }
        self.raw
            .extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.raw.extend_from_slice(record);
        self.raw_records += 1;
        Ok(())
    }

    /// Compress the buffered records into a block frame appended to `out`.
    pub(crate) fn flush(
        &mut self,
        out: &mut Vec<u8>,
        blocks: &mut Vec<EncodedBlock>,
    ) -> std::io::Result<()> {
        if self.raw_records == 0 {
            return Ok(());
        }
        self.compressed.clear();
        self.compressed
            .reserve(zstd::compress_bound(self.raw.len()));
        self.compressor
            .compress_to_buffer(&self.raw, &mut self.compressed)?;
        let offset_in_output = out.len();
        encode_block(
            self.raw_first_seq,
            self.raw_records,
            self.raw.len() as u32,
            &self.compressed,
            out,
        );
        blocks.push(EncodedBlock {
            offset_in_output,
            frame_len: (out.len() - offset_in_output) as u64,
            first_seq: self.raw_first_seq,
            record_count: self.raw_records,
        });
        self.raw.clear();
        self.raw_records = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_footer_round_trip() {
        let header = encode_header(77);
        assert_eq!(
            decode_header(&header).unwrap(),
            SegmentHeader { first_seq: 77 }
        );
        let mut corrupted = header;
        corrupted[17] ^= 1;
        assert!(matches!(
            decode_header(&corrupted),
            Err(FormatFault::Checksum { .. })
        ));

        let mut encoder = BlockEncoder::new(1).unwrap();
        let (mut out, mut blocks) = (Vec::new(), Vec::new());
        for seq in 77..80u64 {
            encoder
                .push(
                    seq,
                    format!("record {seq}").as_bytes(),
                    &mut out,
                    &mut blocks,
                )
                .unwrap();
        }
        encoder.flush(&mut out, &mut blocks).unwrap();
        assert_eq!(blocks.len(), 1);
        let block = decode_block_header(&out).unwrap();
        check_block(&block, &out).unwrap();
        let records = decode_records(&block, &out).unwrap();
        assert_eq!(
            records,
            vec![
                b"record 77".to_vec(),
                b"record 78".to_vec(),
                b"record 79".to_vec()
            ]
        );
        let mut flipped = out.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(check_block(&block, &flipped).is_err());

        let footer = Footer {
            first_seq: 77,
            record_count: 3,
            block_count: 1,
        };
        assert_eq!(decode_footer(&encode_footer(&footer)).unwrap(), footer);
        assert_eq!(segment_file_name(77), "00000000000000000077.seg");
        assert_eq!(
            parse_segment_file_name("00000000000000000077.seg"),
            Some(77)
        );
    }

    #[test]
    fn blocks_compressed_one_after_another_decode_alike() {
        // Records of varying sizes over several blocks, the last a short one, so that the
        // reused compression buffer holds a longer earlier payload when a shorter one is
        // written.
        let records: Vec<Vec<u8>> = (0..3000u32)
            .map(|index| {
                let size = 200 + (index as usize * 7919) % 1800;
                (0..size)
                    .map(|byte| b"abcdefghij{}\":,x"[(byte + index as usize) % 16])
                    .collect()
            })
            .collect();
        let mut encoder = BlockEncoder::new(1).unwrap();
        let (mut out, mut blocks) = (Vec::new(), Vec::new());
        for (seq, record) in records.iter().enumerate() {
            encoder
                .push(seq as u64, record, &mut out, &mut blocks)
                .unwrap();
        }
        encoder.flush(&mut out, &mut blocks).unwrap();
        assert!(blocks.len() >= 3, "{} blocks", blocks.len());
        let mut decoded = Vec::new();
        for block in &blocks {
            let frame = &out[block.offset_in_output..][..block.frame_len as usize];
            let header = decode_block_header(frame).unwrap();
            check_block(&header, frame).unwrap();
            assert_eq!(header.first_seq, decoded.len() as u64);
            decoded.extend(decode_records(&header, frame).unwrap());
        }
        assert_eq!(decoded, records);
    }
}

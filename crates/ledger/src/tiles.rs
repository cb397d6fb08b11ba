//! The Merkle tree kept as C2SP tlog-tiles, and the in-memory right edge of the tree.
//!
//! Tile `(L, N)` holds the 256 hashes `MTH(D[(N·256 + i)·256^L .. (N·256 + i + 1)·256^L])`
//! for `i` in `0..256`, stored as 8,192 bytes at `tile/<L>/<N>` with `N` written in
//! `x`-prefixed 3-digit groups (`1234067` → `x001/x234/067`). Partial tiles (width
//! `W < 256`) are written at `tile/<L>/<N>.p/<W>` for every checkpointed size and are
//! never hashed into the level above.
//!
//! Invariants:
//! - [`TreeEdge`] holds, for every level, the hashes of the current partial tile; every
//!   hash left of them lives in a full tile on disk. So any complete subtree of the
//!   current tree can be produced from at most `2^7` hashes of one tile, and proofs cost
//!   O(log n) tile reads.
//! - Level-0 tiles hold leaf hashes, which are recomputable from the records. They are
//!   kept so proofs stay cheap, but nothing else depends on them: verify recomputes them
//!   from records and compares, so a later compaction may drop `tile/0/*` of sealed
//!   segments and recompute a level-0 tile from its 256 records when a proof needs it.

use std::collections::HashMap;

use crate::error::Error;
use crate::limits::{TILE_CACHE_ENTRIES_MAX, TILE_HEIGHT, TILE_WIDTH};
use crate::merkle::{EMPTY_ROOT, Hash, SubtreeSource, node_hash, perfect_root};
use crate::storage::Storage;

/// Bytes of a full tile.
pub const TILE_BYTES: usize = TILE_WIDTH * 32;

/// Directory of the tiles, relative to the ledger root.
pub const TILE_DIR: &str = "tile";

/// The storage path of tile `(level, index)`, full (`width == 256`) or partial.
pub fn tile_path(level: u32, index: u64, width: usize) -> String {
    let mut path = format!("{TILE_DIR}/{level}/{}", encode_tile_index(index));
    if width < TILE_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

/// Encode a tile index as zero-padded 3-digit path elements, `x` before all but the last.
pub fn encode_tile_index(index: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = index;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(position, group)| {
            if position == last {
                format!("{group:03}")
            } else {
                format!("x{group:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Parse a tile path relative to `tile/<level>/` back to (index, width).
pub fn decode_tile_index(relative: &str) -> Option<(u64, usize)> {
    let (digits, width) = match relative.split_once(".p/") {
        Some((digits, width_text)) => {
            let width: usize = width_text.parse().ok()?;
            if width == 0 || width >= TILE_WIDTH || width.to_string() != width_text {
                return None;
            }
            (digits, width)
        }
        None => (relative, TILE_WIDTH),
    };
    let parts: Vec<&str> = digits.split('/').collect();
    let mut index: u64 = 0;
    for (position, part) in parts.iter().enumerate() {
        let group = if position + 1 == parts.len() {
            *part
        } else {
            part.strip_prefix('x')?
        };
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index
            .checked_mul(1000)?
            .checked_add(group.parse::<u64>().ok()?)?;
    }
    Some((index, width))
}

/// Serialize hashes as tile bytes.
pub fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flatten().copied().collect()
}

/// Parse tile bytes (a multiple of 32 bytes) into hashes.
pub fn parse_tile(bytes: &[u8]) -> Option<Vec<Hash>> {
    if !bytes.len().is_multiple_of(32) || bytes.len() > TILE_BYTES {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .filter_map(|chunk| chunk.try_into().ok())
            .collect(),
    )
}

/// A full tile produced while appending leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullTile {
    /// Tile level.
    pub level: u32,
    /// Tile index within the level.
    pub index: u64,
    /// Its 256 hashes.
    pub hashes: Vec<Hash>,
}

/// The right edge of the tree: the partial tile of every level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeEdge {
    size: u64,
    /// `partial[L]` = hashes of the current (incomplete) tile at level `L`.
    partial: Vec<Vec<Hash>>,
}

impl TreeEdge {
    /// The empty tree.
    pub fn new() -> TreeEdge {
        TreeEdge::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The partial tile hashes of `level` (empty when none).
    pub fn partial(&self, level: u32) -> &[Hash] {
        self.partial.get(level as usize).map_or(&[], Vec::as_slice)
    }

    /// Number of levels that currently hold a partial tile or had one.
    pub fn levels(&self) -> u32 {
        self.partial.len() as u32
    }

    /// Append one leaf hash; full tiles that complete are handed to `on_full_tile`.
    pub fn push(&mut self, leaf: Hash, on_full_tile: &mut impl FnMut(FullTile)) {
        self.size += 1;
        let mut level = 0usize;
        let mut hash = leaf;
        loop {
            if self.partial.len() <= level {
                self.partial.push(Vec::with_capacity(TILE_WIDTH));
            }
            self.partial[level].push(hash);
            if self.partial[level].len() < TILE_WIDTH {
                break;
            }
            let hashes = std::mem::take(&mut self.partial[level]);
            hash = perfect_root(&hashes);
            let shift = TILE_HEIGHT * (level as u32 + 1);
            let index = (self.size >> shift) - 1;
            on_full_tile(FullTile {
                level: level as u32,
                index,
                hashes,
            });
            level += 1;
        }
    }

    /// The root hash of the current tree.
    pub fn root(&self) -> Hash {
        // Complete subtrees from left (largest) to right, then fold from the right.
        let mut parts: Vec<Hash> = Vec::new();
        for hashes in self.partial.iter().rev() {
            let mut start = 0usize;
            let mut remaining = hashes.len();
            while remaining > 0 {
                let width = 1usize << (usize::BITS - 1 - remaining.leading_zeros());
                parts.push(perfect_root(&hashes[start..start + width]));
                start += width;
                remaining -= width;
            }
        }
        let Some(mut acc) = parts.pop() else {
            return EMPTY_ROOT;
        };
        while let Some(left) = parts.pop() {
            acc = node_hash(&left, &acc);
        }
        acc
    }

    /// An edge from its parts (as read from a prune anchor).
    pub(crate) fn from_parts(size: u64, partial: Vec<Vec<Hash>>) -> TreeEdge {
        TreeEdge { size, partial }
    }

    /// Rebuild the edge for tree size `size` from the full tiles on disk and the leaf
    /// hashes of the last, incomplete level-0 tile (`size % 256` hashes).
    ///
    /// `anchor` is the edge at the prune point (the empty edge when nothing was pruned);
    /// `size` must be at least its size. Hashes of the anchor's own partial tiles are
    /// taken from it, because the full tiles below them may have been pruned. A full level-0
    /// tile that is not on disk is recomputed by `leaves` (most are not kept).
    pub fn restore(
        storage: &dyn Storage,
        root: &str,
        size: u64,
        level0_tail: Vec<Hash>,
        anchor: &TreeEdge,
        leaves: &LeafSource<'_>,
    ) -> Result<TreeEdge, Error> {
        debug_assert_eq!(level0_tail.len() as u64, size % TILE_WIDTH as u64);
        if size < anchor.size() {
            return Err(Error::TreeRange {
                start: size,
                size: anchor.size(),
            });
        }
        let mut partial = vec![level0_tail];
        let mut level = 1u32;
        while TILE_HEIGHT * level < 64 && size >> (TILE_HEIGHT * level) > 0 {
            // Hashes at this level = roots of the full tiles one level down.
            let count = (size >> (TILE_HEIGHT * level)) % TILE_WIDTH as u64;
            let first = (size >> (TILE_HEIGHT * (level + 1))) * TILE_WIDTH as u64;
            let anchored = anchor.partial(level);
            let anchor_first = (anchor.size() >> (TILE_HEIGHT * (level + 1))) * TILE_WIDTH as u64;
            let mut hashes = Vec::with_capacity(count as usize);
            for below_index in first..first + count {
                let from_anchor = below_index
                    .checked_sub(anchor_first)
                    .and_then(|offset| anchored.get(offset as usize));
                match from_anchor {
                    Some(hash) => hashes.push(*hash),
                    None => {
                        let path = crate::storage::join(
                            root,
                            &tile_path(level - 1, below_index, TILE_WIDTH),
                        );
                        let missing = level == 1
                            && storage
                                .len(&path)
                                .map_err(|e| Error::io(&path, e))?
                                .is_none();
                        // Full level-0 tiles are mostly not kept: recomputed from the records.
                        let tile = if missing {
                            leaves(below_index)?
                        } else {
                            read_full_tile(storage, root, level - 1, below_index)?
                        };
                        if tile.len() != TILE_WIDTH {
                            return Err(Error::Corrupt {
                                path,
                                offset: 0,
                                reason: format!("{} leaves recomputed for a full tile", tile.len()),
                            });
                        }
                        hashes.push(perfect_root(&tile));
                    }
                }
            }
            partial.push(hashes);
            level += 1;
        }
        // Trailing empty levels carry no information; trim them for a canonical shape.
        while partial.len() > 1 && partial.last().is_some_and(Vec::is_empty) {
            partial.pop();
        }
        if size == 0 {
            partial.clear();
        }
        Ok(TreeEdge { size, partial })
    }
}

/// Read and parse a full tile.
pub fn read_full_tile(
    storage: &dyn Storage,
    root: &str,
    level: u32,
    index: u64,
) -> Result<Vec<Hash>, Error> {
    let path = crate::storage::join(root, &tile_path(level, index, TILE_WIDTH));
    let bytes = storage
        .read(&path)
        .map_err(|source| Error::io(&path, source))?;
    match parse_tile(&bytes) {
        Some(hashes) if hashes.len() == TILE_WIDTH => Ok(hashes),
        _ => Err(Error::Corrupt {
            path,
            offset: 0,
            reason: format!("tile has {} bytes, expected {TILE_BYTES}", bytes.len()),
        }),
    }
}

/// Complete-subtree hashes from the full tiles on disk plus the in-memory edge.
pub struct TileReader<'a> {
    storage: &'a dyn Storage,
    root: &'a str,
    edge: &'a TreeEdge,
    cache: HashMap<(u32, u64), Vec<Hash>>,
    leaves: Option<&'a LeafSource<'a>>,
}

/// Recomputes the leaf hashes of a full level-0 tile from the records, for tiles that are
/// not kept on disk (see [`crate::Ledger::externalize`]).
pub type LeafSource<'a> = dyn Fn(u64) -> Result<Vec<Hash>, Error> + 'a;

impl std::fmt::Debug for TileReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileReader")
            .field("root", &self.root)
            .field("edge", &self.edge)
            .field("cached_tiles", &self.cache.len())
            .field("recomputes_leaves", &self.leaves.is_some())
            .finish()
    }
}

impl<'a> TileReader<'a> {
    /// A reader over the tree whose right edge is `edge`.
    pub fn new(storage: &'a dyn Storage, root: &'a str, edge: &'a TreeEdge) -> TileReader<'a> {
        TileReader {
            storage,
            root,
            edge,
            cache: HashMap::new(),
            leaves: None,
        }
    }

    /// Recompute missing full level-0 tiles with `leaves` instead of failing.
    pub fn with_leaves(mut self, leaves: &'a LeafSource<'a>) -> TileReader<'a> {
        self.leaves = Some(leaves);
        self
    }

    /// Hashes `first .. first + count` of level `level` (all within one tile).
    fn level_hashes(&mut self, level: u32, first: u64, count: usize) -> Result<Vec<Hash>, Error> {
        let tile_index = first / TILE_WIDTH as u64;
        let offset = (first % TILE_WIDTH as u64) as usize;
        let tile_end = (tile_index + 1) << (TILE_HEIGHT * (level + 1));
        if tile_end <= self.edge.size() {
            if !self.cache.contains_key(&(level, tile_index)) {
                if self.cache.len() >= TILE_CACHE_ENTRIES_MAX {
                    self.cache.clear();
                }
                let path =
                    crate::storage::join(self.root, &tile_path(level, tile_index, TILE_WIDTH));
                let tile = match self.leaves {
                    Some(leaves)
                        if level == 0
                            && self
                                .storage
                                .len(&path)
                                .map_err(|e| Error::io(&path, e))?
                                .is_none() =>
                    {
                        leaves(tile_index)?
                    }
                    _ => read_full_tile(self.storage, self.root, level, tile_index)?,
                };
                if tile.len() != TILE_WIDTH {
                    return Err(Error::Corrupt {
                        path,
                        offset: 0,
                        reason: format!("{} leaves recomputed for a full tile", tile.len()),
                    });
                }
                self.cache.insert((level, tile_index), tile);
            }
            let tile = self
                .cache
                .get(&(level, tile_index))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            return tile
                .get(offset..offset + count)
                .map(<[Hash]>::to_vec)
                .ok_or_else(|| Error::Corrupt {
                    path: tile_path(level, tile_index, TILE_WIDTH),
                    offset: 0,
                    reason: "tile shorter than expected".to_owned(),
                });
        }
        let partial = self.edge.partial(level);
        partial
            .get(offset..offset + count)
            .map(<[Hash]>::to_vec)
            .ok_or(Error::TreeRange {
                start: first << (TILE_HEIGHT * level),
                size: self.edge.size(),
            })
    }
}

impl SubtreeSource for TileReader<'_> {
    type Error = Error;

    fn subtree(&mut self, start: u64, height: u32) -> Result<Hash, Error> {
        if start + (1u64 << height) > self.edge.size() {
            return Err(Error::TreeRange {
                start,
                size: self.edge.size(),
            });
        }
        let level = height / TILE_HEIGHT;
        let within = height % TILE_HEIGHT;
        let first = start >> (TILE_HEIGHT * level);
        let hashes = self.level_hashes(level, first, 1usize << within)?;
        Ok(perfect_root(&hashes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root_of_leaves};

    #[test]
    fn tile_index_encoding_matches_the_spec_example() {
        assert_eq!(encode_tile_index(1234067), "x001/x234/067");
        assert_eq!(encode_tile_index(0), "000");
        assert_eq!(encode_tile_index(1000), "x001/000");
        assert_eq!(tile_path(1, 5, 17), "tile/1/005.p/17");
        assert_eq!(decode_tile_index("x001/x234/067"), Some((1234067, 256)));
        assert_eq!(decode_tile_index("005.p/17"), Some((5, 17)));
        assert_eq!(decode_tile_index("5"), None);
        assert_eq!(decode_tile_index("005.p/017"), None);
    }

    #[test]
    fn edge_root_matches_recursive_root_across_tile_boundaries() {
        let leaves: Vec<Hash> = (0u32..70_000)
            .map(|i| leaf_hash(&i.to_le_bytes()))
            .collect();
        let mut edge = TreeEdge::new();
        let mut tiles = 0;
        for (index, leaf) in leaves.iter().enumerate() {
            edge.push(*leaf, &mut |_| tiles += 1);
            let size = index + 1;
            if [1, 2, 3, 255, 256, 257, 65_535, 65_536, 65_537, 70_000].contains(&size) {
                assert_eq!(edge.root(), root_of_leaves(&leaves[..size]), "size {size}");
            }
        }
        // 273 full level-0 tiles and one full level-1 tile (tlog-tiles' example).
        assert_eq!(tiles, 274);
        assert_eq!(edge.partial(0).len(), 112);
        assert_eq!(edge.partial(1).len(), 17);
        assert_eq!(edge.partial(2).len(), 1);
    }
}

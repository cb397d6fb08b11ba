//! RFC 6962 Merkle tree hashing, proofs and their verification (RFC 9162 §2.1).
//!
//! Invariants: leaf hash = SHA-256(0x00 ‖ record), interior node = SHA-256(0x01 ‖ left ‖
//! right), the empty tree hashes to SHA-256(""). A tree of `n > 1` leaves splits at the
//! largest power of two strictly below `n`. Proof *generation* is generic over
//! [`SubtreeSource`], which hands out the hash of any complete, aligned subtree
//! (`2^k` leaves starting at a multiple of `2^k`); the tile store, an in-memory vector and
//! a recomputation from records all implement it. Verification needs no storage.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node or a tree root.
pub type Hash = [u8; 32];

/// The root of the empty tree, SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// RFC 6962 leaf hash of one record: SHA-256(0x00 ‖ record).
pub fn leaf_hash(record: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(record);
    hasher.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 65];
    input[0] = 0x01;
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    Sha256::digest(input).into()
}

/// Merkle tree hash of a list of leaf hashes (any length; the empty list gives
/// [`EMPTY_ROOT`]).
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let split = largest_power_of_two_below(n as u64) as usize;
            node_hash(
                &root_of_leaves(&leaves[..split]),
                &root_of_leaves(&leaves[split..]),
            )
        }
    }
}

/// Largest power of two strictly less than `n` (`n >= 2`).
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// A source of complete-subtree hashes, from which proofs are built.
pub trait SubtreeSource {
    /// Error raised when a hash cannot be produced (I/O, corruption).
    type Error;
    /// The hash of the complete subtree holding leaves `start .. start + 2^height`;
    /// `start` is a multiple of `2^height`.
    fn subtree(&mut self, start: u64, height: u32) -> Result<Hash, Self::Error>;
}

/// Merkle tree hash of leaves `lo..hi` where `lo` is aligned the way RFC 6962's recursion
/// aligns it: the range is split into complete subtrees, largest first, then folded from
/// the right.
pub fn range_hash<S: SubtreeSource>(source: &mut S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    if hi <= lo {
        return Ok(EMPTY_ROOT);
    }
    let mut parts = Vec::with_capacity(64);
    let mut start = lo;
    let mut remaining = hi - lo;
    while remaining > 0 {
        let height = 63 - remaining.leading_zeros();
        parts.push(source.subtree(start, height)?);
        start += 1 << height;
        remaining -= 1 << height;
    }
    let mut acc = parts.pop().unwrap_or(EMPTY_ROOT);
    while let Some(left) = parts.pop() {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// Root of the tree of the first `size` leaves.
pub fn root<S: SubtreeSource>(source: &mut S, size: u64) -> Result<Hash, S::Error> {
    range_hash(source, 0, size)
}

/// RFC 6962 audit path for leaf `index` in the tree of the first `size` leaves, from the
/// leaf's sibling up to the root's child. `index < size` is the caller's precondition.
pub fn inclusion_proof<S: SubtreeSource>(
    source: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    // Walk down from the root, recording the sibling at each split; reverse at the end.
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if index < lo + k {
            proof.push(range_hash(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(source, lo, lo + k)?);
            lo += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// RFC 6962 consistency proof between the trees of sizes `old` and `new`
/// (`old <= new`). Empty when `old == 0` or `old == new`.
pub fn consistency_proof<S: SubtreeSource>(
    source: &mut S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    if old == 0 || old >= new {
        return Ok(proof);
    }
    // SUBPROOF(m, D[lo:hi], b), iteratively: descend, pushing the sibling ranges, and
    // finish with the subtree that equals the old tree's rightmost part (omitted when it
    // is the whole old tree, b == true).
    let (mut lo, mut hi, mut m, mut whole_old_tree) = (0u64, new, old, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole_old_tree {
                proof.push(range_hash(source, lo, hi)?);
            }
            break;
        }
        let k = largest_power_of_two_below(n);
        if m <= k {
            proof.push(range_hash(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(source, lo, lo + k)?);
            lo += k;
            m -= k;
            whole_old_tree = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The old size is larger than the new one.
    #[error("old tree size {old} exceeds new tree size {new}")]
    SizesReversed {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
    },
    /// The proof has the wrong number of hashes for the sizes.
    #[error("proof has the wrong number of hashes ({len})")]
    WrongLength {
        /// Hashes in the proof.
        len: usize,
    },
    /// The recomputed root differs from the expected one.
    #[error("recomputed root {actual} differs from expected {expected}", actual = hex(actual), expected = hex(expected))]
    RootMismatch {
        /// Root that the proof should lead to.
        expected: Hash,
        /// Root that the proof leads to.
        actual: Hash,
    },
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut acc = *leaf;
    for sibling in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength { len: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            acc = node_hash(sibling, &acc);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            acc = node_hash(&acc, sibling);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength { len: proof.len() });
    }
    if &acc != root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            actual: acc,
        });
    }
    Ok(())
}

/// Verify a consistency proof between an old and a new tree (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesReversed { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { len: proof.len() });
        }
        if old_root != new_root {
            return Err(ProofError::RootMismatch {
                expected: *old_root,
                actual: *new_root,
            });
        }
        return Ok(());
    }
    if old == 0 {
        // Every tree extends the empty tree; the proof is empty.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength { len: proof.len() })
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength { len: 0 });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength { len: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength { len: proof.len() });
    }
    if &fr != old_root {
        return Err(ProofError::RootMismatch {
            expected: *old_root,
            actual: fr,
        });
    }
    if &sr != new_root {
        return Err(ProofError::RootMismatch {
            expected: *new_root,
            actual: sr,
        });
    }
    Ok(())
}

/// Lowercase hex of a hash, for messages and JSON.
pub fn hex(hash: &Hash) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64);
    for byte in hash {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// A [`SubtreeSource`] over leaf hashes held in memory (tests, small trees, and the
/// level-0 part of a tile).
#[derive(Debug, Clone, Copy)]
pub struct LeafSlice<'a>(pub &'a [Hash]);

impl SubtreeSource for LeafSlice<'_> {
    type Error = std::convert::Infallible;
    fn subtree(&mut self, start: u64, height: u32) -> Result<Hash, Self::Error> {
        let (start, len) = (start as usize, 1usize << height);
        Ok(perfect_root(&self.0[start..start + len]))
    }
}

/// Root of a perfect subtree (`hashes.len()` a power of two, at least 1).
pub(crate) fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    if hashes.len() == 1 {
        return hashes[0];
    }
    let mut level: Vec<Hash> = hashes
        .chunks(2)
        .map(|pair| node_hash(&pair[0], &pair[1]))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
    fn h(s: &str) -> Hash {
        unhex(s).try_into().unwrap()
    }

    // The RFC 6962 reference inputs and tree heads used by Certificate Transparency's and
    // transparency-dev/merkle's test suites.
    const INPUTS: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaves() -> Vec<Hash> {
        INPUTS.iter().map(|s| leaf_hash(&unhex(s))).collect()
    }

    #[test]
    fn rfc6962_reference_roots() {
        assert_eq!(EMPTY_ROOT, h(ROOTS[0]));
        let leaves = leaves();
        for size in 0..=8 {
            assert_eq!(
                root_of_leaves(&leaves[..size]),
                h(ROOTS[size]),
                "size {size}"
            );
            let got = root(&mut LeafSlice(&leaves), size as u64).unwrap();
            assert_eq!(got, h(ROOTS[size]), "size {size} via subtrees");
        }
    }

    #[test]
    fn rfc6962_reference_inclusion_proofs() {
        let leaves = leaves();
        // (leaf index, tree size, audit path) from the CT reference test data.
        let cases: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, path) in cases {
            let want: Vec<Hash> = path.iter().map(|s| h(s)).collect();
            let got = inclusion_proof(&mut LeafSlice(&leaves), index, size).unwrap();
            assert_eq!(got, want, "index {index} size {size}");
            let root = h(ROOTS[size as usize]);
            verify_inclusion(index, size, &leaves[index as usize], &got, &root).unwrap();
            assert!(
                verify_inclusion(index, size, &leaves[index as usize], &got, &EMPTY_ROOT).is_err()
            );
        }
    }

    #[test]
    fn rfc6962_reference_consistency_proofs() {
        let leaves = leaves();
        let cases: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, path) in cases {
            let want: Vec<Hash> = path.iter().map(|s| h(s)).collect();
            let got = consistency_proof(&mut LeafSlice(&leaves), old, new).unwrap();
            assert_eq!(got, want, "{old} -> {new}");
            let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
            verify_consistency(old, new, &old_root, &new_root, &got).unwrap();
        }
    }
}

//! Identifiers, hashes and encodings derived from the generator's random stream or from
//! stable names.
//!
//! Object uids are a hash of the seed and the object's identity, so one object keeps its uid
//! across every event that touches it: the history of one object can be followed by uid.

use rand::RngExt;

use crate::SynthRng;

/// The alphabet Kubernetes uses for generated name suffixes (`SafeEncodeString`): no vowels,
/// so that random names never spell words.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a over the parts, separated so that `("ab", "c")` and `("a", "bc")` differ.
pub(crate) fn hash(seed: u64, parts: &[&str]) -> u64 {
    let mut state = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            state ^= u64::from(byte);
            state = state.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // A final avalanche (splitmix64) so that similar names give unrelated bits.
    state ^= state >> 30;
    state = state.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    state ^= state >> 27;
    state = state.wrapping_mul(0x94d0_49bb_1331_11eb);
    state ^ (state >> 31)
}

/// A version-4-shaped UUID from 128 bits.
pub(crate) fn uuid(high: u64, low: u64) -> String {
    let high = (high & !0xf000) | 0x4000;
    let low = (low & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// A fresh UUID from the random stream (audit IDs).
pub(crate) fn random_uuid(rng: &mut SynthRng) -> String {
    uuid(rng.random(), rng.random())
}

/// The stable UUID of a named thing.
pub(crate) fn stable_uuid(seed: u64, parts: &[&str]) -> String {
    uuid(hash(seed, parts), hash(seed ^ 0x5851_f42d_4c95_7f2d, parts))
}

/// `length` characters of the Kubernetes name-suffix alphabet, derived from `bits`.
pub(crate) fn name_suffix(mut bits: u64, length: usize) -> String {
    let base = NAME_ALPHABET.len() as u64;
    (0..length)
        .map(|_| {
            let index = (bits % base) as usize;
            bits /= base;
            char::from(NAME_ALPHABET[index])
        })
        .collect()
}

/// `length` lower-case hex digits from the random stream.
pub(crate) fn random_hex(rng: &mut SynthRng, length: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..length)
        .map(|_| char::from(HEX[rng.random_range(0..16_usize)]))
        .collect()
}

/// `length` bytes of printable text from the random stream (passwords, key material).
pub(crate) fn random_text(rng: &mut SynthRng, length: usize) -> Vec<u8> {
    const PRINTABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..length)
        .map(|_| PRINTABLE[rng.random_range(0..PRINTABLE.len())])
        .collect()
}

/// Standard base64 with padding, as Secret `data` values are written.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0_u32, |word, (index, byte)| {
            word | u32::from(*byte) << (16 - 8 * index)
        });
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (word >> (18 - 6 * position)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn uuids_look_like_version_4() {
        let text = uuid(u64::MAX, 0);
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert_eq!(&text[19..20], "8");
        assert_eq!(
            stable_uuid(1, &["pods", "a"]),
            stable_uuid(1, &["pods", "a"])
        );
        assert_ne!(
            stable_uuid(1, &["pods", "a"]),
            stable_uuid(2, &["pods", "a"])
        );
    }
}

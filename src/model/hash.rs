//! The partition hash: a fixed 32-bit hash of an item's partition key.
//!
//! It is stored on disk in the column that leads every item table's primary key, so it decides
//! the order of Scan and which items fall in each parallel-scan segment, and it is the Citus
//! distribution column. **It must never change**: a different function would need every table
//! rewritten. The definition, in full:
//!
//! 1. The input bytes are a type tag followed by the key's canonical bytes: `b'S'` and the
//!    UTF-8 bytes of a string; `b'N'` and the canonical text of a number (as
//!    [`Number::as_str`] gives it: `1.50` and `1.5` hash alike); `b'B'` and the raw bytes of a
//!    binary.
//! 2. FNV-1a, 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3), over those bytes.
//! 3. The MurmurHash3 `fmix64` finalizer, so that keys differing only in their last byte
//!    spread over the whole range instead of clustering.
//! 4. The high 32 bits, read as a two's-complement `i32`.
//!
//! Other types cannot be key attributes; they hash by their type tag alone, which keeps the
//! function total and consistent with equality.

use super::{AttributeValue, Number};

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The partition hash of a key value (see the module documentation for the definition).
pub fn partition_hash(value: &AttributeValue) -> i32 {
    let (tag, bytes): (&[u8], &[u8]) = match value {
        AttributeValue::S(s) => (b"S", s.as_bytes()),
        AttributeValue::N(n) => (b"N", n.as_str().as_bytes()),
        AttributeValue::B(b) => (b"B", b),
        other => (other.type_name().as_bytes(), &[]),
    };
    let hash = fmix64(fnv1a64(tag, bytes));
    (hash >> 32) as u32 as i32
}

/// The partition hash of a number key, for callers that hold a [`Number`].
pub fn number_hash(number: &Number) -> i32 {
    (fmix64(fnv1a64(b"N", number.as_str().as_bytes())) >> 32) as u32 as i32
}

/// The bytes a string or binary key is stored and ordered by in its `bytea` key column (UTF-8
/// for S, raw for B; DynamoDB orders both by unsigned bytes). `None` for other types: numbers
/// go to a `numeric` column as [`Number::as_str`].
pub fn key_bytes(value: &AttributeValue) -> Option<&[u8]> {
    match value {
        AttributeValue::S(s) => Some(s.as_bytes()),
        AttributeValue::B(b) => Some(b),
        _ => None,
    }
}

/// The inclusive hash range of parallel-scan segment `segment` out of `total_segments`: the
/// 2^32 hash values are cut into `total_segments` contiguous, disjoint ranges of (nearly) equal
/// size, in ascending order, which together cover every hash. `None` when `total_segments` is 0
/// or `segment` is not below it.
pub fn segment_hash_range(segment: u32, total_segments: u32) -> Option<(i32, i32)> {
    if segment >= total_segments {
        return None;
    }
    let span = 1u64 << 32;
    let start = u64::from(segment) * span / u64::from(total_segments);
    let end = (u64::from(segment) + 1) * span / u64::from(total_segments) - 1;
    // Shift from 0..2^32 to i32::MIN..=i32::MAX, keeping order.
    let to_i32 = |offset: u64| (offset as i64 + i64::from(i32::MIN)) as i32;
    Some((to_i32(start), to_i32(end)))
}

/// FNV-1a, 64-bit, over `tag` then `bytes`.
fn fnv1a64(tag: &[u8], bytes: &[u8]) -> u64 {
    tag.iter()
        .chain(bytes)
        .fold(FNV_OFFSET_BASIS, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
        })
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Item;

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).expect("valid number"))
    }

    /// These values are on disk: if this test fails, the hash changed and every stored table
    /// would need rewriting. Computed independently (Python) from the definition above.
    #[test]
    fn hash_values_are_pinned() {
        assert_eq!(fnv1a64(b"", b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a", b""), 0xaf63_dc4c_8601_ec8c);
        let cases = [
            (AttributeValue::S(String::new()), -2_114_985_032),
            (AttributeValue::S("a".into()), 1_303_816_273),
            (AttributeValue::S("user#1".into()), -996_356_528),
            (AttributeValue::S("é\u{0}x".into()), 1_390_040_455),
            (n("0"), -808_776_257),
            (n("1.5"), 1_562_460_128),
            (n("-100"), -1_677_545_143),
            (AttributeValue::B(vec![]), 876_338_824),
            (AttributeValue::B(vec![0, 1, 2, 255]), -785_466_729),
            (AttributeValue::Null, 1_235_472_854),
            (AttributeValue::M(Item::new()), 1_617_950_706),
        ];
        for (value, hash) in cases {
            assert_eq!(partition_hash(&value), hash, "{value:?}");
        }
    }

    #[test]
    fn equal_keys_hash_alike_and_types_are_distinguished() {
        assert_eq!(partition_hash(&n("1.50")), partition_hash(&n("1.5")));
        assert_eq!(partition_hash(&n("-0")), partition_hash(&n("0")));
        assert_eq!(partition_hash(&n("1e2")), partition_hash(&n("100")));
        let number = Number::parse("12.5").expect("valid");
        assert_eq!(
            number_hash(&number),
            partition_hash(&AttributeValue::N(number.clone()))
        );
        assert_ne!(
            partition_hash(&AttributeValue::S("1".into())),
            partition_hash(&n("1"))
        );
        assert_ne!(
            partition_hash(&AttributeValue::S("a".into())),
            partition_hash(&AttributeValue::B(b"a".to_vec()))
        );
    }

    #[test]
    fn similar_keys_spread_over_segments() {
        // Keys that differ only in their last character must not cluster in one segment.
        let segments = 8u32;
        let mut counts = vec![0u32; segments as usize];
        for i in 0..8000 {
            let hash = partition_hash(&AttributeValue::S(format!("user#{i}")));
            let segment = (0..segments)
                .find(|&s| {
                    segment_hash_range(s, segments)
                        .is_some_and(|(lo, hi)| (lo..=hi).contains(&hash))
                })
                .expect("every hash is in a segment");
            counts[segment as usize] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "uneven spread: {count}");
        }
    }

    #[test]
    fn segments_cover_the_range_without_overlap() {
        for total in [1u32, 2, 3, 7, 1000, 1_000_000] {
            // Each segment starts right after the previous one ends, the first at i32::MIN.
            let mut next_start = i64::from(i32::MIN);
            for segment in 0..total {
                let (lo, hi) = segment_hash_range(segment, total).expect("valid segment");
                assert_eq!(i64::from(lo), next_start, "segment {segment}/{total}");
                assert!(lo <= hi, "segment {segment}/{total}");
                next_start = i64::from(hi) + 1;
            }
            assert_eq!(next_start, i64::from(i32::MAX) + 1, "{total} segments");
        }
        assert_eq!(segment_hash_range(0, 1), Some((i32::MIN, i32::MAX)));
        assert_eq!(segment_hash_range(0, 2), Some((i32::MIN, -1)));
        assert_eq!(segment_hash_range(1, 2), Some((0, i32::MAX)));
        assert_eq!(segment_hash_range(0, 0), None);
        assert_eq!(segment_hash_range(2, 2), None);
    }

    #[test]
    fn key_bytes_are_utf8_or_raw() {
        assert_eq!(
            key_bytes(&AttributeValue::S("é".into())),
            Some("é".as_bytes())
        );
        assert_eq!(
            key_bytes(&AttributeValue::B(vec![0, 255])),
            Some(&[0u8, 255][..])
        );
        assert_eq!(key_bytes(&n("1")), None);
    }
}

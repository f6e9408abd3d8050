//! A bucket of the chunk index (FORMAT.md section 10): the locations of up to [`MAX_ENTRIES`]
//! chunks whose ids fall in one range, as one sled value. sled costs about 70 bytes per entry
//! and splits a leaf above 16 entries; tens of chunks per entry cost it a fraction of that.
//!
//! Encoding: a version byte, the count, the ids (32 bytes each, strictly ascending) and then
//! their locations in the same order. A lookup binary-searches the ids in place; the decoder
//! takes only the canonical encoding and never panics on other input.

use super::location::Stored;
use crate::format::pack::PackEntry;

/// The bucket encoding's version (its first byte).
const BUCKET_VERSION: u8 = 1;

/// A bucket that would hold more entries than this is split.
pub(super) const MAX_ENTRIES: usize = 64;

/// The most entries a bucket is given when it is split or written afresh (room to grow).
pub(super) const FILL: usize = MAX_ENTRIES / 2;

/// The chunks of one bucket, by id (ascending, unique).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bucket {
    pub(super) entries: Vec<([u8; 32], Stored)>,
}

impl Bucket {
    /// The bucket's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(3 + self.entries.len() * 44);
        v.push(BUCKET_VERSION);
        put_count(&mut v, self.entries.len());
        for (id, _) in &self.entries {
            v.extend_from_slice(id);
        }
        for (_, s) in &self.entries {
            s.put(&mut v);
        }
        v
    }

    /// A bucket from its bytes; `None` unless they are exactly one canonical bucket.
    pub fn decode(bytes: &[u8]) -> Option<Bucket> {
        let (ids, mut rest) = split(bytes)?;
        let mut entries = Vec::with_capacity(ids.len() / 32);
        for id in ids.chunks_exact(32) {
            let id: [u8; 32] = id.try_into().ok()?;
            entries.push((id, Stored::take(&mut rest)?));
        }
        rest.is_empty().then_some(Bucket { entries })
    }

    /// A bucket of a pack's entries under the pack's ordinal `ordinal` (sorted by id; of an id
    /// given twice, the last entry is kept).
    pub fn of_pack(ordinal: u32, entries: &[PackEntry]) -> Bucket {
        let mut entries: Vec<([u8; 32], Stored)> = entries
            .iter()
            .rev()
            .map(|e| (e.id.0, Stored::of(ordinal, e)))
            .collect();
        entries.sort_by_key(|e| e.0);
        entries.dedup_by(|a, b| a.0 == b.0);
        Bucket { entries }
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no chunk.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The location of `id` in the encoded bucket `bytes`, without decoding it into memory:
/// `None` if the bucket is malformed, `Some(None)` if it does not hold `id`.
pub(super) fn find(bytes: &[u8], id: &[u8; 32]) -> Option<Option<Stored>> {
    let (ids, mut rest) = split(bytes)?;
    let n = ids.len() / 32;
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match ids[mid * 32..mid * 32 + 32].cmp(&id[..]) {
            std::cmp::Ordering::Less => lo = mid + 1,
            _ => hi = mid,
        }
    }
    let at = (lo < n && ids[lo * 32..lo * 32 + 32] == id[..]).then_some(lo);
    let mut found = None;
    for i in 0..n {
        let s = Stored::take(&mut rest)?;
        if Some(i) == at {
            found = Some(s);
        }
    }
    rest.is_empty().then_some(found)
}

/// The number of chunks in an encoded bucket (`None` if malformed).
pub(super) fn count(bytes: &[u8]) -> Option<usize> {
    split(bytes).map(|(ids, _)| ids.len() / 32)
}

/// The ids of an encoded bucket (32 bytes each, checked ascending) and the bytes after them.
fn split(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&version, mut rest) = bytes.split_first()?;
    if version != BUCKET_VERSION {
        return None;
    }
    let n = take_count(&mut rest)?;
    let (ids, tail) = rest.split_at_checked(n.checked_mul(32)?)?;
    let mut pairs = ids.chunks_exact(32).zip(ids.chunks_exact(32).skip(1));
    if pairs.any(|(a, b)| a >= b) {
        return None;
    }
    Some((ids, tail))
}

/// A count: a LEB128 varint of at most 4 bytes (below 2^28), no redundant zero byte.
fn put_count(v: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
}

fn take_count(rest: &mut &[u8]) -> Option<usize> {
    let mut n = 0usize;
    for i in 0..4 {
        let (&b, tail) = rest.split_first()?;
        *rest = tail;
        n |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (i == 0 || b != 0).then_some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::BlobKind;

    fn stored(i: u32) -> Stored {
        Stored {
            ordinal: i,
            offset: i * 1000,
            length: 300 + i,
            raw_len: 70_000,
            kind: BlobKind::Data,
        }
    }

    fn sample(n: u8) -> Bucket {
        Bucket {
            entries: (0..n)
                .map(|i| ([i * 2; 32], stored(u32::from(i))))
                .collect(),
        }
    }

    #[test]
    fn round_trips_and_finds_in_place() {
        for n in [0, 1, 2, 40, 127] {
            let b = sample(n);
            let bytes = b.encode();
            assert_eq!(Bucket::decode(&bytes), Some(b.clone()));
            assert_eq!(count(&bytes), Some(usize::from(n)));
            for i in 0..n {
                assert_eq!(find(&bytes, &[i * 2; 32]), Some(Some(stored(u32::from(i)))));
                assert_eq!(find(&bytes, &[i * 2 + 1; 32]), Some(None));
            }
        }
        // 32 bytes of id and about 10 of location per chunk
        assert!(sample(40).encode().len() <= 2 + 40 * (32 + 11));
    }

    #[test]
    fn anything_but_a_canonical_bucket_is_rejected() {
        let good = sample(3).encode();
        for cut in 0..good.len() {
            assert_eq!(Bucket::decode(&good[..cut]), None, "cut at {cut}");
            assert_eq!(find(&good[..cut], &[0; 32]), None, "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(Bucket::decode(&long), None, "trailing byte");
        assert_eq!(find(&long, &[2; 32]), None, "trailing byte");
        let mut v2 = good.clone();
        v2[0] = 2;
        assert_eq!(Bucket::decode(&v2), None, "unknown version");
        let mut unsorted = good.clone();
        unsorted[2..34].copy_from_slice(&[9; 32]);
        assert_eq!(Bucket::decode(&unsorted), None, "ids out of order");
        let mut twice = good.clone();
        twice[34..66].copy_from_slice(&[0; 32]);
        assert_eq!(Bucket::decode(&twice), None, "an id twice");
        // a count far beyond the bytes, one with a redundant zero byte, one too wide
        for bad in [
            &[1, 0xff, 0xff, 0xff, 0x7f][..],
            &[1, 0x80, 0x00],
            &[1, 0xff, 0xff, 0xff, 0xff, 0x01],
        ] {
            assert_eq!(Bucket::decode(bad), None, "{bad:?}");
            assert_eq!(count(bad), None, "{bad:?}");
        }
    }
}

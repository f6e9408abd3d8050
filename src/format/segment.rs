//! Segments: a large file's chunk list, cut at content-defined points of the list itself and
//! stored as blobs of their own, so that an unchanged run of a big file (a dump) costs nothing
//! the next time: its segments are the same blobs and deduplicate like data.
//!
//! A file with more than [`SEGMENT_ABOVE`] chunks is stored in its tree as
//! [`NodeKind::FileSegments`](super::tree::NodeKind) (tree version 2): a list of
//! [`SegmentRef`]s. The list is cut after every chunk id whose first four bytes, read as a u32
//! LE, have their low [`BOUNDARY_BITS`] bits all zero (chunk ids are keyed hashes, so the cuts
//! are as unpredictable as the ids, about one per 16 ids), and at the latest after
//! [`MAX_SEGMENT_CHUNKS`] ids.
//!
//! Plaintext of a segment blob (stored with kind `Tree`: it is metadata):
//! `"CAIRNSEG" ‖ version u16 LE = 1 ‖ postcard Vec<ChunkRef>`. Decoding reads the count first
//! and refuses more than [`MAX_SEGMENT_CHUNKS`] (or none) before decoding one entry, and
//! refuses trailing bytes. [`expand`] then holds each segment to what its `SegmentRef` says
//! (count, bytes), refuses a segment that lists one of the file's own segment ids as content,
//! and caps the chunks one tree may expand to at [`MAX_EXPANDED_CHUNKS`].

use super::check_header;
use super::tree::ChunkRef;
use crate::error::{Error, Result};
use crate::id::ChunkId;
use serde::{Deserialize, Serialize};

/// Magic of a segment.
pub const MAGIC: &[u8; 8] = b"CAIRNSEG";
/// Segment layout version.
pub const VERSION: u16 = 1;
/// A file with more chunks than this is stored in segments (a smaller one lists its chunks in
/// its tree entry, as before).
pub const SEGMENT_ABOVE: usize = 128;
/// Low bits of an id that must be zero to end a segment after it: 4 bits, one cut per 16 ids
/// on average (measured against 64 and 256 on the bench's dumps, docs/FORMAT.md §16: a dump's
/// edits are dense enough that shorter segments keep more of the list unchanged).
pub const BOUNDARY_BITS: u32 = 4;
/// Most chunks one segment may hold (the writer cuts there at the latest).
pub const MAX_SEGMENT_CHUNKS: usize = 1024;
/// Largest plaintext of a segment blob, checked before it is read: 1024 refs of at most 37
/// bytes (32-byte id, u32 varint) plus framing.
pub const MAX_SEGMENT_LEN: u32 = 40 * 1024;
/// Most chunks the segmented files of one tree may expand to in all (a backup holds at most
/// 4 Mi distinct chunks, `backend::budget::MAX_REFS`; repeats such as zero runs get twice that).
pub const MAX_EXPANDED_CHUNKS: u64 = 1 << 23;

/// One segment of a file's chunk list, as its tree entry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    /// The segment blob's id.
    pub id: ChunkId,
    /// How many chunks it lists (1 to [`MAX_SEGMENT_CHUNKS`]).
    pub chunks: u32,
    /// The sum of their lengths.
    pub bytes: u64,
}

/// Whether the list is cut after chunk id `id` (its low `bits` bits all zero).
fn is_boundary(id: &ChunkId, bits: u32) -> bool {
    let v = u32::from_le_bytes([id.0[0], id.0[1], id.0[2], id.0[3]]);
    v & ((1u32 << bits.min(31)) - 1) == 0
}

/// Cut a chunk list into segments (content-defined, see the module documentation).
pub fn split(chunks: &[ChunkRef]) -> Vec<&[ChunkRef]> {
    split_bits(chunks, BOUNDARY_BITS)
}

/// [`split`] with another number of boundary bits (for `benches/chunk_sizes.rs`, which
/// measures the choice; the writer always uses [`BOUNDARY_BITS`]).
pub fn split_bits(chunks: &[ChunkRef], bits: u32) -> Vec<&[ChunkRef]> {
    let mut out = Vec::with_capacity(chunks.len() / 32 + 1);
    let mut start = 0;
    for (i, c) in chunks.iter().enumerate() {
        if is_boundary(&c.id, bits) || i + 1 - start >= MAX_SEGMENT_CHUNKS {
            out.push(&chunks[start..=i]);
            start = i + 1;
        }
    }
    if start < chunks.len() {
        out.push(&chunks[start..]);
    }
    out
}

/// The plaintext of a segment blob.
pub fn encode(chunks: &[ChunkRef]) -> Vec<u8> {
    super::frame(MAGIC, VERSION, &chunks)
}

/// Decode a segment blob and check it against `want` (its count and byte sum).
pub fn decode(bytes: &[u8], want: &SegmentRef) -> Result<Vec<ChunkRef>> {
    const WHAT: &str = "segment";
    let what = || format!("{WHAT} {}", want.id.to_hex());
    let body = check_header(bytes, MAGIC, VERSION, WHAT)?;
    let (count, mut rest) = super::tree::varint(body)
        .ok_or_else(|| Error::corrupt(what(), "cannot decode: bad chunk count"))?;
    if count == 0 || count > MAX_SEGMENT_CHUNKS as u64 || count != u64::from(want.chunks) {
        return Err(Error::corrupt(
            what(),
            format!(
                "it lists {count} chunks, its file entry says {}",
                want.chunks
            ),
        ));
    }
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let (c, r) = postcard::take_from_bytes::<ChunkRef>(rest)
            .map_err(|e| Error::corrupt(what(), format!("cannot decode chunk {i}: {e}")))?;
        rest = r;
        out.push(c);
    }
    if !rest.is_empty() {
        return Err(Error::corrupt(
            what(),
            format!("{} trailing bytes", rest.len()),
        ));
    }
    let sum = out
        .iter()
        .try_fold(0u64, |a, c| a.checked_add(u64::from(c.len)));
    if sum != Some(want.bytes) {
        return Err(Error::corrupt(
            what(),
            format!(
                "its chunks do not add up to the {} bytes its file entry says",
                want.bytes
            ),
        ));
    }
    Ok(out)
}

/// A file's whole chunk list from its segments, `fetch` giving each segment's checked
/// plaintext. `budget` is what the tree may still expand to (taken from; see
/// [`MAX_EXPANDED_CHUNKS`]). Refused: a segment unlike its ref, one that lists a segment id of
/// this file as content (a loop), more chunks than the budget.
pub fn expand(
    segments: &[SegmentRef],
    budget: &mut u64,
    mut fetch: impl FnMut(&ChunkId) -> Result<Vec<u8>>,
) -> Result<Vec<ChunkRef>> {
    let claimed = segments
        .iter()
        .map(|s| u64::from(s.chunks))
        .try_fold(0u64, |a, n| a.checked_add(n))
        .filter(|n| n <= budget)
        .ok_or_else(|| {
            Error::corrupt(
                "file entry",
                format!("its segments list more chunks than a tree may ({MAX_EXPANDED_CHUNKS})"),
            )
        })?;
    *budget -= claimed;
    let own: std::collections::HashSet<ChunkId> = segments.iter().map(|s| s.id).collect();
    let mut out = Vec::with_capacity(claimed as usize);
    for s in segments {
        let part = decode(&fetch(&s.id)?, s)?;
        if part.iter().any(|c| own.contains(&c.id)) {
            return Err(Error::corrupt(
                format!("segment {}", s.id.to_hex()),
                "it lists a segment of its own file as content",
            ));
        }
        out.extend(part);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(n: u32, seed: u8) -> Vec<ChunkRef> {
        (0..n)
            .map(|i| ChunkRef {
                id: ChunkId(*blake3::hash(&[&i.to_le_bytes()[..], &[seed]].concat()).as_bytes()),
                len: 100 + i % 7,
            })
            .collect()
    }

    fn sref(id: ChunkId, part: &[ChunkRef]) -> SegmentRef {
        SegmentRef {
            id,
            chunks: part.len() as u32,
            bytes: part.iter().map(|c| u64::from(c.len)).sum(),
        }
    }

    #[test]
    fn cuts_are_content_defined_and_resynchronise_after_an_edit() {
        let a = refs(5000, 1);
        let parts = split(&a);
        assert_eq!(parts.concat(), a);
        let mean = a.len() / parts.len();
        assert!((8..=32).contains(&mean), "mean {mean}");
        assert!(parts.iter().all(|p| p.len() <= MAX_SEGMENT_CHUNKS));
        // change one id in the middle: all segments but one or two stay the same
        let mut b = a.clone();
        b[2500] = refs(1, 9)[0];
        let pb = split(&b);
        let same = pb.iter().filter(|p| parts.contains(p)).count();
        assert!(same + 2 >= parts.len(), "{same} of {}", parts.len());
        // a list without cut points is cut at the cap
        let flat: Vec<ChunkRef> = (0..3000)
            .map(|_| ChunkRef {
                id: ChunkId([1; 32]),
                len: 1,
            })
            .collect();
        let pf = split(&flat);
        assert_eq!(
            pf.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [1024, 1024, 952]
        );
    }

    #[test]
    fn decode_checks_count_sum_and_bounds() {
        let part = refs(40, 2);
        let want = sref(ChunkId([7; 32]), &part);
        let bytes = encode(&part);
        assert!(bytes.len() as u32 <= MAX_SEGMENT_LEN);
        assert_eq!(decode(&bytes, &want).unwrap(), part);
        let bad = |w: SegmentRef, b: &[u8]| decode(b, &w).unwrap_err().to_string();
        assert!(bad(SegmentRef { chunks: 39, ..want }, &bytes).contains("lists 40 chunks"));
        assert!(bad(SegmentRef { bytes: 1, ..want }, &bytes).contains("do not add up"));
        let mut long = bytes.clone();
        long.push(0);
        assert!(bad(want, &long).contains("trailing"));
        assert!(bad(want, &bytes[..bytes.len() - 3]).contains("cannot decode chunk"));
        // a count far over the cap is refused before any entry is read
        let mut huge = b"CAIRNSEG\x01\x00".to_vec();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        assert!(bad(want, &huge).contains("chunks"));
        let full = SegmentRef {
            chunks: 1025,
            ..want
        };
        assert!(bad(full, &encode(&refs(1025, 3))).contains("1025"));
        assert!(bad(want, b"CAIRNTRE\x01\x00\x00").contains("bad magic"));
    }

    #[test]
    fn expand_refuses_loops_and_budget_overruns() {
        let a = refs(300, 4);
        let parts = split(&a);
        let blobs: Vec<(SegmentRef, Vec<u8>)> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (sref(ChunkId([i as u8 + 1; 32]), p), encode(p)))
            .collect();
        let segs: Vec<SegmentRef> = blobs.iter().map(|b| b.0).collect();
        let fetch = |id: &ChunkId| Ok(blobs.iter().find(|b| b.0.id == *id).unwrap().1.clone());
        let mut budget = MAX_EXPANDED_CHUNKS;
        assert_eq!(expand(&segs, &mut budget, fetch).unwrap(), a);
        assert_eq!(budget, MAX_EXPANDED_CHUNKS - 300);
        let mut small = 299;
        assert!(expand(&segs, &mut small, fetch).is_err());
        // a segment that names itself as content
        let mut selfish = a[..3].to_vec();
        selfish[1].id = ChunkId([42; 32]);
        let s = sref(ChunkId([42; 32]), &selfish);
        let e = expand(&[s], &mut budget, |_| Ok(encode(&selfish))).unwrap_err();
        assert!(e.to_string().contains("segment"), "{e}");
    }
}

//! Finding an id in a long list sorted by id, with few cache misses.
//!
//! Chunk ids are keyed hashes, so their leading bits are spread evenly. A [`PrefixIndex`] notes
//! where each value of the leading `bits` bits starts in the list (about four entries per
//! value), so a search reads one entry of that table and bisects a handful of entries, where a
//! bisection of the whole list touches a cache line at each of its 17–20 steps. Measured on the
//! restore of 3 GiB (176,000 chunks, a 10.6 MB list): the bisection of the chunk places was 4 %
//! of the CPU (benches/RESULTS.md).
//!
//! The table costs about one byte per entry. Ids that crowd one prefix (a hostile pack header
//! can name any ids) only make that prefix's range longer: the search is a bisection of it,
//! never worse than a bisection of the whole list.

use crate::id::ChunkId;
use std::ops::Range;

/// Where each prefix of the ids' leading bits starts in a list sorted by id.
#[derive(Debug, Default)]
pub struct PrefixIndex {
    /// How many leading bits pick a range (0: one range, the whole list).
    bits: u32,
    /// `starts[p]`: the index of the first entry whose prefix is at least `p`; one more entry
    /// than there are prefixes, the last being the list's length.
    starts: Vec<u32>,
}

/// Entries per prefix the table aims at.
const PER_PREFIX: usize = 4;
/// The most leading bits used (a 64 MiB table, for a list of a billion ids).
const MAX_BITS: u32 = 24;

impl PrefixIndex {
    /// The table for `sorted` (sorted by the id `key` gives; not checked).
    pub fn new<T>(sorted: &[T], key: impl Fn(&T) -> &ChunkId) -> Self {
        let n = sorted.len();
        if u32::try_from(n).is_err() {
            return PrefixIndex::default();
        }
        let bits = (n / PER_PREFIX).max(1).ilog2().min(MAX_BITS);
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        for (i, e) in sorted.iter().enumerate() {
            let p = prefix(key(e), bits);
            while starts.len() <= p {
                // n fits in u32 (checked above)
                starts.push(i as u32);
            }
        }
        starts.resize((1 << bits) + 1, n as u32);
        PrefixIndex { bits, starts }
    }

    /// The range of the list where `id` is, if it is there.
    fn range(&self, id: &ChunkId, len: usize) -> Range<usize> {
        let p = prefix(id, self.bits);
        match (self.starts.get(p), self.starts.get(p + 1)) {
            (Some(&a), Some(&b)) => a as usize..(b as usize).min(len),
            _ => 0..len,
        }
    }

    /// Find `id` in `sorted` (the list the table was made for): its index.
    pub fn find<T>(
        &self,
        sorted: &[T],
        id: &ChunkId,
        key: impl Fn(&T) -> &ChunkId,
    ) -> Option<usize> {
        let r = self.range(id, sorted.len());
        let start = r.start;
        let within = sorted.get(r)?;
        within
            .binary_search_by(|e| key(e).cmp(id))
            .ok()
            .map(|at| start + at)
    }
}

/// The leading `bits` bits of `id`.
fn prefix(id: &ChunkId, bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    let lead = u32::from_be_bytes([id.0[0], id.0[1], id.0[2], id.0[3]]);
    (lead >> (32 - bits)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize, seed: u8) -> Vec<ChunkId> {
        let mut v: Vec<ChunkId> = (0..n)
            .map(|i| ChunkId(*blake3::hash(&[&i.to_le_bytes()[..], &[seed]].concat()).as_bytes()))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn every_id_is_found_and_no_other() {
        for n in [0, 1, 3, 4, 5, 17, 1000, 70_000] {
            let list = ids(n, 1);
            let t = PrefixIndex::new(&list, |id| id);
            for (i, id) in list.iter().enumerate() {
                assert_eq!(t.find(&list, id, |id| id), Some(i), "n = {n}");
            }
            for other in ids(200, 2) {
                assert_eq!(t.find(&list, &other, |id| id), None, "n = {n}");
            }
        }
    }

    #[test]
    fn the_table_narrows_the_search_to_a_few_entries() {
        let list = ids(70_000, 3);
        let t = PrefixIndex::new(&list, |id| id);
        assert_eq!(t.bits, 14);
        let widest = list
            .iter()
            .map(|id| t.range(id, list.len()).len())
            .max()
            .unwrap_or(0);
        assert!(widest < 40, "a prefix holds {widest} entries");
        // about one byte an entry: a u32 per four entries
        assert!(t.starts.len() * std::mem::size_of::<u32>() <= list.len() * 2);
    }

    #[test]
    fn ids_crowding_one_prefix_are_still_found() {
        // a hostile header: every id starts with the same bytes
        let mut list: Vec<ChunkId> = (0..5000u32)
            .map(|i| {
                let mut b = [0xab; 32];
                b[28..].copy_from_slice(&i.to_be_bytes());
                ChunkId(b)
            })
            .collect();
        list.push(ChunkId([0; 32]));
        list.push(ChunkId([0xff; 32]));
        list.sort_unstable();
        let t = PrefixIndex::new(&list, |id| id);
        for (i, id) in list.iter().enumerate() {
            assert_eq!(t.find(&list, id, |id| id), Some(i));
        }
        assert_eq!(t.find(&list, &ChunkId([0xab; 32]), |id| id), None);
    }
}

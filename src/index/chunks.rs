//! The chunk index proper: chunk id → location, in [buckets](super::bucket) of tens of chunks.
//!
//! Each sled entry of the `chunk_buckets` tree holds the chunks whose ids are at most its key
//! and above the previous entry's key: a bucket is keyed by its highest id, except the last,
//! which may be keyed by [`ABOVE_ALL`]. A lookup is one forward sled `range` step (sled's
//! backward step costs ten times more) and a binary search. Adding a pack sorts its entries and
//! rewrites each bucket they fall in once, splitting a bucket that outgrows [`MAX_ENTRIES`] into
//! buckets of [`FILL`].

use super::bucket::{self, Bucket, FILL, MAX_ENTRIES};
use super::location::Stored;
use super::{ierr, malformed, Index};
use crate::error::Result;
use crate::format::pack::PackHeader;
use crate::id::ChunkId;

/// The key of the bucket of the ids above every other bucket's key (33 bytes: above any id).
const ABOVE_ALL: [u8; 33] = [0xff; 33];

/// Buckets written per sled batch (a batch is atomic, and sled keeps every node version it
/// makes until it ends).
const BUCKETS_PER_BATCH: usize = 16;

/// A bucket as read: its key and its chunks.
struct Held {
    key: Vec<u8>,
    bucket: Bucket,
}

impl Index {
    /// The stored location of `id`, if indexed.
    pub(super) fn stored(&self, id: &ChunkId) -> Result<Option<Stored>> {
        let Some((_, v)) = self
            .chunks
            .range(&id.0[..]..)
            .next()
            .transpose()
            .map_err(ierr)?
        else {
            return Ok(None);
        };
        bucket::find(&v, &id.0).ok_or_else(malformed)
    }

    /// The bucket `id` falls in (an empty one keyed by [`ABOVE_ALL`] if no key is above it).
    fn bucket_for(&self, id: &[u8; 32]) -> Result<Held> {
        let found = self
            .chunks
            .range(&id[..]..)
            .next()
            .transpose()
            .map_err(ierr)?;
        Ok(match found {
            Some((k, v)) => Held {
                key: k.to_vec(),
                bucket: Bucket::decode(&v).ok_or_else(malformed)?,
            },
            None => Held {
                key: ABOVE_ALL.to_vec(),
                bucket: Bucket::default(),
            },
        })
    }

    /// Apply `change` to every bucket the (sorted, unique) `ids` fall in, each bucket once, and
    /// write back those it changed (split when over [`MAX_ENTRIES`], removed when empty).
    fn update_buckets<T>(
        &self,
        items: &[([u8; 32], T)],
        mut change: impl FnMut(&mut Bucket, &[([u8; 32], T)]) -> bool,
    ) -> Result<()> {
        let _held = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        let mut i = 0;
        while i < items.len() {
            let mut held = self.bucket_for(&items[i].0)?;
            let end = i + items[i..].partition_point(|(id, _)| id[..] <= held.key[..]);
            if change(&mut held.bucket, &items[i..end]) {
                write_bucket(&mut batch, held);
                in_batch += 1;
            }
            i = end;
            if in_batch >= BUCKETS_PER_BATCH {
                self.chunks
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(ierr)?;
                in_batch = 0;
            }
        }
        self.chunks.apply_batch(batch).map_err(ierr)
    }

    /// Record a pack's entries under its ordinal. A crash between batches leaves some of the
    /// pack's chunks unindexed, which only costs dedup (they are stored again), never a wrong
    /// location.
    pub(super) fn add_entries(&self, ordinal: u32, header: &PackHeader) -> Result<()> {
        // a later entry of the same id wins, as it would over an earlier pack's
        let items = Bucket::of_pack(ordinal, &header.entries).entries;
        self.update_buckets(&items, |bucket, add| {
            merge(bucket, add);
            true
        })
    }

    /// Forget those of a pack's entries that still point at it (by ordinal).
    pub(super) fn remove_entries(&self, ordinal: u32, header: &PackHeader) -> Result<()> {
        let mut ids: Vec<([u8; 32], ())> = header.entries.iter().map(|e| (e.id.0, ())).collect();
        ids.sort_unstable_by_key(|e| e.0);
        ids.dedup_by(|a, b| a.0 == b.0);
        self.update_buckets(&ids, |bucket, gone| {
            let before = bucket.entries.len();
            bucket.entries.retain(|(id, s)| {
                s.ordinal != ordinal || gone.binary_search_by(|(g, _)| g.cmp(id)).is_err()
            });
            bucket.entries.len() != before
        })
    }

    /// Number of indexed chunks (reads every bucket).
    pub fn chunk_count(&self) -> usize {
        self.chunks
            .iter()
            .values()
            .filter_map(|v| v.ok().and_then(|v| bucket::count(&v)))
            .sum()
    }

    /// Number of sled entries the chunk index takes (its buckets).
    pub fn chunk_bucket_count(&self) -> usize {
        self.chunks.len()
    }
}

/// Merge sorted, unique `add` into the bucket; an id it already holds takes the new location.
fn merge(bucket: &mut Bucket, add: &[([u8; 32], Stored)]) {
    let old = std::mem::take(&mut bucket.entries);
    let mut out = Vec::with_capacity(old.len() + add.len());
    let (mut a, mut b) = (old.into_iter().peekable(), add.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => out.extend(a.next()),
            (Some(x), Some(y)) if x.0 == y.0 => {
                a.next();
                out.extend(b.next().copied());
            }
            (_, Some(_)) => out.extend(b.next().copied()),
            (Some(_), None) => out.extend(a.next()),
            (None, None) => break,
        }
    }
    bucket.entries = out;
}

/// Put a changed bucket into `batch`: removed if empty, split into buckets of [`FILL`] chunks
/// if over [`MAX_ENTRIES`] (each keyed by its highest id, the last keeping the bucket's key).
fn write_bucket(batch: &mut sled::Batch, held: Held) {
    let Held { key, bucket } = held;
    if bucket.is_empty() {
        batch.remove(key);
        return;
    }
    if bucket.len() <= MAX_ENTRIES {
        batch.insert(key, bucket.encode());
        return;
    }
    let parts = bucket.entries.chunks(FILL);
    let last = parts.len() - 1;
    for (i, part) in parts.enumerate() {
        let piece = Bucket {
            entries: part.to_vec(),
        };
        let k = match part.last() {
            Some((id, _)) if i < last => id.to_vec(),
            _ => key.clone(),
        };
        batch.insert(k, piece.encode());
    }
}

/// Fill an empty bucket tree from `(id, location)` pairs in ascending id order (a migration
/// from a per-chunk layout): buckets of [`FILL`], each keyed by its highest id, written in
/// batches.
pub(super) fn fill_sorted(
    tree: &sled::Tree,
    pairs: impl Iterator<Item = sled::Result<([u8; 32], Stored)>>,
) -> sled::Result<usize> {
    let mut batch = sled::Batch::default();
    let (mut in_batch, mut total) = (0, 0);
    let mut current = Bucket::default();
    let flush = |b: &mut Bucket, batch: &mut sled::Batch| {
        if let Some((last, _)) = b.entries.last() {
            batch.insert(&last[..], b.encode());
        }
        b.entries.clear();
    };
    for p in pairs {
        current.entries.push(p?);
        total += 1;
        if current.len() == FILL {
            flush(&mut current, &mut batch);
            in_batch += 1;
            if in_batch >= BUCKETS_PER_BATCH {
                tree.apply_batch(std::mem::take(&mut batch))?;
                in_batch = 0;
            }
        }
    }
    flush(&mut current, &mut batch);
    tree.apply_batch(batch)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::{BlobKind, PackEntry};
    use crate::id::{KeyId, PackId};

    fn header(range: std::ops::Range<u32>) -> PackHeader {
        PackHeader {
            session: KeyId([0; 32]),
            entries: range
                .map(|i| PackEntry {
                    id: ChunkId(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                    kind: BlobKind::Data,
                    offset: i,
                    length: 10,
                    raw_len: 5,
                })
                .collect(),
        }
    }

    /// The point of the layout: tens of chunks per sled entry, not one (a per-chunk index
    /// would hold 6,000 entries here).
    #[test]
    fn the_chunk_index_holds_tens_of_chunks_per_sled_entry() {
        let idx = Index::temporary().unwrap();
        for p in 0..6u32 {
            idx.add_pack(PackId([p as u8; 32]), 9, &header(p * 1000..(p + 1) * 1000))
                .unwrap();
        }
        assert_eq!(idx.chunk_count(), 6000);
        let buckets = idx.chunk_bucket_count();
        assert!(
            (6000 / MAX_ENTRIES..=6000 / 20).contains(&buckets),
            "{buckets} sled entries for 6,000 chunks"
        );
        for i in (0..6000u32).step_by(7) {
            let id = ChunkId(*blake3::hash(&i.to_le_bytes()).as_bytes());
            let at = idx.lookup(&id).unwrap().unwrap();
            assert_eq!((at.offset, at.pack), (i, PackId([(i / 1000) as u8; 32])));
        }
        assert!(!idx.contains(&ChunkId([0; 32])).unwrap());
        assert!(!idx.contains(&ChunkId([0xff; 32])).unwrap());
        // removing the packs empties the index
        for p in 0..6u32 {
            idx.remove_pack(PackId([p as u8; 32]), &header(p * 1000..(p + 1) * 1000))
                .unwrap();
        }
        assert_eq!(idx.chunk_count(), 0);
        assert_eq!(idx.chunk_bucket_count(), 0);
    }

    #[test]
    fn filling_from_sorted_pairs_gives_full_buckets_that_look_up() {
        let idx = Index::temporary().unwrap();
        let mut ids: Vec<[u8; 32]> = (0..1000u32)
            .map(|i| *blake3::hash(&i.to_le_bytes()).as_bytes())
            .collect();
        ids.sort();
        let s = |i: usize| Stored {
            ordinal: 0,
            offset: i as u32,
            length: 1,
            raw_len: 1,
            kind: BlobKind::Tree,
        };
        let n = fill_sorted(
            &idx.chunks,
            ids.iter().enumerate().map(|(i, id)| Ok((*id, s(i)))),
        )
        .unwrap();
        assert_eq!(n, 1000);
        assert_eq!(idx.chunk_bucket_count(), 1000usize.div_ceil(FILL));
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(idx.stored(&ChunkId(*id)).unwrap(), Some(s(i)));
        }
        assert_eq!(idx.stored(&ChunkId([0; 32])).unwrap(), None);
    }
}

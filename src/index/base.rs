//! The chunk index's base level: an immutable sorted file `REPO/local/chunks` (FORMAT.md
//! section 10.2) under sled's `chunks` tree, which holds only the entries added since the last
//! merge. A lookup asks sled first, then the base (one positioned read of one block). When sled's
//! level grows past [`MERGE_AT`] entries (and at the end of a job), the two are merged into a new
//! base file in one sequential pass, put in place, and the merged entries removed from sled.
//!
//! A base entry whose pack ordinal is no longer in `pack_ids` is dead (the pack was removed):
//! lookups take it for absent, and the next merge drops it. Ordinals are never given twice
//! (`cairn-index-next-ordinal`), and sled is flushed before a base names an ordinal, so a dead
//! entry never comes back to life under another pack.

use super::blockfile::{self, BlockFile};
use super::cachefile::records;
use super::location::Stored;
use super::runs::Run;
use super::sync::Bulk;
use super::{ierr, Index};
use crate::error::{Error, Result};
use crate::id::ChunkId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The base file's name, beside the index's directory.
pub(super) const FILE_NAME: &str = "chunks";
/// The key, in sled's default tree, of the check (16 bytes) of the base file's header: the base
/// the index's sled level goes with. Missing: no base.
pub(super) const BASE_KEY: &[u8] = b"cairn-index-base";
/// Merge once sled's level holds this many entries. Measured on the first backup of one million
/// files (benches/RESULTS.md, "A two-level chunk index"): peak RSS 134-148 MB at 64Ki, 108-127 MB
/// at 16Ki, 123 MB at 8Ki; the time within the noise of a loaded machine (each merge rewrites the
/// base: 61 merges of up to 45 MB at 16Ki).
pub(super) const MERGE_AT: usize = 16 << 10;

/// The base level's state in an open index.
#[derive(Default)]
pub(super) struct Base {
    /// The base file, if any; replaced whole by a merge (a lookup holds its own `Arc`).
    file: RwLock<Option<Arc<BlockFile<ChunkId>>>>,
    /// Held by the one merge running.
    merging: Mutex<()>,
    /// About how many entries sled's level holds (a chunk added twice counts twice).
    pending: AtomicUsize,
    /// A damaged block was met: no more merges; the next open rebuilds.
    damaged: AtomicBool,
}

pub(super) fn io(path: &Path, e: std::io::Error) -> Error {
    Error::failed(
        format!("cannot write the chunk index {}: {e}", path.display()),
        "free space on the file system of REPO/local; until then new chunks stay indexed in sled",
    )
}

/// A base or run just written does not read back as one.
pub(super) fn unreadable(path: &Path) -> Error {
    Error::failed(
        format!(
            "the chunk index {} just written does not read back",
            path.display()
        ),
        "check the disk under REPO/local (`dmesg`); the next job rebuilds the index from the packs",
    )
}

impl Index {
    fn base_file(&self) -> Option<Arc<BlockFile<ChunkId>>> {
        self.base
            .file
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Open the base file that goes with this index (at open): one that is missing, damaged,
    /// of another instance or not the one sled names is removed and the chunk index emptied, to
    /// be rebuilt from the pack headers by the next sync.
    pub(super) fn open_base(&self) -> sled::Result<()> {
        self.base
            .pending
            .store(self.chunks.len(), Ordering::Relaxed);
        let Some(path) = self.beside(FILE_NAME) else {
            return Ok(());
        };
        super::runs::remove_left(&path);
        let expected = self.db.get(BASE_KEY)?;
        let file = match File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && expected.is_none() => {
                return Ok(())
            }
            f => f.ok().and_then(BlockFile::<ChunkId>::open),
        };
        let instance = self.db.get(super::INSTANCE_KEY)?;
        let good = file.filter(|f| {
            expected.as_deref() == Some(&f.check()[..])
                && instance.as_deref() == Some(&f.stamp().instance[..])
        });
        match good {
            Some(f) => {
                *self.base.file.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(f));
                Ok(())
            }
            None => {
                tracing::warn!(
                    "chunk index {} missing, damaged or of another index; rebuilding it from \
                     the pack headers",
                    path.display()
                );
                self.clear_chunks()
            }
        }
    }

    /// Forget the base (the chunk index is being emptied).
    pub(super) fn drop_base(&self) -> sled::Result<()> {
        self.db.remove(BASE_KEY)?;
        *self.base.file.write().unwrap_or_else(|p| p.into_inner()) = None;
        self.base.pending.store(0, Ordering::Relaxed);
        self.base.damaged.store(false, Ordering::Relaxed);
        if let Some(path) = self.beside(FILE_NAME) {
            // best effort: a file left behind no longer matches the index and goes at open
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    /// The base's live entry for `id`, if any. A damaged block is logged once and taken for no
    /// entry (the index is rebuilt at the next open): never a wrong location.
    pub(super) fn base_get(&self, id: &ChunkId) -> Result<Option<Stored>> {
        let Some(file) = self.base_file() else {
            return Ok(None);
        };
        let stored = match file.get_with(id, Stored::decode) {
            Ok(None) => return Ok(None),
            Ok(Some(s)) => s,
            Err(()) => None,
        };
        let Some(stored) = stored else {
            self.base_damaged();
            return Ok(None);
        };
        let live = self
            .pack_ids
            .contains_key(stored.ordinal.to_be_bytes())
            .map_err(ierr)?;
        Ok(live.then_some(stored))
    }

    /// A damaged base block was met: the base is no longer the one sled names, so the next open
    /// rebuilds the chunk index; until then no merge reads it.
    fn base_damaged(&self) {
        if !self.base.damaged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the chunk index file has a damaged block; it is rebuilt from the pack headers \
                 at the next job"
            );
            // best effort: if this fails, the damage is met again and reported again
            let _ = self.db.remove(BASE_KEY).and_then(|_| self.db.flush());
        }
    }

    /// Count entries added to sled's level; merge if it is past [`MERGE_AT`] (a failure is
    /// logged: it only leaves the level larger).
    pub(super) fn added(&self, n: usize) {
        let pending = self.base.pending.fetch_add(n, Ordering::Relaxed) + n;
        if pending >= MERGE_AT {
            self.merge_or_warn();
        }
    }

    /// [`Index::merge`], logged on failure.
    pub(super) fn merge_or_warn(&self) {
        if let Err(e) = self.merge() {
            tracing::warn!("chunk index not merged: {e}");
        }
    }

    /// Whether sled's level holds entries, or packs were removed since the base was written.
    pub(super) fn merge_due(&self) -> Result<bool> {
        if self.base.pending.load(Ordering::Relaxed) > 0 {
            return Ok(true);
        }
        let removals = self.stamp()?.removals;
        Ok(self
            .base_file()
            .is_some_and(|f| f.stamp().removals != removals))
    }

    /// Write a new base of the old one's live entries and sled's level (sled's win), put it in
    /// place, then remove the merged entries from sled (each only if unchanged since). A no-op
    /// for a temporary index, a damaged base, or while another merge runs. Returns whether it
    /// merged.
    pub(super) fn merge(&self) -> Result<bool> {
        self.merge_with(&Bulk::default())
    }

    /// [`Index::merge`], with the packs a sync staged ([`Bulk`], empty for a plain merge) written
    /// into the new base too: their ordinals (reserved, not yet recorded) are made durable before
    /// the base names them, and the packs are recorded once it is in place. A crash in between
    /// leaves entries of ordinals no pack holds, which are dead, and packs not recorded, which
    /// the next sync indexes again: never a wrong location.
    pub(super) fn merge_with(&self, bulk: &Bulk) -> Result<bool> {
        let Some(path) = self.beside(FILE_NAME) else {
            return Ok(false);
        };
        let _held = match self.base.merging.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(false),
        };
        if self.base.damaged.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let stamp = self.stamp()?;
        let level = self
            .chunks
            .iter()
            .collect::<sled::Result<Vec<_>>>()
            .map_err(ierr)?;
        let mut live = self.live_ordinals()?;
        live.extend(bulk.packs.iter().map(|&(ordinal, _, _)| ordinal));
        // every ordinal the new base names is durable before it does
        self.flush()?;
        let old = self.base_file();
        let tmp = path.with_file_name(format!("{FILE_NAME}.new"));
        let entries = Union::new(old.as_deref(), &level, bulk, &live);
        #[cfg(test)]
        tests::BASE_WRITES.with(|n| n.set(n.get() + 1));
        let (_, check) = blockfile::write(&tmp, stamp, entries, |e| io(&tmp, e))?;
        blockfile::put_in_place(&tmp, &path, |e| io(&path, e))?;
        self.db.insert(BASE_KEY, &check).map_err(ierr)?;
        for &(ordinal, pack, size) in &bulk.packs {
            self.record_pack(ordinal, pack, size)?;
        }
        self.flush()?;
        let file = File::open(&path)
            .ok()
            .and_then(BlockFile::open)
            .ok_or_else(|| unreadable(&path))?;
        *self.base.file.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(file));
        #[cfg(test)]
        if tests::STOP_AFTER_RENAME.with(|s| s.get()) {
            return Ok(true);
        }
        let mut removed = 0;
        for (k, v) in level {
            let swapped = self
                .chunks
                .compare_and_swap(&k, Some(&v), None::<&[u8]>)
                .map_err(ierr)?;
            removed += usize::from(swapped.is_ok());
        }
        let _ = self
            .base
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(removed))
            });
        Ok(true)
    }

    /// The ordinals of the indexed packs.
    fn live_ordinals(&self) -> Result<HashSet<u32>> {
        let mut live = HashSet::new();
        for k in self.pack_ids.iter().keys() {
            let k = k.map_err(ierr)?;
            if let Ok(k) = <[u8; 4]>::try_from(&k[..]) {
                live.insert(u32::from_be_bytes(k));
            }
        }
        Ok(live)
    }

    /// Number of indexed chunks, both levels, dead entries left out (reads the whole base).
    pub fn chunk_count(&self) -> usize {
        let (Ok(level), Ok(live)) = (
            self.chunks.iter().collect::<sled::Result<Vec<_>>>(),
            self.live_ordinals(),
        ) else {
            return 0;
        };
        let old = self.base_file();
        Union::new(old.as_deref(), &level, &Bulk::default(), &live)
            .take_while(Result::is_ok)
            .count()
    }
}

/// The base's records in key order, one block at a time; an error for a damaged block.
fn base_records(
    file: Option<&BlockFile<ChunkId>>,
) -> impl Iterator<Item = Result<(ChunkId, Vec<u8>)>> + '_ {
    let damaged = || {
        Error::failed(
            "the chunk index file has a damaged block",
            "nothing to do: it is rebuilt from the pack headers at the next job",
        )
    };
    file.into_iter()
        .flat_map(|f| f.blocks())
        .flat_map(move |b| {
            let recs: Vec<Result<(ChunkId, Vec<u8>)>> = match b {
                Err(()) => vec![Err(damaged())],
                Ok(b) => records::<ChunkId>(&b)
                    .map(|r| r.map(|(k, v)| (k, v.to_vec())).ok_or_else(damaged))
                    .collect(),
            };
            recs
        })
}

/// Records in ascending key order, or an error for a damaged block.
type Records<'a> = Box<dyn Iterator<Item = Result<(ChunkId, Vec<u8>)>> + 'a>;

/// The entries of several sorted sources in key order: a base, sled's level, a sync's runs and
/// its staged entries. Of the sources holding a key the newest wins (the staged entries, then
/// the runs from the last spilled, then sled's level, then the base); with a set of live
/// ordinals, an entry whose ordinal is not live (or that does not decode) is left out.
pub(super) struct Union<'a> {
    /// Oldest first.
    sources: Vec<Records<'a>>,
    /// The value of each source's next record, whose key is in `next`.
    heads: Vec<Option<Vec<u8>>>,
    /// Each source's next key (with the source's place): the least on top.
    next: BinaryHeap<Reverse<([u8; 32], usize)>>,
    started: bool,
    live: Option<&'a HashSet<u32>>,
}

impl<'a> Union<'a> {
    /// The live entries of the base `base`, sled's level `level` and the sync's `bulk`.
    pub(super) fn new(
        base: Option<&'a BlockFile<ChunkId>>,
        level: &'a [(sled::IVec, sled::IVec)],
        bulk: &'a Bulk,
        live: &'a HashSet<u32>,
    ) -> Self {
        // (sled's keys are chunk ids; anything else is skipped)
        let level = level.iter().filter_map(|(k, v)| {
            let k = <[u8; 32]>::try_from(&k[..]).ok()?;
            Some(Ok((ChunkId(k), v.to_vec())))
        });
        let staged = bulk.entries.iter().map(|(k, s)| Ok((*k, s.encode())));
        let mut sources: Vec<Records<'a>> = vec![Box::new(base_records(base)), Box::new(level)];
        sources.extend(bulk.runs.iter().map(run_records));
        sources.push(Box::new(staged));
        Self::of(sources, Some(live))
    }

    /// Every entry of `runs` (oldest first), live or not: their packs are not recorded yet.
    pub(super) fn of_runs(runs: &'a [Run]) -> Self {
        Self::of(runs.iter().map(run_records).collect(), None)
    }

    fn of(sources: Vec<Records<'a>>, live: Option<&'a HashSet<u32>>) -> Self {
        Union {
            heads: vec![None; sources.len()],
            next: BinaryHeap::with_capacity(sources.len()),
            sources,
            started: false,
            live,
        }
    }

    /// Take source `i`'s next record into `heads` and `next`.
    fn advance(&mut self, i: usize) -> Result<()> {
        if let Some(r) = self.sources[i].next() {
            let (k, v) = r?;
            self.heads[i] = Some(v);
            self.next.push(Reverse((k.0, i)));
        }
        Ok(())
    }

    /// The next key and its newest value, live or not.
    fn next_any(&mut self) -> Result<Option<([u8; 32], Vec<u8>)>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.advance(i)?;
            }
        }
        let Some(Reverse((key, first))) = self.next.pop() else {
            return Ok(None);
        };
        // every source holding the key moves past it; the newest one's value is kept
        let mut value = self.heads[first].take();
        self.advance(first)?;
        while let Some(&Reverse((k, i))) = self.next.peek() {
            if k != key {
                break;
            }
            self.next.pop();
            // equal keys leave the heap oldest source first
            value = self.heads[i].take().or(value);
            self.advance(i)?;
        }
        Ok(value.map(|v| (key, v)))
    }
}

fn run_records(run: &Run) -> Records<'_> {
    Box::new(base_records(Some(&run.file)))
}

impl Iterator for Union<'_> {
    type Item = Result<(ChunkId, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (key, value) = match self.next_any() {
                Ok(kv) => kv?,
                Err(e) => return Some(Err(e)),
            };
            let live = match self.live {
                None => true,
                Some(live) => Stored::decode(&value).is_some_and(|s| live.contains(&s.ordinal)),
            };
            if live {
                return Some(Ok((ChunkId(key), value)));
            }
        }
    }
}

#[cfg(test)]
#[path = "base_tests.rs"]
pub(super) mod tests;

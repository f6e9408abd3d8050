//! The chunk index: chunk id → pack location. A cache of what the pack headers say, rebuilt from
//! the packs whenever it is missing, stale or corrupt. Two levels: the sled database
//! `REPO/local/index` holds the packs and the chunks added since the last merge, and the sorted
//! file `REPO/local/chunks` all the others ([`base`]). The files cache (unchanged files are not
//! read again) is a file beside them, not in sled ([`files`]).
//!
//! - [`location`]: the chunk location record and its encoding;
//! - [`base`]: the chunk index's base file, and merging sled's level into it;
//! - [`blockfile`]: reading and writing the sorted block files ([`cachefile`]: their layout);
//! - [`sync`](Index::sync): indexing a store's packs from their headers, rebuilding when stale;
//! - [`files`]: the files cache, one record per directory ([`record`]: its encoding,
//!   [`cachefile`]: the file's layout);
//! - [`compact`]: copying a bloated index into a fresh database.

mod base;
mod blockfile;
pub mod cachefile;
mod compact;
mod files;
mod location;
mod record;
mod runs;
mod sync;

pub use cachefile::Stamp;
pub use compact::Compaction;
pub use files::{CachedDir, CachedFile, DirKey, FilesCache};
pub use location::Location;
use location::Stored;
pub use sync::{pack_id_of, read_pack_header};

use crate::error::{Error, Result};
use crate::format::pack::PackHeader;
use crate::id::{ChunkId, PackId};
use crate::sled_open::OpenError;
use std::path::{Path, PathBuf};

/// The key, in sled's default tree, of the index layout version (u32 LE).
const VERSION_KEY: &[u8] = b"cairn-index-version";
/// The layout described in FORMAT.md section 10.
const VERSION: u32 = 5;
/// The layouts before this one whose chunk index is kept at open: 2 and 3 (which also held the
/// files cache in a sled tree `files`, dropped at open) and 4 (all chunks in sled's `chunks`
/// tree, which becomes the sled level: the next merge moves them into the base file).
const VERSIONS_KEPT: [u32; 3] = [2, 3, 4];
/// The key, in sled's default tree, of the next pack ordinal to give (u32 LE; missing: one more
/// than the highest in `pack_ids`). Ordinals are never given twice: the base file may still
/// name a removed pack's ordinal.
const NEXT_ORDINAL_KEY: &[u8] = b"cairn-index-next-ordinal";
/// The key, in sled's default tree, of the index instance id (16 random bytes, new whenever the
/// chunk index is created or emptied).
const INSTANCE_KEY: &[u8] = b"cairn-index-instance";
/// The key, in sled's default tree, of the count of removals from the chunk index (u64 LE).
const REMOVALS_KEY: &[u8] = b"cairn-index-removals";
/// The sled tree of the files cache in layouts 2 and 3.
const OLD_FILES_TREE: &[u8] = b"files";

/// Entries indexed per sled batch by [`Index::add_pack`].
const ADD_BATCH: usize = 256;

/// How long opening the index waits for its file lock (see `Index::open_patiently`).
pub(super) const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The index of a repository, as the operations see it.
pub struct Index {
    db: sled::Db,
    chunks: sled::Tree,
    packs: sled::Tree,
    pack_ids: sled::Tree,
    path: Option<PathBuf>,
    /// Held while a pack is given its ordinal (packs are added from several writer threads).
    numbering: std::sync::Mutex<()>,
    /// The base level of the chunk index.
    base: base::Base,
}

fn ierr(e: sled::Error) -> Error {
    Error::from(e)
}

fn malformed() -> Error {
    Error::failed(
        "the local index holds a malformed entry",
        "move REPO/local/index aside; it is rebuilt from the packs",
    )
}

/// The index at `path` stayed locked by another handle for longer than the patience.
fn in_use(path: &Path) -> Error {
    Error::failed(
        format!(
            "the local index {} is in use by another cairn process",
            path.display()
        ),
        "wait for the other job to finish (`cairn jobs`)",
    )
}

/// How the index's sled database at `path` is configured.
fn config(path: &Path) -> sled::Config {
    // sled's own count of its node cache is about 2.4 times short of the heap it takes. Measured
    // (release builds, benches/RESULTS.md): 8 MiB saved 12 MB of peak RSS on a first backup of
    // one million files (190 against 202 MB) but took 67 s against 54 s; on `src` both sizes
    // peak at 89-94 MB in the same time. 16 MiB keeps the time.
    const CACHE: u64 = 16 << 20;
    sled::Config::new().path(path).cache_capacity(CACHE)
}

/// A `packs` value: ordinal u32 LE ‖ size u64 LE.
fn decode_pack_record(v: &[u8]) -> Option<(u32, u64)> {
    let ordinal = u32::from_le_bytes(v.get(..4)?.try_into().ok()?);
    let size = u64::from_le_bytes(v.get(4..)?.try_into().ok()?);
    Some((ordinal, size))
}

impl Index {
    /// Open (or create) the index at `path`; a corrupt index is removed and started afresh
    /// (it is a cache: [`Index::sync`] rebuilds it from the pack headers).
    /// Copies a rebuild moved aside and could not remove (or an older cairn left, as
    /// `index.corrupt-<seconds>`) are removed.
    pub fn open(path: &Path) -> Result<Self> {
        compact::finish_interrupted(path)?;
        match Self::open_patiently(path) {
            Ok(i) => {
                crate::fsutil::remove_corrupt_copies(path);
                // a layout 4 index (or one a crash left full) goes into the base file now
                i.added(0);
                Ok(i)
            }
            Err(OpenError::Locked) => Err(in_use(path)),
            Err(OpenError::Failed(e)) => {
                tracing::warn!(
                    "local index {} unreadable ({}); rebuilding it from the pack headers",
                    path.display(),
                    crate::text::escape(&e.to_string())
                );
                crate::fsutil::move_aside_corrupt(path)?;
                Self::open_at(path).map_err(ierr)
            }
        }
    }

    /// Open, waiting a little while the database's file lock is still held: the index is the
    /// lease holder's alone, but sled releases its lock some time after the last handle of an
    /// earlier job in the same process (`serve`: backup, then prune) is dropped.
    fn open_patiently(path: &Path) -> Result<Self, OpenError> {
        crate::sled_open::open_patiently(path, LOCK_PATIENCE, || Self::open_at(path))
    }

    fn open_at(path: &Path) -> sled::Result<Self> {
        let db = crate::sled_open::open(|| config(path))?;
        Self::from_db(db, Some(path.to_path_buf()))
    }

    /// A throw-away index in a temporary directory (verify of a target, recovery). It has no
    /// base file: every chunk stays in sled's level (merges need a path).
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(32 << 20)
            .open()
            .map_err(ierr)?;
        Self::from_db(db, None).map_err(ierr)
    }

    fn from_db(db: sled::Db, path: Option<PathBuf>) -> sled::Result<Self> {
        let index = Index {
            chunks: db.open_tree("chunks")?,
            packs: db.open_tree("packs")?,
            pack_ids: db.open_tree("pack_ids")?,
            db,
            path,
            numbering: std::sync::Mutex::new(()),
            base: base::Base::default(),
        };
        index.check_version()?;
        if index.db.get(INSTANCE_KEY)?.is_none() {
            index.new_instance()?;
        }
        index.open_base()?;
        Ok(index)
    }

    /// An index written in another layout (or before layouts had a version) is emptied: the chunk
    /// index is rebuilt from the pack headers by the next sync (unless only the files cache's
    /// layout changed), and the files cache starts afresh (the next backup reads every file once).
    fn check_version(&self) -> sled::Result<()> {
        let version = self.db.get(VERSION_KEY)?;
        if version.as_deref() == Some(&VERSION.to_le_bytes()[..]) {
            return Ok(());
        }
        let had_files = self
            .db
            .tree_names()
            .iter()
            .any(|n| &n[..] == OLD_FILES_TREE);
        let kept = VERSIONS_KEPT
            .iter()
            .any(|v| version.as_deref() == Some(&v.to_le_bytes()[..]));
        if kept {
            if had_files {
                tracing::info!(
                    "local index with its files cache in sled; the files cache starts afresh"
                );
            }
        } else {
            if version.is_some() || !self.packs.is_empty() || had_files {
                tracing::info!(
                    "local index in an older layout; rebuilding it from the pack headers"
                );
            }
            self.clear_chunks()?;
        }
        // (crash-safe: until the version is written, the next open drops the tree again)
        if had_files {
            self.db.drop_tree(OLD_FILES_TREE)?;
        }
        self.db.insert(VERSION_KEY, &VERSION.to_le_bytes())?;
        Ok(())
    }

    /// Forget every chunk and pack (the files cache stays, no longer trusted: the index is a
    /// new instance).
    fn clear_chunks(&self) -> sled::Result<()> {
        self.new_instance()?;
        self.drop_base()?;
        self.chunks.clear()?;
        self.packs.clear()?;
        self.pack_ids.clear()
    }

    /// Give the chunk index a new random instance id (written before it is emptied or filled).
    fn new_instance(&self) -> sled::Result<()> {
        let id: [u8; 16] = rand::random();
        self.db.insert(INSTANCE_KEY, &id)?;
        self.db.flush()?;
        Ok(())
    }

    /// Count a removal from the chunk index (before it is made).
    fn count_removal(&self) -> Result<()> {
        self.db
            .update_and_fetch(REMOVALS_KEY, |v| {
                let n = v
                    .and_then(|v| <[u8; 8]>::try_from(v).ok())
                    .map_or(0, u64::from_le_bytes);
                Some(n.wrapping_add(1).to_le_bytes().to_vec())
            })
            .map_err(ierr)?;
        Ok(())
    }

    /// The index instance and its count of removals: a files cache written under the same stamp
    /// names only chunks that are indexed still.
    pub fn stamp(&self) -> Result<Stamp> {
        let instance = self
            .db
            .get(INSTANCE_KEY)
            .map_err(ierr)?
            .and_then(|v| <[u8; 16]>::try_from(&v[..]).ok())
            .ok_or_else(malformed)?;
        let removals = self
            .db
            .get(REMOVALS_KEY)
            .map_err(ierr)?
            .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
            .map_or(0, u64::from_le_bytes);
        Ok(Stamp { instance, removals })
    }

    /// Where a chunk is, if indexed: sled's level first, then the base file.
    pub fn lookup(&self, id: &ChunkId) -> Result<Option<Location>> {
        let stored = match self.chunks.get(id.0).map_err(ierr)? {
            Some(v) => Stored::decode(&v).ok_or_else(malformed)?,
            None => match self.base_get(id)? {
                Some(s) => s,
                None => return Ok(None),
            },
        };
        let pack = self
            .pack_ids
            .get(stored.ordinal.to_be_bytes())
            .map_err(ierr)?
            .and_then(|p| <[u8; 32]>::try_from(&p[..]).ok())
            .ok_or_else(malformed)?;
        Ok(Some(stored.at(PackId(pack))))
    }

    /// Whether a chunk is indexed.
    pub fn contains(&self, id: &ChunkId) -> Result<bool> {
        Ok(self.chunks.contains_key(id.0).map_err(ierr)? || self.base_get(id)?.is_some())
    }

    /// Record a pack and its entries, in batches of [`ADD_BATCH`] entries: sled keeps every
    /// node version a batch makes until the batch ends (about 40 MB for the 3,000 entries of a
    /// 16 MiB pack of small files). A crash between batches leaves some of the pack's chunks
    /// unindexed, which only costs dedup (they are stored again), never a wrong location.
    /// Once sled's level holds [`base::MERGE_AT`] entries it is merged into the base file.
    pub fn add_pack(&self, pack: PackId, size: u64, header: &PackHeader) -> Result<()> {
        let ordinal = self.number(pack, size)?;
        self.add_to_level(
            header
                .entries
                .iter()
                .map(|e| Ok((e.id, Stored::of(ordinal, e)))),
        )
    }

    /// Insert `entries` into sled's level, in batches of [`ADD_BATCH`], then count them towards
    /// the next merge. An entry that is an error stops the inserts and is returned.
    fn add_to_level(
        &self,
        entries: impl IntoIterator<Item = Result<(ChunkId, Stored)>>,
    ) -> Result<()> {
        let mut entries = entries.into_iter().peekable();
        let mut added = 0;
        while entries.peek().is_some() {
            let mut batch = sled::Batch::default();
            for entry in entries.by_ref().take(ADD_BATCH) {
                let (id, stored) = entry?;
                batch.insert(&id.0, stored.encode());
                added += 1;
            }
            self.chunks.apply_batch(batch).map_err(ierr)?;
        }
        self.added(added);
        Ok(())
    }

    /// The ordinal of `pack`, given now (the next never given before) if it has none.
    fn number(&self, pack: PackId, size: u64) -> Result<u32> {
        let _held = self.numbering.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((ordinal, _)) = self.pack_record(&pack)? {
            return Ok(ordinal);
        }
        let next = self.reserve_ordinal_locked()?;
        self.record_pack(next, pack, size)?;
        Ok(next)
    }

    /// An ordinal never given before, for a pack recorded later ([`Index::record_pack`]).
    fn reserve_ordinal(&self) -> Result<u32> {
        let _held = self.numbering.lock().unwrap_or_else(|p| p.into_inner());
        self.reserve_ordinal_locked()
    }

    fn reserve_ordinal_locked(&self) -> Result<u32> {
        let next = match self.db.get(NEXT_ORDINAL_KEY).map_err(ierr)? {
            Some(v) => <[u8; 4]>::try_from(&v[..])
                .map(u32::from_le_bytes)
                .map_err(|_| malformed())?,
            None => match self.pack_ids.last().map_err(ierr)? {
                None => 0,
                Some((k, _)) => <[u8; 4]>::try_from(&k[..])
                    .ok()
                    .and_then(|k| u32::from_be_bytes(k).checked_add(1))
                    .ok_or_else(malformed)?,
            },
        };
        let after = next.checked_add(1).ok_or_else(malformed)?;
        self.db
            .insert(NEXT_ORDINAL_KEY, &after.to_le_bytes())
            .map_err(ierr)?;
        Ok(next)
    }

    /// Record `pack` under `ordinal` (one [`Index::reserve_ordinal`] gave).
    fn record_pack(&self, ordinal: u32, pack: PackId, size: u64) -> Result<()> {
        let mut record = [0u8; 12];
        record[..4].copy_from_slice(&ordinal.to_le_bytes());
        record[4..].copy_from_slice(&size.to_le_bytes());
        self.pack_ids
            .insert(ordinal.to_be_bytes(), &pack.0)
            .map_err(ierr)?;
        self.packs.insert(pack.0, &record).map_err(ierr)?;
        Ok(())
    }

    /// A pack's ordinal and size, if recorded.
    fn pack_record(&self, pack: &PackId) -> Result<Option<(u32, u64)>> {
        match self.packs.get(pack.0).map_err(ierr)? {
            None => Ok(None),
            Some(v) => decode_pack_record(&v).map(Some).ok_or_else(malformed),
        }
    }

    /// Forget a pack and those of its sled-level entries that still point at it (its entries in
    /// the base file are dead from now on: its ordinal leaves `pack_ids` and is never given again).
    pub fn remove_pack(&self, pack: PackId, header: &PackHeader) -> Result<()> {
        let Some((ordinal, _)) = self.pack_record(&pack)? else {
            return Ok(());
        };
        self.count_removal()?;
        for e in &header.entries {
            if let Some(v) = self.chunks.get(e.id.0).map_err(ierr)? {
                if Stored::decode(&v).is_some_and(|s| s.ordinal == ordinal) {
                    self.chunks.remove(e.id.0).map_err(ierr)?;
                }
            }
        }
        self.pack_ids.remove(ordinal.to_be_bytes()).map_err(ierr)?;
        self.packs.remove(pack.0).map_err(ierr)?;
        Ok(())
    }

    /// The indexed packs and their sizes.
    pub fn packs(&self) -> Result<Vec<(PackId, u64)>> {
        let mut out = Vec::new();
        for kv in self.packs.iter() {
            let (k, v) = kv.map_err(ierr)?;
            let (Ok(k), Some((_, size))) = (<[u8; 32]>::try_from(&k[..]), decode_pack_record(&v))
            else {
                continue;
            };
            out.push((PackId(k), size));
        }
        Ok(out)
    }

    /// Make every change durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map_err(ierr)?;
        Ok(())
    }

    /// Turn this index into one of layout 3 (the files cache in a sled tree `files`, one record
    /// per directory) as an older cairn left it: no files cache file.
    #[cfg(test)]
    pub(crate) fn pretend_layout_3(&self) {
        self.db.insert(VERSION_KEY, &3u32.to_le_bytes()).unwrap();
        let files = self.db.open_tree(OLD_FILES_TREE).unwrap();
        files.insert([5u8; 16], &[1, 0][..]).unwrap();
        self.clear_files().unwrap();
        self.flush().unwrap();
    }

    /// The file `name` beside the index's sled directory in `REPO/local` (none if temporary).
    fn beside(&self, name: &str) -> Option<PathBuf> {
        self.path.as_ref().map(|p| p.with_file_name(name))
    }

    /// Where the index lives on disk, if not temporary.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, MemoryBackend};
    use crate::format::pack::{BlobKind, PackEntry};
    use crate::id::KeyId;

    fn corrupt(path: &Path) {
        let mut stack = vec![path.to_path_buf()];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    std::fs::write(e.path(), vec![0xa5; 4096]).unwrap();
                }
            }
        }
    }

    /// Regression: two rebuilds within one second both moved the index to
    /// `index.corrupt-<seconds>`, and the second rename failed with "Directory not empty".
    #[test]
    fn a_corrupt_index_opened_twice_within_a_second_is_rebuilt_both_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        std::fs::create_dir_all(dir.path().join("index.corrupt-1")).unwrap();
        std::fs::write(dir.path().join("index.corrupt-1/db"), b"old debris").unwrap();
        let t = std::time::Instant::now();
        for round in 0..3u8 {
            let idx = Index::open(&path).unwrap();
            idx.number(PackId([round; 32]), 1).unwrap();
            idx.flush().unwrap();
            drop(idx);
            corrupt(&path);
        }
        let idx = Index::open(&path).unwrap();
        assert!(idx.packs().unwrap().is_empty(), "a fresh index");
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["index"], "corrupt copies left behind");
        // debris of an older cairn next to a healthy index goes at the next open
        drop(idx);
        std::fs::create_dir_all(dir.path().join("index.corrupt-1700000000/blobs")).unwrap();
        drop(Index::open(&path).unwrap());
        assert!(!dir.path().join("index.corrupt-1700000000").exists());
    }

    /// An index in an older layout (here: one without the version key) is emptied at open,
    /// never misread: its chunks are indexed again from the packs by the next sync.
    #[test]
    fn an_index_of_another_layout_is_emptied_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let idx = Index::open(&path).unwrap();
        idx.number(PackId([9u8; 32]), 1).unwrap();
        idx.flush().unwrap();
        drop(idx);
        let idx = Index::open(&path).unwrap();
        assert_eq!(idx.packs().unwrap().len(), 1, "same layout: kept");
        idx.db.remove(VERSION_KEY).unwrap();
        idx.flush().unwrap();
        drop(idx);
        let idx = Index::open(&path).unwrap();
        assert!(idx.packs().unwrap().is_empty());
    }

    /// An index of layouts 2 and 3 (the files cache in the sled tree `files`) keeps its chunk
    /// index and its instance, and loses that tree.
    #[test]
    fn an_index_with_its_files_cache_in_sled_keeps_its_chunks_and_drops_the_tree() {
        for old in VERSIONS_KEPT {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("index");
            let idx = Index::open(&path).unwrap();
            let stamp = idx.stamp().unwrap();
            idx.number(PackId([9u8; 32]), 1).unwrap();
            let files = idx.db.open_tree(OLD_FILES_TREE).unwrap();
            files.insert([5u8; 16], &b"postcard file"[..]).unwrap();
            idx.db.insert(VERSION_KEY, &old.to_le_bytes()).unwrap();
            idx.flush().unwrap();
            drop((idx, files));
            let idx = Index::open(&path).unwrap();
            assert_eq!(idx.packs().unwrap().len(), 1, "chunk index kept");
            assert_eq!(idx.stamp().unwrap(), stamp, "same instance");
            assert!(
                !idx.db.tree_names().iter().any(|n| &n[..] == OLD_FILES_TREE),
                "files tree dropped"
            );
            assert_eq!(
                idx.db.get(VERSION_KEY).unwrap().as_deref(),
                Some(&VERSION.to_le_bytes()[..])
            );
        }
    }

    /// Every way chunks leave the index changes its stamp: a pack removed counts a removal, a
    /// rebuild (and an emptied index of another layout) gives a new instance.
    #[test]
    fn removals_and_rebuilds_change_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let idx = Index::open(&path).unwrap();
        let s0 = idx.stamp().unwrap();
        let header = PackHeader {
            session: KeyId([0; 32]),
            entries: vec![PackEntry {
                id: ChunkId([1; 32]),
                kind: BlobKind::Data,
                offset: 0,
                length: 9,
                raw_len: 9,
                inner: None,
            }],
        };
        idx.add_pack(PackId([1; 32]), 9, &header).unwrap();
        assert_eq!(idx.stamp().unwrap(), s0, "adding removes nothing");
        idx.remove_pack(PackId([2; 32]), &header).unwrap();
        assert_eq!(idx.stamp().unwrap(), s0, "an unknown pack removes nothing");
        idx.remove_pack(PackId([1; 32]), &header).unwrap();
        let s1 = idx.stamp().unwrap();
        assert_eq!((s1.instance, s1.removals), (s0.instance, s0.removals + 1));
        idx.flush().unwrap();
        drop(idx);
        let idx = Index::open(&path).unwrap();
        assert_eq!(idx.stamp().unwrap(), s1, "kept across opens");
        idx.clear_chunks().unwrap();
        assert_ne!(idx.stamp().unwrap().instance, s1.instance);
        let s2 = idx.stamp().unwrap();
        idx.db.remove(VERSION_KEY).unwrap();
        idx.flush().unwrap();
        drop(idx);
        let idx = Index::open(&path).unwrap();
        assert_ne!(
            idx.stamp().unwrap().instance,
            s2.instance,
            "emptied: new instance"
        );
    }

    #[test]
    fn locations_name_their_pack_through_its_ordinal() {
        let idx = Index::temporary().unwrap();
        let entry = |id: u8, offset: u32| PackEntry {
            id: ChunkId([id; 32]),
            kind: BlobKind::Tree,
            offset,
            length: 99,
            raw_len: 7,
            inner: None,
        };
        let (a, b) = (PackId([5; 32]), PackId([6; 32]));
        let header = |e: Vec<PackEntry>| PackHeader {
            session: KeyId([0; 32]),
            entries: e,
        };
        let ha = header(vec![entry(1, 10), entry(2, 200_000)]);
        let hb = header(vec![entry(2, 30), entry(3, 40)]);
        idx.add_pack(a, 1000, &ha).unwrap();
        idx.add_pack(a, 1000, &ha).unwrap(); // again: keeps its ordinal
        idx.add_pack(b, 2000, &hb).unwrap();
        let at = |id: u8| idx.lookup(&ChunkId([id; 32])).unwrap();
        assert_eq!(at(1).unwrap().pack, a);
        assert_eq!(at(1).unwrap().offset, 10);
        assert_eq!(at(2).unwrap().pack, b, "the later pack's copy wins");
        assert_eq!(at(3).unwrap().pack, b);
        let mut packs = idx.packs().unwrap();
        packs.sort();
        assert_eq!(packs, [(a, 1000), (b, 2000)]);
        idx.remove_pack(b, &hb).unwrap();
        assert_eq!(at(1).unwrap().pack, a);
        assert_eq!((at(2), at(3)), (None, None));
        assert_eq!(idx.packs().unwrap(), [(a, 1000)]);
        // an ordinal is never given twice while its pack is indexed
        let c = PackId([7; 32]);
        idx.add_pack(c, 5, &header(vec![entry(4, 0)])).unwrap();
        assert_eq!(at(4).unwrap().pack, c);
        assert_eq!(at(1).unwrap().pack, a);
    }

    /// A pack of more entries than one sled batch takes is indexed whole.
    #[test]
    fn a_pack_larger_than_a_batch_is_indexed_whole() {
        let idx = Index::temporary().unwrap();
        let n = ADD_BATCH * 2 + 7;
        let entries = (0..n)
            .map(|i| PackEntry {
                id: ChunkId(*blake3::hash(&i.to_le_bytes()).as_bytes()),
                kind: BlobKind::Data,
                offset: i as u32 * 10,
                length: 10,
                raw_len: 5,
                inner: None,
            })
            .collect::<Vec<_>>();
        let header = PackHeader {
            session: KeyId([0; 32]),
            entries: entries.clone(),
        };
        idx.add_pack(PackId([1; 32]), 99, &header).unwrap();
        assert_eq!(idx.chunk_count(), n);
        for e in &entries {
            assert_eq!(idx.lookup(&e.id).unwrap().unwrap().offset, e.offset);
        }
    }

    #[test]
    fn pack_names() {
        let p = PackId([0xab; 32]);
        assert_eq!(pack_id_of(&p.object_name()), Some(p));
        assert_eq!(pack_id_of("data/cd/abab"), None);
    }

    #[test]
    fn sync_indexes_packs_and_rebuilds_when_stale() {
        let store = MemoryBackend::new();
        let pack = crate::format::pack::assemble(
            KeyId([0; 32]),
            &[(ChunkId([1; 32]), BlobKind::Data, 60, 5, 0)],
        );
        let id = PackId(*blake3::hash(&pack).as_bytes());
        store.write(&id.object_name(), &pack).unwrap();
        let idx = Index::temporary().unwrap();
        assert_eq!(idx.sync(&store).unwrap(), 1);
        assert_eq!(idx.lookup(&ChunkId([1; 32])).unwrap().unwrap().pack, id);
        assert_eq!(idx.sync(&store).unwrap(), 0);
        // a stale entry for a pack that is gone triggers a rebuild
        idx.number(PackId([9u8; 32]), 1).unwrap();
        assert_eq!(idx.sync(&store).unwrap(), 1);
        assert_eq!(idx.packs().unwrap().len(), 1);
    }
}

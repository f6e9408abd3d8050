//! Compaction: copying the index into a fresh sled database when its files have grown to many
//! times the bytes it holds (FORMAT.md section 10).
//!
//! sled 0.34 keeps old page versions in its log until a segment is less than half live, and
//! gives freed segments back only at the file's end, so an index rewritten by many backups
//! grows well past what it holds. A copy written once in key order holds the same entries in
//! far fewer bytes. The copy goes to `index.new`; only once it is complete and flushed is the
//! live index renamed to `index.old` and the copy to `index`. An interrupted swap is finished by
//! [`finish_interrupted`] at the next open: a complete `index.new` without an `index` is the
//! index; an `index.new` beside an `index` is an unfinished copy and removed.

use super::{ierr, Index};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Compact when the files take more than this many tenths of the bytes of keys and values held
/// (a fresh copy takes about twice as many, measured on `src`: benches/RESULTS.md).
const BLOAT_TENTHS: u64 = 30;
/// Never compact an index whose files take less than this (four of sled's segments: a copy
/// of the few hundred pack records and the chunks not yet merged takes one or two).
const MIN_BYTES: u64 = 4 * crate::sled_open::SEGMENT as u64;
/// Entries copied per sled batch.
const COPY_BATCH: usize = 512;
/// The live bytes are counted (a walk of the whole index) only once the files have grown by
/// this many tenths since they were last counted, so a backup that changes little does not
/// read the whole index at its end.
const RECOUNT_TENTHS: u64 = 12;

/// What [`Index::compact_if_bloated`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// Bytes of the index's files before.
    pub before: u64,
    /// Bytes of keys and values it holds.
    pub live: u64,
    /// Bytes of its files after (equal to `before` if not compacted).
    pub after: u64,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::io(path.display().to_string(), e)
}

/// The bytes of the files under `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Finish or undo a swap a crash interrupted (see the module documentation).
pub(super) fn finish_interrupted(path: &Path) -> Result<()> {
    let (fresh, old) = (sibling(path, ".new"), sibling(path, ".old"));
    if fresh.exists() {
        if path.exists() {
            std::fs::remove_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
        } else {
            std::fs::rename(&fresh, path).map_err(|e| io(path, e))?;
        }
    }
    if old.exists() {
        if path.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        } else {
            std::fs::rename(&old, path).map_err(|e| io(path, e))?;
        }
    }
    Ok(())
}

/// The node cache of the handles compaction counts and copies through. A walk of the whole
/// index pulls every node it passes into sled's cache, which holds them far beyond its nominal
/// size (measured: the count and copy at the end of a first backup of one million files took the
/// backup's peak heap to 173 MB through the job's 16 MiB cache); a small cache bounds that.
const WALK_CACHE: u64 = 1 << 20;

/// The database at `path` with the small cache of [`WALK_CACHE`].
fn walk_config(path: &Path) -> sled::Config {
    sled::Config::new().path(path).cache_capacity(WALK_CACHE)
}

/// Open the database at `path` (just closed by its job) with the small cache of [`WALK_CACHE`].
fn open_for_walk(path: &Path) -> Result<sled::Db> {
    crate::sled_open::open_patiently(path, super::LOCK_PATIENCE, || {
        crate::sled_open::open(|| walk_config(path))
    })
    .map_err(|e| match e {
        crate::sled_open::OpenError::Failed(e) => ierr(e),
        crate::sled_open::OpenError::Locked => super::in_use(path),
    })
}

/// Bytes of keys and values in every tree of `db` (reads the whole index, entry by entry).
fn live_bytes(db: &sled::Db) -> Result<u64> {
    let mut n = 0u64;
    for name in db.tree_names() {
        let tree = db.open_tree(&name).map_err(ierr)?;
        for kv in tree.iter() {
            let (k, v) = kv.map_err(ierr)?;
            n += (k.len() + v.len()) as u64;
        }
    }
    Ok(n)
}

/// Copy every tree of `db` into a fresh database at `to`, in key order, flushed.
fn copy_to(db: &sled::Db, to: &Path) -> Result<()> {
    let fresh = crate::sled_open::open(|| walk_config(to)).map_err(ierr)?;
    for name in db.tree_names() {
        let (from, into) = (
            db.open_tree(&name).map_err(ierr)?,
            fresh.open_tree(&name).map_err(ierr)?,
        );
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in from.iter() {
            let (k, v) = kv.map_err(ierr)?;
            batch.insert(k, v);
            n += 1;
            if n % COPY_BATCH == 0 {
                into.apply_batch(std::mem::take(&mut batch)).map_err(ierr)?;
            }
        }
        into.apply_batch(batch).map_err(ierr)?;
    }
    fresh.flush().map_err(ierr)?;
    Ok(())
}

impl Index {
    /// At the end of a backup or prune: if the index's files take more than three times the
    /// bytes it holds (and at least [`MIN_BYTES`]), copy it into a fresh database and put that
    /// in its place. Consumes the index (its database must be closed to be replaced); the count
    /// and the copy go through a handle of their own with a small cache ([`WALK_CACHE`]).
    pub fn compact_if_bloated(self) -> Result<Compaction> {
        let Some(path) = self.path.clone() else {
            return Ok(Compaction {
                before: 0,
                live: 0,
                after: 0,
            });
        };
        self.flush()?;
        let before = dir_bytes(&path);
        let counted = sibling(&path, ".counted");
        let last = std::fs::read_to_string(&counted)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        let unchanged = Compaction {
            before,
            live: 0,
            after: before,
        };
        if before < MIN_BYTES
            || last.is_some_and(|l| before.saturating_mul(10) < l.saturating_mul(RECOUNT_TENTHS))
        {
            return Ok(unchanged);
        }
        drop(self);
        let db = open_for_walk(&path)?;
        let live = live_bytes(&db)?;
        if before * 10 <= BLOAT_TENTHS.saturating_mul(live) {
            // best effort: without the note the next job counts again
            let _ = std::fs::write(&counted, before.to_string());
            return Ok(Compaction { live, ..unchanged });
        }
        let (fresh, old) = (sibling(&path, ".new"), sibling(&path, ".old"));
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
        }
        if let Err(e) = copy_to(&db, &fresh) {
            // best effort: a copy left behind is removed at the next open
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(e);
        }
        drop(db);
        std::fs::rename(&path, &old).map_err(|e| io(&path, e))?;
        std::fs::rename(&fresh, &path).map_err(|e| io(&path, e))?;
        if let Some(parent) = path.parent() {
            std::fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| io(parent, e))?;
        }
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        let after = dir_bytes(&path);
        let _ = std::fs::write(&counted, after.to_string());
        tracing::debug!("local index compacted: {before} → {after} bytes ({live} held)");
        Ok(Compaction {
            before,
            live,
            after,
        })
    }
}

impl Index {
    /// [`Index::compact_if_bloated`] at the end of a job that has done its work: a failure
    /// only costs disk space, so it is logged, not raised.
    /// The chunk index's sled level is merged into its base file first (if it holds entries or
    /// packs were removed since the base was written).
    pub fn compact_or_warn(self) {
        match self.merge_due() {
            Ok(true) => self.merge_or_warn(),
            Ok(false) => {}
            Err(e) => tracing::warn!("chunk index not merged: {e}"),
        }
        match self.compact_if_bloated() {
            Ok(c) if c.after < c.before => tracing::info!(
                "local index compacted from {} to {} bytes",
                c.before,
                c.after
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("local index not compacted: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::{BlobKind, PackEntry, PackHeader};
    use crate::id::{ChunkId, KeyId, PackId};

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
                    inner: None,
                })
                .collect(),
        }
    }

    /// An index grown by rewrites is copied into far fewer bytes, with every entry kept.
    #[test]
    fn a_bloated_index_is_compacted_and_keeps_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let idx = Index::open(&path).unwrap();
        // the same chunks indexed again and again under new packs: many rewrites, few entries
        for round in 0..12u8 {
            idx.add_pack(PackId([round; 32]), 9, &header(0..6000))
                .unwrap();
            if round < 11 {
                idx.remove_pack(PackId([round; 32]), &header(0..6000))
                    .unwrap();
            }
            idx.flush().unwrap();
        }
        let c = idx.compact_if_bloated().unwrap();
        assert!(c.before * 10 > BLOAT_TENTHS * c.live, "{c:?}");
        assert!(c.after * 2 < c.before, "{c:?}");
        assert!(!sibling(&path, ".new").exists() && !sibling(&path, ".old").exists());
        let idx = Index::open(&path).unwrap();
        assert_eq!(idx.chunk_count(), 6000);
        assert_eq!(idx.packs().unwrap(), [(PackId([11; 32]), 9)]);
        let at = idx.lookup(&header(77..78).entries[0].id).unwrap().unwrap();
        assert_eq!((at.pack, at.offset), (PackId([11; 32]), 77));
        // compact again: nothing to gain, left alone
        let c = idx.compact_if_bloated().unwrap();
        assert_eq!(c.after, c.before);
    }

    /// Once a job's chunks are merged into the base file, sled's level is empty but its files
    /// keep the pages: the copy at the end of the job gives them back (down to a segment or two).
    #[test]
    fn an_index_emptied_by_a_merge_is_copied_small() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let idx = Index::open(&path).unwrap();
        idx.add_pack(PackId([1; 32]), 9, &header(0..12_000))
            .unwrap();
        idx.flush().unwrap();
        let before = dir_bytes(&path);
        idx.compact_or_warn();
        let after = dir_bytes(&path);
        assert!(before > MIN_BYTES, "{before} bytes before");
        assert!(
            after <= MIN_BYTES / 2,
            "{before} bytes before, {after} after"
        );
        let idx = Index::open(&path).unwrap();
        assert_eq!(idx.chunk_count(), 12_000, "every chunk in the base");
    }

    /// The whole index is read to count its live bytes only once its files have grown since
    /// they were last counted: a backup that changes little does not walk the index.
    #[test]
    fn live_bytes_are_counted_again_only_after_the_files_grew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let idx = Index::open(&path).unwrap();
        idx.add_pack(PackId([1; 32]), 9, &header(0..40_000))
            .unwrap();
        idx.flush().unwrap();
        let c = idx.compact_if_bloated().unwrap();
        assert!(
            c.before >= MIN_BYTES && c.live > 0,
            "first job counts: {c:?}"
        );
        let idx = Index::open(&path).unwrap();
        let c = idx.compact_if_bloated().unwrap();
        assert_eq!(c.live, 0, "no growth, no count: {c:?}");
        let idx = Index::open(&path).unwrap();
        idx.add_pack(PackId([2; 32]), 9, &header(40_000..80_000))
            .unwrap();
        idx.flush().unwrap();
        let c = idx.compact_if_bloated().unwrap();
        assert!(c.live > 0, "grown, counted again: {c:?}");
    }

    /// A crash between the renames, or during the copy, never loses the index.
    #[test]
    fn an_interrupted_swap_is_finished_or_undone_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let idx = Index::open(&path).unwrap();
        idx.add_pack(PackId([1; 32]), 9, &header(0..10)).unwrap();
        copy_to(&idx.db, &sibling(&path, ".new")).unwrap();
        drop(idx);
        // crashed during a copy: the copy goes, the index stays
        let idx = Index::open(&path).unwrap();
        assert!(!sibling(&path, ".new").exists());
        assert_eq!(idx.chunk_count(), 10);
        copy_to(&idx.db, &sibling(&path, ".new")).unwrap();
        drop(idx);
        // crashed after the live index was moved aside: the complete copy is taken
        std::fs::rename(&path, sibling(&path, ".old")).unwrap();
        let idx = Index::open(&path).unwrap();
        assert_eq!(idx.chunk_count(), 10);
        assert!(!sibling(&path, ".new").exists() && !sibling(&path, ".old").exists());
    }
}

//! The files cache: for each directory, its files' size, times, inode and chunks when they were
//! last backed up, so an unchanged file is not read again.
//!
//! One record per directory ([`CachedDir`], encoded in [`record`](super::record)), keyed by a
//! 16-byte [`DirKey`] (a keyed hash of the key epoch and the directory's path within its service),
//! kept outside sled in one file, `REPO/local/files-cache`, sorted by key ([`cachefile`]: its
//! layout). A backup opens it ([`Index::files_cache`]), looks each directory up once (a binary
//! search of the sparse index in memory and one positioned read of a small block), and writes a
//! whole new file of the records of the directories it met, put in place only once the backup is
//! committed ([`Index::save_files_cache`]). A damaged or unknown file is a cache miss.

use super::blockfile::{self, BlockFile};
use super::cachefile::Stamp;
use super::Index;
use crate::error::{Error, Result};
use crate::format::tree::ChunkRef;
use crate::id::{ChunkId, KeyId};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// A file's state when it was last backed up, to skip reading it again if unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// Size.
    pub size: u64,
    /// mtime (ns since epoch).
    pub mtime: i128,
    /// ctime (ns since epoch).
    pub ctime: i128,
    /// Inode number.
    pub ino: u64,
    /// Content.
    pub chunks: Vec<ChunkRef>,
}

/// The cached files of one directory, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedDir {
    /// Sorted by name, names unique (once [`CachedDir::sort`] ran or as decoded).
    pub(super) files: Vec<(Vec<u8>, CachedFile)>,
    /// The id of the directory's tree blob when it was backed up (records of version 2).
    pub tree: Option<ChunkId>,
}

impl CachedDir {
    /// The cached state of the file `name`.
    pub fn get(&self, name: &[u8]) -> Option<&CachedFile> {
        self.files
            .binary_search_by(|(n, _)| n.as_slice().cmp(name))
            .ok()
            .map(|i| &self.files[i].1)
    }

    /// The cached state of the file `name`, to change.
    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut CachedFile> {
        self.files
            .binary_search_by(|(n, _)| n.as_slice().cmp(name))
            .ok()
            .map(|i| &mut self.files[i].1)
    }

    /// Add a file (call [`CachedDir::sort`] before storing).
    pub fn push(&mut self, name: &[u8], f: CachedFile) {
        self.files.push((name.to_vec(), f));
    }

    /// Put the files in name order, dropping repeated names.
    pub fn sort(&mut self) {
        self.files.sort_by(|a, b| a.0.cmp(&b.0));
        self.files.dedup_by(|a, b| a.0 == b.0);
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The files cache key of one directory: the first 16 bytes of a blake3 key derivation over the
/// key epoch and the directory's cache path (service name ‖ (`/` ‖ entry name)…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirKey(pub [u8; 16]);

impl DirKey {
    /// The key of the directory at `path` (its cache path) under key epoch `epoch`.
    pub fn new(epoch: &KeyId, path: &[u8]) -> DirKey {
        let mut h = blake3::Hasher::new_derive_key("cairn 2026-12 directory cache key");
        h.update(&epoch.0);
        h.update(path);
        let mut k = [0u8; 16];
        k.copy_from_slice(&h.finalize().as_bytes()[..16]);
        DirKey(k)
    }
}

/// The name of the files cache file, beside the index's directory.
const FILE_NAME: &str = "files-cache";

/// A files cache up to this size is read whole into memory when a backup opens it, instead of
/// one block per directory looked up (a re-backup of `src`, 15,860 directories and a 3.8 MB
/// cache: 18,118 reads and checks of a block, 10.9 % of its CPU). 53,000 files take 3.8 MB.
const HELD_MAX: u64 = 8 << 20;

/// The files cache of the last complete backup, open for lookups.
pub struct FilesCache {
    open: Option<BlockFile<DirKey>>,
    trusted: bool,
    stamp: Stamp,
    warned: AtomicBool,
}

impl FilesCache {
    /// No cache: every lookup misses.
    pub fn empty(stamp: Stamp) -> FilesCache {
        FilesCache {
            open: None,
            trusted: false,
            stamp,
            warned: AtomicBool::new(false),
        }
    }

    /// Whether every chunk its records name is known to be indexed still: it was written by a
    /// backup committed with this index instance, and no chunk left the index since.
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    /// The index state when this cache was opened (what the next cache file records).
    pub fn stamp(&self) -> Stamp {
        self.stamp
    }

    /// The record of a directory (empty if none, or if its block is damaged: then logged once).
    pub fn get(&self, key: &DirKey) -> CachedDir {
        let Some(file) = &self.open else {
            return CachedDir::default();
        };
        match file.get_with(key, CachedDir::decode) {
            Ok(d) => d.flatten().unwrap_or_default(),
            Err(()) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the files cache has a damaged block; the files it names are read again"
                    );
                }
                CachedDir::default()
            }
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.open.as_ref().map_or(0, |f| {
            f.blocks()
                .flatten()
                .map(|b| super::cachefile::records::<DirKey>(&b).flatten().count())
                .sum()
        })
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.open.is_none()
    }

    /// Whether it is held in memory (lookups read no block).
    #[cfg(test)]
    fn is_held(&self) -> bool {
        self.open.as_ref().is_some_and(|f| f.is_held())
    }
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::failed(
        format!("cannot write the files cache {}: {e}", path.display()),
        "free space on the file system of REPO/local; the next backup reads every file again",
    )
}

impl Index {
    /// Open the files cache for a backup (an empty one if there is none, or if it is damaged or
    /// of another layout: logged, never trusted).
    pub fn files_cache(&self) -> Result<FilesCache> {
        let stamp = self.stamp()?;
        let mut cache = FilesCache::empty(stamp);
        let Some(path) = self.beside(FILE_NAME) else {
            return Ok(cache);
        };
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => {
                tracing::warn!(
                    "files cache {} unreadable ({e}); every file is read again",
                    path.display()
                );
                return Ok(cache);
            }
        };
        match BlockFile::<DirKey>::open(file).map(|f| f.held(HELD_MAX)) {
            Some(f) => {
                cache.trusted = f.stamp() == stamp;
                cache.open = (!f.is_empty()).then_some(f);
            }
            None => tracing::warn!(
                "files cache {} damaged or of another layout; every file is read again",
                path.display()
            ),
        }
        Ok(cache)
    }

    /// Write the files cache of a committed backup: `records` (ascending keys; a repeated key is
    /// skipped) into a new file, synced, then renamed over the old one. `stamp` is the index state
    /// the backup started from ([`FilesCache::stamp`]). Returns the number of records.
    pub fn save_files_cache(
        &self,
        stamp: Stamp,
        records: impl Iterator<Item = Result<(DirKey, Vec<u8>)>>,
    ) -> Result<u64> {
        let Some(path) = self.beside(FILE_NAME) else {
            return Ok(0);
        };
        let tmp = path.with_file_name(format!("{FILE_NAME}.new"));
        let (n, _) = blockfile::write(&tmp, stamp, records, |e| write_error(&tmp, e))?;
        blockfile::put_in_place(&tmp, &path, |e| write_error(&path, e))?;
        Ok(n)
    }

    /// Drop the whole files cache (after a key rotation: chunk ids change).
    pub fn clear_files(&self) -> Result<()> {
        let Some(path) = self.beside(FILE_NAME) else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(path.display().to_string(), e)),
        }
    }

    /// Number of files cache records, one per directory (reads the whole file: for tests and
    /// diagnostics).
    pub fn cached_dir_count(&self) -> usize {
        self.files_cache().map_or(0, |c| c.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::cachefile::{self, HEADER_LEN};
    use super::*;

    fn dir_of(ino: u64) -> CachedDir {
        let mut d = CachedDir::default();
        d.push(
            b"f",
            CachedFile {
                size: 0,
                mtime: 1,
                ctime: 2,
                ino,
                chunks: vec![],
            },
        );
        d
    }

    #[test]
    fn keys_depend_on_epoch_and_path() {
        let (a, b) = (KeyId([1; 32]), KeyId([2; 32]));
        assert_eq!(DirKey::new(&a, b"svc/x"), DirKey::new(&a, b"svc/x"));
        assert_ne!(DirKey::new(&a, b"svc/x"), DirKey::new(&b, b"svc/x"));
        assert_ne!(DirKey::new(&a, b"svc/x"), DirKey::new(&a, b"svc/y"));
    }

    /// A new index in a temporary directory, its files cache 3,000 directory records under
    /// epoch `e` (many blocks), and those records in key order.
    fn index_of_3000(e: &KeyId) -> (tempfile::TempDir, Index, Vec<(DirKey, CachedDir)>) {
        let d = tempfile::tempdir().unwrap();
        let idx = Index::open(&d.path().join("index")).unwrap();
        let mut recs: Vec<(DirKey, CachedDir)> = (0..3000u64)
            .map(|i| (DirKey::new(e, &i.to_le_bytes()), dir_of(i * 1000)))
            .collect();
        recs.sort_by_key(|r| r.0);
        let stamp = idx.stamp().unwrap();
        let n = idx
            .save_files_cache(stamp, recs.iter().map(|(k, d)| Ok((*k, d.encode()))))
            .unwrap();
        assert_eq!(n, 3000);
        (d, idx, recs)
    }

    /// Records saved are found by key across many blocks, a missing key misses, and the file
    /// decodes whole to exactly what was saved.
    #[test]
    fn saved_records_are_found_by_key_across_blocks() {
        let e = KeyId([1; 32]);
        let (d, idx, recs) = index_of_3000(&e);
        let c = idx.files_cache().unwrap();
        assert!(c.trusted());
        assert!(c.is_held(), "a cache under HELD_MAX is read whole");
        for (k, d) in recs.iter().step_by(7) {
            assert_eq!(&c.get(k), d);
        }
        assert_eq!(c.get(&DirKey::new(&e, b"none")), CachedDir::default());
        let bytes = std::fs::read(d.path().join(FILE_NAME)).unwrap();
        assert!(bytes.len() / cachefile::BLOCK_TARGET > 5, "many blocks");
        assert_eq!(cachefile::decode_file(&bytes).unwrap(), recs);
        assert_eq!(idx.cached_dir_count(), 3000);
        idx.clear_files().unwrap();
        assert_eq!(idx.cached_dir_count(), 0);
    }

    /// A cache held in memory answers every lookup as reading a block per lookup does, reads no
    /// block once held, and is not held (so damage stays per block) if a block is damaged or it
    /// is over the size given.
    #[test]
    fn a_held_cache_answers_as_block_reads_do_and_reads_no_block() {
        use super::super::blockfile::BlockFile;
        let e = KeyId([3; 32]);
        let (d, _idx, recs) = index_of_3000(&e);
        let path = d.path().join(FILE_NAME);
        let open = || BlockFile::<DirKey>::open(File::open(&path).unwrap()).unwrap();
        let (read, held, small) = (open(), open().held(u64::MAX), open().held(1000));
        let get = |f: &BlockFile<DirKey>, k| f.get_with(k, CachedDir::decode).map(Option::flatten);
        let missing = DirKey::new(&e, b"none");
        for k in recs.iter().map(|r| &r.0).chain([&missing]) {
            assert_eq!(get(&held, k), get(&read, k));
        }
        // damage the first block in place (the same file the three have open)
        let first = &recs[0].0;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"XXXX", HEADER_LEN as u64 + 40).unwrap();
        assert_eq!(get(&read, first), Err(()));
        assert_eq!(get(&small, first), Err(()), "over its size: not held");
        assert_eq!(
            get(&held, first),
            Ok(Some(recs[0].1.clone())),
            "a block was read"
        );
        // opened now, a damaged block is not held: the damage stays that block's
        let damaged = open().held(u64::MAX);
        assert_eq!(get(&damaged, first), Err(()));
        let last = recs.last().unwrap();
        assert_eq!(get(&damaged, &last.0), Ok(Some(last.1.clone())));
    }

    /// A truncated, bit-flipped or other-version file is a miss (or, for a flipped block, a miss
    /// of that block's records only), never a panic and never a wrong record.
    #[test]
    fn a_damaged_files_cache_is_a_miss() {
        let d = tempfile::tempdir().unwrap();
        let idx = Index::open(&d.path().join("index")).unwrap();
        let recs: Vec<(DirKey, CachedDir)> = (0..200u8)
            .map(|i| (DirKey([i; 16]), dir_of(i.into())))
            .collect();
        let save = || {
            idx.save_files_cache(
                idx.stamp().unwrap(),
                recs.iter().map(|(k, d)| Ok((*k, d.encode()))),
            )
            .unwrap()
        };
        let path = d.path().join(FILE_NAME);
        save();
        let good = std::fs::read(&path).unwrap();
        let mut damaged = Vec::new();
        damaged.push(good[..good.len() - 1].to_vec()); // truncated
        let mut v = good.clone();
        v[8] = 2; // another version
        damaged.push(v);
        for at in [0, 20, 30, 40, 50, 70, 300, good.len() - 10] {
            let mut v = good.clone();
            v[at] ^= 0x10;
            damaged.push(v);
        }
        for (i, bad) in damaged.iter().enumerate() {
            std::fs::write(&path, bad).unwrap();
            let c = idx.files_cache().unwrap();
            for (k, rec) in &recs {
                let got = c.get(k);
                assert!(got == *rec || got.is_empty(), "damage {i}: a wrong record");
            }
            assert_eq!(cachefile::decode_file(bad), None, "damage {i}");
        }
        // a flipped record byte costs its block, not the file
        let mut v = good.clone();
        v[HEADER_LEN + 40] ^= 1;
        std::fs::write(&path, &v).unwrap();
        let c = idx.files_cache().unwrap();
        assert!(c.get(&recs[0].0).is_empty());
        assert_eq!(c.get(&recs[199].0), recs[199].1);
    }
}

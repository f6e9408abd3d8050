//! The files cache: for each directory, its files' size, times, inode and chunks when they were
//! last backed up, so an unchanged file is not read again.
//!
//! One record per directory ([`CachedDir`], encoded in [`record`](super::record)), keyed by a
//! 16-byte [`DirKey`] (a keyed hash of the key epoch and the directory's path within its service):
//! the walk reads a directory's record once when it enters it and writes it once when it is done
//! with it (only if it changed). After a complete backup, [`Index::retain_dirs`] drops the records
//! of directories that no longer exist (or hold no file any more).

use super::{ierr, Index};
use crate::error::Result;
use crate::format::tree::ChunkRef;
use crate::id::KeyId;

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
}

impl CachedDir {
    /// The cached state of the file `name`.
    pub fn get(&self, name: &[u8]) -> Option<&CachedFile> {
        self.files
            .binary_search_by(|(n, _)| n.as_slice().cmp(name))
            .ok()
            .map(|i| &self.files[i].1)
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

impl Index {
    /// The files cache record of a directory (empty if none, or if it does not decode).
    pub fn cached_dir(&self, key: &DirKey) -> Result<CachedDir> {
        Ok(self
            .files
            .get(key.0)
            .map_err(ierr)?
            .and_then(|v| CachedDir::decode(&v))
            .unwrap_or_default())
    }

    /// Store a directory's record `new` (read earlier as `old`): written only if it differs,
    /// removed if the directory holds no file any more. Whether a record remains.
    pub fn cache_dir(&self, key: &DirKey, mut new: CachedDir, old: &CachedDir) -> Result<bool> {
        new.sort();
        if new.is_empty() {
            if !old.is_empty() {
                self.files.remove(key.0).map_err(ierr)?;
            }
            return Ok(false);
        }
        if &new != old {
            self.files.insert(key.0, new.encode()).map_err(ierr)?;
        }
        Ok(true)
    }

    /// Keep only the records of `seen` (the directories a complete backup met); returns how
    /// many were dropped. Without this, the cache would keep every directory that ever existed.
    pub fn retain_dirs(&self, mut seen: Vec<DirKey>) -> Result<usize> {
        seen.sort_unstable();
        let mut dropped = 0;
        for k in self.files.iter().keys() {
            let k = k.map_err(ierr)?;
            let keep =
                <[u8; 16]>::try_from(&k[..]).is_ok_and(|a| seen.binary_search(&DirKey(a)).is_ok());
            if !keep {
                self.files.remove(k).map_err(ierr)?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Drop the whole files cache (after a key rotation: chunk ids change).
    pub fn clear_files(&self) -> Result<()> {
        self.files.clear().map_err(ierr)
    }

    /// Number of files cache records, one per directory (walks the tree: for tests and
    /// diagnostics).
    pub fn cached_dir_count(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_of(size: u64) -> CachedDir {
        let mut d = CachedDir::default();
        d.push(
            b"f",
            CachedFile {
                size,
                mtime: 1,
                ctime: 2,
                ino: 3,
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

    #[test]
    fn retain_drops_exactly_the_directories_not_seen() {
        let idx = Index::temporary().unwrap();
        let e = KeyId([1; 32]);
        let keys: Vec<DirKey> = (0..50u8).map(|i| DirKey::new(&e, &[i])).collect();
        for (i, k) in keys.iter().enumerate() {
            idx.cache_dir(k, dir_of(i as u64), &CachedDir::default())
                .unwrap();
        }
        let seen: Vec<DirKey> = keys.iter().copied().step_by(2).collect();
        assert_eq!(idx.retain_dirs(seen).unwrap(), 25);
        for (i, k) in keys.iter().enumerate() {
            let got = idx.cached_dir(k).unwrap();
            let want = if i % 2 == 0 {
                dir_of(i as u64)
            } else {
                CachedDir::default()
            };
            assert_eq!(got, want, "record {i}");
        }
        assert_eq!(idx.cached_dir_count(), 25);
    }

    #[test]
    fn a_directory_left_without_files_loses_its_record() {
        let idx = Index::temporary().unwrap();
        let k = DirKey([3; 16]);
        assert!(idx.cache_dir(&k, dir_of(1), &CachedDir::default()).unwrap());
        let old = idx.cached_dir(&k).unwrap();
        assert_eq!(old, dir_of(1));
        assert!(!idx.cache_dir(&k, CachedDir::default(), &old).unwrap());
        assert_eq!(idx.cached_dir_count(), 0);
    }
}

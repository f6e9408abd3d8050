//! The files cache: a file's size, times, inode and chunks when it was last backed up, so an
//! unchanged file is not read again.
//!
//! Entries are keyed by a 16-byte [`FileKey`] (a keyed hash of the key epoch and the file's path
//! within its service), not by the path itself: paths are long, and the epoch in the key makes a
//! key rotation's new chunk ids miss old entries without storing the epoch in each one. After a
//! complete backup, [`Index::retain_files`] drops the entries of files that no longer exist.

use super::{ierr, Index};
use crate::error::Result;
use crate::format::tree::ChunkRef;
use crate::id::KeyId;
use serde::{Deserialize, Serialize};

/// A file's state when it was last backed up, to skip reading it again if unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The files cache key of one file: the first 16 bytes of a blake3 key derivation over the key
/// epoch and the file's cache path (service name ‖ (`/` ‖ entry name)…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileKey(pub [u8; 16]);

impl FileKey {
    /// The key of the file at `path` (its cache path) under key epoch `epoch`.
    pub fn new(epoch: &KeyId, path: &[u8]) -> FileKey {
        let mut h = blake3::Hasher::new_derive_key("cairn 2026-12 files cache key");
        h.update(&epoch.0);
        h.update(path);
        let mut k = [0u8; 16];
        k.copy_from_slice(&h.finalize().as_bytes()[..16]);
        FileKey(k)
    }
}

impl Index {
    /// The files cache entry of a file, if any (an entry that does not decode counts as none).
    pub fn cached_file(&self, key: &FileKey) -> Result<Option<CachedFile>> {
        Ok(self
            .files
            .get(key.0)
            .map_err(ierr)?
            .and_then(|v| postcard::from_bytes(&v).ok()))
    }

    /// Store a files cache entry.
    pub fn cache_file(&self, key: &FileKey, f: &CachedFile) -> Result<()> {
        let v = postcard::to_allocvec(f).unwrap_or_default();
        self.files.insert(key.0, v).map_err(ierr)?;
        Ok(())
    }

    /// Keep only the entries of `seen` (the files a complete backup met); returns how many were
    /// dropped. Without this, the cache would keep every file that ever existed.
    pub fn retain_files(&self, mut seen: Vec<FileKey>) -> Result<usize> {
        seen.sort_unstable();
        let mut dropped = 0;
        for k in self.files.iter().keys() {
            let k = k.map_err(ierr)?;
            let keep =
                <[u8; 16]>::try_from(&k[..]).is_ok_and(|a| seen.binary_search(&FileKey(a)).is_ok());
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

    /// Number of files cache entries (walks the tree: for tests and diagnostics).
    pub fn cached_file_count(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: u64) -> CachedFile {
        CachedFile {
            size,
            mtime: 1,
            ctime: 2,
            ino: 3,
            chunks: vec![],
        }
    }

    #[test]
    fn keys_depend_on_epoch_and_path() {
        let (a, b) = (KeyId([1; 32]), KeyId([2; 32]));
        assert_eq!(FileKey::new(&a, b"svc/x"), FileKey::new(&a, b"svc/x"));
        assert_ne!(FileKey::new(&a, b"svc/x"), FileKey::new(&b, b"svc/x"));
        assert_ne!(FileKey::new(&a, b"svc/x"), FileKey::new(&a, b"svc/y"));
    }

    #[test]
    fn retain_drops_exactly_the_files_not_seen() {
        let idx = Index::temporary().unwrap();
        let e = KeyId([1; 32]);
        let keys: Vec<FileKey> = (0..50u8).map(|i| FileKey::new(&e, &[i])).collect();
        for (i, k) in keys.iter().enumerate() {
            idx.cache_file(k, &entry(i as u64)).unwrap();
        }
        let seen: Vec<FileKey> = keys.iter().copied().step_by(2).collect();
        assert_eq!(idx.retain_files(seen).unwrap(), 25);
        for (i, k) in keys.iter().enumerate() {
            let got = idx.cached_file(k).unwrap();
            assert_eq!(got, (i % 2 == 0).then(|| entry(i as u64)), "entry {i}");
        }
        assert_eq!(idx.cached_file_count(), 25);
    }
}

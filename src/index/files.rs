//! The files cache: a file's size, times, inode and chunks when it was last backed up, so an
//! unchanged file is not read again.

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
    /// Key epoch the chunk ids belong to.
    pub epoch: KeyId,
    /// Content.
    pub chunks: Vec<ChunkRef>,
}

impl Index {
    /// The files cache entry for a key (service + path).
    pub fn cached_file(&self, key: &[u8]) -> Result<Option<CachedFile>> {
        Ok(self
            .files
            .get(key)
            .map_err(ierr)?
            .and_then(|v| postcard::from_bytes(&v).ok()))
    }

    /// Store a files cache entry.
    pub fn cache_file(&self, key: &[u8], f: &CachedFile) -> Result<()> {
        let v = postcard::to_allocvec(f).unwrap_or_default();
        self.files.insert(key, v).map_err(ierr)?;
        Ok(())
    }

    /// Drop the whole files cache (after a key rotation: chunk ids change).
    pub fn clear_files(&self) -> Result<()> {
        self.files.clear().map_err(ierr)
    }
}

//! The files cache during a backup: the last backup's records, read as the walk enters each
//! directory ([`FilesCache`]), and the records this backup makes, collected as sorted runs
//! ([`super::refs`]) and written as the next files cache once the backup is committed
//! ([`NewCache::save`]). A backup that fails leaves the old file in place; directories it did not
//! meet are simply not in the new one.

use super::refs::{read_or_end, RunItem, RunLog, Runs};
use crate::error::Result;
use crate::index::{CachedDir, DirKey, FilesCache, Index, Stamp};
use std::io::BufRead;
use std::sync::Mutex;

/// Bytes of records held in memory before a run is written out (4 MiB).
const RUN_BYTES: usize = 4 << 20;

/// A directory's new record: its key and encoded bytes, ordered (and equal) by key alone.
#[derive(Debug, Clone)]
pub(super) struct DirEntry {
    key: DirKey,
    bytes: Vec<u8>,
}

impl PartialEq for DirEntry {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}

impl Eq for DirEntry {}

impl PartialOrd for DirEntry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for DirEntry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

impl RunItem for DirEntry {
    fn weight(&self) -> usize {
        self.bytes.len() + 24
    }

    /// key ‖ u32 LE length ‖ bytes
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key.0);
        out.extend_from_slice(&(self.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.bytes);
    }

    fn take(r: &mut dyn BufRead) -> std::io::Result<Option<Self>> {
        let mut key = [0u8; 16];
        if !read_or_end(r, &mut key)? {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
        r.read_exact(&mut bytes)?;
        Ok(Some(DirEntry {
            key: DirKey(key),
            bytes,
        }))
    }
}

/// The files cache of a backup: the old one to read, the new one being made.
pub(super) struct BackupCache {
    old: FilesCache,
    new: Mutex<RunLog<DirEntry>>,
}

/// The records a backup made, to be saved once it is committed.
pub(crate) struct NewCache {
    stamp: Stamp,
    runs: Runs<DirEntry>,
}

impl BackupCache {
    /// The index's files cache, with new records spilled beside the index (the local state).
    /// An index whose state cannot be read gives an empty cache, never trusted (logged).
    pub(super) fn open(index: &Index) -> Self {
        let mut log = RunLog::new(RUN_BYTES);
        if let Some(dir) = index.path().and_then(|p| p.parent()) {
            log.spill_to(dir.to_path_buf());
        }
        let old = index.files_cache().unwrap_or_else(|e| {
            tracing::warn!("files cache not used: {e}");
            FilesCache::empty(Stamp::default())
        });
        BackupCache {
            old,
            new: Mutex::new(log),
        }
    }

    /// The last backup's record of a directory.
    pub(super) fn old(&self, key: &DirKey) -> CachedDir {
        self.old.get(key)
    }

    /// Whether the chunks the old records name are all indexed still (no probe needed).
    pub(super) fn trusted(&self) -> bool {
        self.old.trusted()
    }

    /// Record a directory's new record (none if it holds no file).
    pub(super) fn put(&self, key: DirKey, mut dir: CachedDir) -> Result<()> {
        dir.sort();
        if dir.is_empty() {
            return Ok(());
        }
        let entry = DirEntry {
            key,
            bytes: dir.encode(),
        };
        drop(dir);
        self.new
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry)
    }

    /// The records made (the log starts afresh).
    pub(super) fn take(&self) -> Result<NewCache> {
        let mut log = self.new.lock().unwrap_or_else(|p| p.into_inner());
        let runs = std::mem::replace(&mut *log, RunLog::new(1)).finish()?;
        Ok(NewCache {
            stamp: self.old.stamp(),
            runs,
        })
    }
}

impl NewCache {
    /// Write the new files cache in place of the old (after the backup is committed); a failure
    /// only costs the next backup reading files again, so it is logged, not raised.
    pub(crate) fn save(self, index: &Index) {
        let records = self.runs.iter().map(|r| r.map(|e| (e.key, e.bytes)));
        match index.save_files_cache(self.stamp, records) {
            Ok(n) => tracing::debug!("files cache: {n} directory records written"),
            Err(e) => tracing::warn!("files cache not written: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::CachedFile;

    /// Records spilled in many runs come back in key order, each key once.
    #[test]
    fn records_spilled_in_runs_come_back_sorted() {
        let d = tempfile::tempdir().unwrap();
        let mut log = RunLog::new(500);
        log.spill_to(d.path().to_path_buf());
        let mut want = Vec::new();
        for i in 0..300u32 {
            let key = DirKey(
                *blake3::hash(&i.to_le_bytes())
                    .as_bytes()
                    .first_chunk()
                    .unwrap(),
            );
            let mut dir = CachedDir::default();
            dir.push(
                b"f",
                CachedFile {
                    size: 0,
                    mtime: i.into(),
                    ctime: 1,
                    ino: 1,
                    chunks: vec![],
                },
            );
            let bytes = dir.encode();
            want.push((key, bytes.clone()));
            log.push(DirEntry { key, bytes }).unwrap();
        }
        want.sort();
        let runs = log.finish().unwrap();
        assert!(runs.count().unwrap() == 300);
        let got: Vec<_> = runs
            .iter()
            .map(|r| r.map(|e| (e.key, e.bytes)).unwrap())
            .collect();
        assert_eq!(got, want);
    }
}

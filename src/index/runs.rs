//! Sorted runs a sync spills beside the base file (FORMAT.md section 10.2), so that a sync
//! writes the base once however many packs it indexes.
//!
//! A sync stages at most [`super::sync::BULK_AT`] entries in memory. Writing each such batch
//! into the base rewrote the whole base every time: a rebuild of N entries wrote about
//! N² / (2 × 128Ki) entries, 30 GB at ten million chunks. Each full batch is now sorted and
//! written as a run (`chunks.run<n>`, the base file's own format), and the base is written once
//! at the end from the old base, sled's level, the runs and the last batch. Once
//! [`RUNS_MAX`] runs of one size are waiting they are merged into one of the next size, so a
//! sync of N entries holds fewer than [`RUNS_MAX`] runs of each of log_16(N / 128Ki) sizes and
//! writes each entry once per size.
//!
//! Runs live only while their sync does: they are removed when it ends, and any a crash left
//! are removed when the index is next opened.

use super::base::{io, unreadable, Union, FILE_NAME};
use super::blockfile::{self, BlockFile};
use super::sync::Bulk;
use super::Index;
use crate::error::Result;
use crate::id::ChunkId;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Runs waiting before they are merged into one. (Small in unit tests, so that they cross it.)
pub(super) const RUNS_MAX: usize = if cfg!(test) { 3 } else { 16 };

#[cfg(test)]
thread_local! {
    /// The entries this thread's syncs wrote into runs.
    pub(super) static RUN_RECORDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A sorted run on disk, removed when dropped.
pub(super) struct Run {
    path: PathBuf,
    pub(super) file: BlockFile<ChunkId>,
    /// 0 for a spilled batch; a merge of [`RUNS_MAX`] runs of level L is of level L + 1.
    level: u32,
}

impl Drop for Run {
    fn drop(&mut self) {
        // best effort: one left behind goes at the next open
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The name of run `n` beside the base file.
fn run_name(n: u32) -> String {
    format!("{FILE_NAME}.run{n}")
}

impl Index {
    /// Move the staged entries of `bulk` into a sorted run on disk, then merge [`RUNS_MAX`] runs
    /// of one size into one of the next for as long as that many wait. A temporary index, or one
    /// whose run cannot be written, indexes the staged packs now instead ([`Index::add_bulk`]).
    pub(super) fn spill(&self, bulk: &mut Bulk) -> Result<()> {
        bulk.sort_entries();
        let n = bulk.next_run();
        let records = bulk.entries.iter().map(|(k, s)| Ok((*k, s.encode())));
        match self.write_run(n, 0, records) {
            Ok(Some(run)) => {
                bulk.entries.clear();
                bulk.runs.push(run);
            }
            Ok(None) => return self.add_bulk(std::mem::take(bulk)),
            Err(e) => {
                tracing::warn!("staged chunk index entries not spilled ({e}); indexing them now");
                return self.add_bulk(std::mem::take(bulk));
            }
        }
        // as a counter in base RUNS_MAX carries: the newest runs are of the lowest level, and
        // RUNS_MAX of one level become one of the next, so each entry is rewritten once per level
        while let Some(level) = bulk.runs.last().map(|r| r.level) {
            let same = bulk.runs.iter().rev().take_while(|r| r.level == level);
            if same.count() < RUNS_MAX {
                break;
            }
            let tail: Vec<Run> = bulk.runs.drain(bulk.runs.len() - RUNS_MAX..).collect();
            let n = bulk.next_run();
            match self.write_run(n, level + 1, Union::of_runs(&tail)) {
                Ok(Some(run)) => bulk.runs.push(run),
                // the runs stay as they are: the base's merge reads them all
                _ => {
                    bulk.runs.extend(tail);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Write `records` (ascending keys) as run number `n`, of level `level`; `None` for a
    /// temporary index, which has no directory to write one in.
    fn write_run(
        &self,
        n: u32,
        level: u32,
        records: impl Iterator<Item = Result<(ChunkId, Vec<u8>)>>,
    ) -> Result<Option<Run>> {
        let Some(path) = self.beside(&run_name(n)) else {
            return Ok(None);
        };
        let written = blockfile::write(&path, self.stamp()?, records, |e| io(&path, e));
        #[cfg(test)]
        if let Ok((n, _)) = &written {
            RUN_RECORDS.with(|r| r.set(r.get() + n));
        }
        let file = written.and_then(|_| {
            File::open(&path)
                .ok()
                .and_then(BlockFile::open)
                .ok_or_else(|| unreadable(&path))
        });
        match file {
            Ok(file) => Ok(Some(Run { path, file, level })),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }
}

/// Remove the runs a sync cut off by a crash left beside the base file at `base`.
pub(super) fn remove_left(base: &Path) {
    let (Some(dir), Some(name)) = (base.parent(), base.file_name()) else {
        return;
    };
    let prefix = format!("{}.run", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.strip_prefix(&prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

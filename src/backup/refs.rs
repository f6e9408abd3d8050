//! Sorted runs in bounded memory, and the set of chunk ids a backup references made of them.
//!
//! Items are collected in a run of at most a given weight ([`RUN`] ids for chunk ids); a full run
//! is sorted, deduplicated and appended to an unnamed file in the repository's local state (as
//! packs are, [`super::spill`]); the sorted unique items are read back by merging the runs
//! ([`Runs::iter`]). Without a directory for the file (or where unnamed files are not supported)
//! the runs stay in memory. Chunk ids ([`Refs`]) and the files cache's directory records
//! ([`super::cache::DirEntry`]) are kept this way.

use crate::error::{Error, Result};
use crate::fsutil::unnamed;
use crate::id::ChunkId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// Ids held in memory before a run is written out (2 MiB).
pub(super) const RUN: usize = 64 << 10;
/// Bytes read from a spilled run at a time while merging (32 KiB).
const READ: usize = 32 << 10;
const ID: usize = 32;

fn spill_error(e: &std::io::Error) -> Error {
    Error::failed(
        format!("cannot write the backup's sorted runs (referenced chunks, files cache) under the local state: {e}"),
        "free space on the file system of REPO/local and retry the backup",
    )
}

/// What a run holds: ordered, weighed toward the run's cap, and written to and read from its
/// file as bytes.
pub trait RunItem: Ord + Clone {
    /// How much of a run's cap it takes.
    fn weight(&self) -> usize;
    /// Append its bytes.
    fn put(&self, out: &mut Vec<u8>);
    /// The next item of a run's bytes; `None` at the run's end.
    fn take(r: &mut dyn BufRead) -> std::io::Result<Option<Self>>;
}

/// Fill `buf` from `r`; false if `r` was at its end (a partial item is an error).
pub(super) fn read_or_end(r: &mut dyn BufRead, buf: &mut [u8]) -> std::io::Result<bool> {
    if r.fill_buf()?.is_empty() {
        return Ok(false);
    }
    r.read_exact(buf)?;
    Ok(true)
}

impl RunItem for ChunkId {
    fn weight(&self) -> usize {
        1
    }

    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }

    fn take(r: &mut dyn BufRead) -> std::io::Result<Option<Self>> {
        let mut id = [0u8; ID];
        Ok(read_or_end(r, &mut id)?.then_some(ChunkId(id)))
    }
}

/// Collects items into sorted runs.
pub(super) struct RunLog<T: RunItem> {
    run: Vec<T>,
    weight: usize,
    cap: usize,
    dir: Option<PathBuf>,
    spilled: Spilled,
    /// Runs kept in memory (no unnamed file could be made).
    kept: Vec<Vec<T>>,
}

/// The log of referenced chunk ids.
pub(super) type RefLog = RunLog<ChunkId>;

/// Runs written to an unnamed file: the file and each run's (first byte, byte length).
#[derive(Default)]
struct Spilled {
    file: Option<File>,
    runs: Vec<(u64, u64)>,
    len: u64,
}

impl<T: RunItem> RunLog<T> {
    /// A log that writes runs of `cap` weight to an unnamed file in `dir` once it is set.
    pub(super) fn new(cap: usize) -> Self {
        RunLog {
            run: Vec::new(),
            weight: 0,
            cap: cap.max(1),
            dir: None,
            spilled: Spilled::default(),
            kept: Vec::new(),
        }
    }

    /// Write full runs to an unnamed file in `dir`.
    pub(super) fn spill_to(&mut self, dir: PathBuf) {
        self.dir = Some(dir);
    }

    /// Add `item`.
    pub(super) fn push(&mut self, item: T) -> Result<()> {
        self.weight += item.weight();
        self.run.push(item);
        if self.weight >= self.cap {
            self.end_run()?;
        }
        Ok(())
    }

    /// Add every item of `items`.
    #[cfg(test)]
    pub(super) fn extend(&mut self, items: &[T]) -> Result<()> {
        items.iter().try_for_each(|i| self.push(i.clone()))
    }

    fn end_run(&mut self) -> Result<()> {
        let mut run = std::mem::take(&mut self.run);
        self.weight = 0;
        run.sort_unstable();
        run.dedup();
        if self.spilled.file.is_none() {
            match self.dir.as_deref().map(unnamed) {
                Some(Ok(f)) => self.spilled.file = Some(f),
                Some(Err(e)) => {
                    tracing::debug!("sorted runs kept in memory: no unnamed file ({e})");
                    self.dir = None;
                }
                None => {}
            }
        }
        let Some(file) = self.spilled.file.as_mut() else {
            self.kept.push(run);
            return Ok(());
        };
        let mut w = std::io::BufWriter::with_capacity(READ, file);
        let (mut bytes, mut n) = (Vec::new(), 0u64);
        for item in &run {
            bytes.clear();
            item.put(&mut bytes);
            w.write_all(&bytes).map_err(|e| spill_error(&e))?;
            n += bytes.len() as u64;
        }
        w.flush().map_err(|e| spill_error(&e))?;
        self.spilled.runs.push((self.spilled.len, n));
        self.spilled.len += n;
        Ok(())
    }

    /// The items collected.
    pub(super) fn finish(mut self) -> Result<Runs<T>> {
        self.run.sort_unstable();
        self.run.dedup();
        let mut kept = self.kept;
        kept.push(self.run);
        Ok(Runs {
            spilled: self.spilled,
            kept,
        })
    }
}

/// Items as sorted runs: read them sorted and unique with [`Runs::iter`] (as often as needed).
pub struct Runs<T: RunItem> {
    spilled: Spilled,
    kept: Vec<Vec<T>>,
}

/// The ids a backup referenced.
pub type Refs = Runs<ChunkId>;
/// The merge of a backup's referenced ids.
pub type RefIter<'a> = RunIter<'a, ChunkId>;

impl<T: RunItem> Default for Runs<T> {
    fn default() -> Self {
        Runs {
            spilled: Spilled::default(),
            kept: Vec::new(),
        }
    }
}

impl<T: RunItem> std::fmt::Debug for Runs<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Runs({} spilled, {} in memory)",
            self.spilled.runs.len(),
            self.kept.len()
        )
    }
}

impl<T: RunItem> Runs<T> {
    /// The items, sorted and each once.
    pub fn iter(&self) -> RunIter<'_, T> {
        let mut sources: Vec<Source<'_, T>> =
            self.kept.iter().map(|r| Source::Kept(r, 0)).collect();
        if let Some(file) = &self.spilled.file {
            sources.extend(self.spilled.runs.iter().map(|&(at, n)| {
                Source::File(BufReader::with_capacity(
                    READ,
                    At {
                        file,
                        pos: at,
                        end: at + n,
                    },
                ))
            }));
        }
        RunIter {
            sources,
            heap: BinaryHeap::new(),
            started: false,
            last: None,
        }
    }

    /// How many items (one pass over them).
    pub fn count(&self) -> Result<u64> {
        self.iter().try_fold(0u64, |n, r| r.map(|_| n + 1))
    }

    /// All the items in memory, sorted and unique (tests, small backups).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        self.iter().collect()
    }
}

/// A byte range of the runs' file, read with positioned reads.
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.end - self.pos).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// One sorted run being read.
enum Source<'a, T> {
    Kept(&'a [T], usize),
    File(BufReader<At<'a>>),
}

impl<T: RunItem> Source<'_, T> {
    fn next(&mut self) -> Result<Option<T>> {
        match self {
            Source::Kept(run, i) => {
                let item = run.get(*i).cloned();
                *i += 1;
                Ok(item)
            }
            Source::File(r) => T::take(r).map_err(|e| spill_error(&e)),
        }
    }
}

/// The merge of the runs: sorted, without repeats.
pub struct RunIter<'a, T: RunItem> {
    sources: Vec<Source<'a, T>>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
    started: bool,
    last: Option<T>,
}

impl<T: RunItem> RunIter<'_, T> {
    fn refill(&mut self, i: usize) -> Result<()> {
        if let Some(s) = self.sources.get_mut(i) {
            if let Some(item) = s.next()? {
                self.heap.push(Reverse((item, i)));
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<T>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.refill(i)?;
            }
        }
        while let Some(Reverse((item, i))) = self.heap.pop() {
            self.refill(i)?;
            if self.last.as_ref() != Some(&item) {
                self.last = Some(item.clone());
                return Ok(Some(item));
            }
        }
        Ok(None)
    }
}

impl<T: RunItem> Iterator for RunIter<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        match self.step() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.heap.clear();
                self.sources.clear();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> ChunkId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b[31] = (n % 7) as u8;
        ChunkId(b)
    }

    /// Many more ids than a run holds, with repeats across runs, come back sorted and unique,
    /// from runs spilled to the unnamed file (and the same without a directory, in memory).
    #[test]
    fn ids_far_beyond_one_run_come_back_sorted_and_unique_from_spilled_runs() {
        let d = tempfile::tempdir().unwrap();
        // 10,000 distinct ids, each referenced 3 times in a scattered order
        let ids: Vec<ChunkId> = (0..30_000u32).map(|i| id((i * 7919) % 10_000)).collect();
        let mut want: Vec<ChunkId> = ids.clone();
        want.sort_unstable();
        want.dedup();
        assert_eq!(want.len(), 10_000);
        for dir in [Some(d.path().to_path_buf()), None] {
            let mut log = RefLog::new(1000);
            if let Some(dir) = &dir {
                log.spill_to(dir.clone());
            }
            log.extend(&ids).unwrap();
            let refs = log.finish().unwrap();
            if dir.is_some() {
                assert_eq!(
                    refs.spilled.runs.len(),
                    30,
                    "every full run went to the file"
                );
                assert_eq!(refs.kept.iter().map(Vec::len).sum::<usize>(), 0);
            }
            assert_eq!(refs.to_vec().unwrap(), want);
            assert_eq!(refs.count().unwrap(), 10_000);
            assert_eq!(refs.to_vec().unwrap(), want, "read again");
        }
    }

    #[test]
    fn no_ids_and_a_partial_run() {
        let refs = RefLog::new(4).finish().unwrap();
        assert_eq!(refs.to_vec().unwrap(), vec![]);
        let mut log = RefLog::new(4);
        log.extend(&[id(3), id(1), id(3)]).unwrap();
        assert_eq!(log.finish().unwrap().to_vec().unwrap(), vec![id(1), id(3)]);
    }
}

//! The set of chunk ids a backup references, in bounded memory: ids are collected in a run of at
//! most [`RUN`] ids; a full run is sorted, deduplicated and appended to an unnamed file in the
//! repository's local state (as packs are, [`super::spill`]); the sorted unique ids are read back
//! by merging the runs ([`Refs::iter`]). Without a directory for the file (or where unnamed files
//! are not supported) the runs stay in memory, as the whole set did before.

use super::spill::unnamed;
use crate::error::{Error, Result};
use crate::id::ChunkId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// Ids held in memory before a run is written out (2 MiB).
pub(super) const RUN: usize = 64 << 10;
/// Ids read from a spilled run at a time while merging (32 KiB).
const READ: usize = 1 << 10;
const ID: usize = 32;

fn spill_error(e: &std::io::Error) -> Error {
    Error::failed(
        format!("cannot write the backup's list of referenced chunks under the local state: {e}"),
        "free space on the file system of REPO/local and retry the backup",
    )
}

/// Collects referenced ids.
pub(super) struct RefLog {
    run: Vec<ChunkId>,
    cap: usize,
    dir: Option<PathBuf>,
    spilled: Spilled,
    /// Runs kept in memory (no unnamed file could be made).
    kept: Vec<Vec<ChunkId>>,
}

/// Runs written to an unnamed file: the file and each run's (first id, count).
#[derive(Default)]
struct Spilled {
    file: Option<File>,
    runs: Vec<(u64, u64)>,
    len: u64,
}

impl RefLog {
    /// A log that writes runs of `cap` ids to an unnamed file in `dir` once it is set.
    pub(super) fn new(cap: usize) -> Self {
        RefLog {
            run: Vec::new(),
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

    /// Reference `id`.
    pub(super) fn push(&mut self, id: ChunkId) -> Result<()> {
        self.run.push(id);
        if self.run.len() >= self.cap {
            self.end_run()?;
        }
        Ok(())
    }

    /// Reference every id of `ids`.
    pub(super) fn extend(&mut self, ids: &[ChunkId]) -> Result<()> {
        ids.iter().try_for_each(|id| self.push(*id))
    }

    fn end_run(&mut self) -> Result<()> {
        let mut run = std::mem::take(&mut self.run);
        run.sort_unstable();
        run.dedup();
        if self.spilled.file.is_none() {
            match self.dir.as_deref().map(unnamed) {
                Some(Ok(f)) => self.spilled.file = Some(f),
                Some(Err(e)) => {
                    tracing::debug!("referenced chunks kept in memory: no unnamed file ({e})");
                    self.dir = None;
                }
                None => {}
            }
        }
        let Some(file) = self.spilled.file.as_mut() else {
            self.kept.push(run);
            return Ok(());
        };
        let mut w = std::io::BufWriter::with_capacity(READ * ID, file);
        for id in &run {
            w.write_all(&id.0).map_err(|e| spill_error(&e))?;
        }
        w.flush().map_err(|e| spill_error(&e))?;
        self.spilled.runs.push((self.spilled.len, run.len() as u64));
        self.spilled.len += run.len() as u64;
        Ok(())
    }

    /// The ids referenced.
    pub(super) fn finish(mut self) -> Result<Refs> {
        self.run.sort_unstable();
        self.run.dedup();
        let mut kept = self.kept;
        kept.push(self.run);
        Ok(Refs {
            spilled: self.spilled,
            kept,
        })
    }
}

/// The ids a backup referenced, as sorted runs: read them sorted and unique with [`Refs::iter`]
/// (as often as needed).
#[derive(Default)]
pub struct Refs {
    spilled: Spilled,
    kept: Vec<Vec<ChunkId>>,
}

impl std::fmt::Debug for Refs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Refs({} spilled runs, {} in memory)",
            self.spilled.runs.len(),
            self.kept.len()
        )
    }
}

impl Refs {
    /// The referenced ids, sorted and each once.
    pub fn iter(&self) -> RefIter<'_> {
        let mut sources: Vec<Source<'_>> = self.kept.iter().map(|r| Source::Kept(r, 0)).collect();
        if let Some(file) = &self.spilled.file {
            sources.extend(self.spilled.runs.iter().map(|&(at, n)| Source::File {
                file,
                next: at,
                end: at + n,
                buf: Vec::new(),
                pos: 0,
            }));
        }
        RefIter {
            sources,
            heap: BinaryHeap::new(),
            started: false,
            last: None,
        }
    }

    /// How many ids (one pass over them).
    pub fn count(&self) -> Result<u64> {
        self.iter().try_fold(0u64, |n, r| r.map(|_| n + 1))
    }

    /// All the ids in memory, sorted and unique (tests, small backups).
    pub fn to_vec(&self) -> Result<Vec<ChunkId>> {
        self.iter().collect()
    }
}

/// One sorted run being read.
enum Source<'a> {
    Kept(&'a [ChunkId], usize),
    File {
        file: &'a File,
        next: u64,
        end: u64,
        buf: Vec<ChunkId>,
        pos: usize,
    },
}

impl Source<'_> {
    fn next(&mut self) -> Result<Option<ChunkId>> {
        match self {
            Source::Kept(run, i) => {
                let id = run.get(*i).copied();
                *i += 1;
                Ok(id)
            }
            Source::File {
                file,
                next,
                end,
                buf,
                pos,
            } => {
                if *pos >= buf.len() {
                    let n = (*end - *next).min(READ as u64) as usize;
                    if n == 0 {
                        return Ok(None);
                    }
                    let mut bytes = vec![0u8; n * ID];
                    file.read_exact_at(&mut bytes, *next * ID as u64)
                        .map_err(|e| spill_error(&e))?;
                    *buf = bytes
                        .chunks_exact(ID)
                        .map(|c| {
                            let mut id = [0u8; ID];
                            id.copy_from_slice(c);
                            ChunkId(id)
                        })
                        .collect();
                    *next += n as u64;
                    *pos = 0;
                }
                let id = buf.get(*pos).copied();
                *pos += 1;
                Ok(id)
            }
        }
    }
}

/// The merge of the runs: sorted, without repeats.
pub struct RefIter<'a> {
    sources: Vec<Source<'a>>,
    heap: BinaryHeap<Reverse<(ChunkId, usize)>>,
    started: bool,
    last: Option<ChunkId>,
}

impl RefIter<'_> {
    fn refill(&mut self, i: usize) -> Result<()> {
        if let Some(s) = self.sources.get_mut(i) {
            if let Some(id) = s.next()? {
                self.heap.push(Reverse((id, i)));
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<ChunkId>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.refill(i)?;
            }
        }
        while let Some(Reverse((id, i))) = self.heap.pop() {
            self.refill(i)?;
            if self.last != Some(id) {
                self.last = Some(id);
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}

impl Iterator for RefIter<'_> {
    type Item = Result<ChunkId>;

    fn next(&mut self) -> Option<Result<ChunkId>> {
        match self.step() {
            Ok(Some(id)) => Some(Ok(id)),
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

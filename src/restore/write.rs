//! Writing one file of a restore in its directory's handle: under its own name into an empty
//! target, under a temporary name with `--overwrite`; chunk by chunk (each checked against its
//! id first; all-zero chunks left as holes; the chunks of a large file on several threads, each
//! written at its offset), then owner, mode and times on the open file, then (a temporary)
//! renamed over its name. A file whose data is damaged is removed, never renamed into place:
//! any live file of that name is left as it was, and the file is named as damaged.

use super::confined::{mode_bits, set_meta_over};
use super::walk::Job;
use super::Ctx;
use crate::error::{Error, Result};
use crate::format::tree::{ChunkRef, NodeKind};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Write the file of `job`; a failure is recorded as damage naming the file.
pub(crate) fn file(ctx: &Ctx<'_>, job: Job) {
    match write(ctx, &job) {
        Ok(()) => {
            let mut r = ctx.report();
            r.files += 1;
            r.bytes = r.bytes.saturating_add(job.node.size);
            drop(r);
            ctx.progress.files.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => ctx.damage(format!("{}: {e}", job.shown)),
    }
}

fn write(ctx: &Ctx<'_>, job: &Job) -> Result<()> {
    let expanded;
    let chunks = match &job.node.kind {
        NodeKind::File { chunks } => chunks,
        NodeKind::FileSegments { segments } => {
            expanded = ctx.reader.expand(segments, ctx.backup)?;
            &expanded
        }
        _ => return Ok(()),
    };
    // The chunk lengths must add up to the size before a byte is written.
    let total = chunks
        .iter()
        .try_fold(0u64, |a, c| a.checked_add(u64::from(c.len)));
    if total != Some(job.node.size) {
        return Err(Error::corrupt(
            job.shown.clone(),
            format!(
                "its chunks do not add up to its size of {} bytes",
                job.node.size
            ),
        ));
    }
    let dir = &job.dir.dir;
    let io = |e| Error::io(format!("{}/{}", ctx.target, job.shown), e);
    // Into an empty target the file is made under its own name, with its own bits where they
    // are known to stick (no special bits, a target that passes nothing on: then they are not
    // set again); over a live copy, under a temporary name renamed over it once complete.
    let (f, tmp, made) = if ctx.overwrite {
        let (f, tmp) = dir.create_temp().map_err(io)?;
        (f, Some(tmp), None)
    } else {
        let bits = mode_bits(job.node.mode, ctx.is_root);
        let made = ctx
            .inherit
            .filter(|_| bits & 0o7000 == 0)
            .map(|i| i.made(bits));
        let mode = made.map_or(0o600, |_| bits);
        (dir.create_new(&job.name, mode).map_err(io)?, None, made)
    };
    let written = (|| -> Result<()> {
        write_chunks(ctx, job, &f, chunks)?;
        set_meta_over(f.as_fd(), &job.node, ctx.is_root, made);
        drop(f);
        match &tmp {
            Some(tmp) => dir.commit(tmp, &job.name).map_err(io),
            None => Ok(()),
        }
    })();
    if written.is_err() {
        dir.discard(tmp.as_deref().unwrap_or(&job.name));
    }
    written
}

/// A file of at least this many chunks has them read, decrypted and checked on several threads
/// ([`CHUNK_THREADS`]), each writing its chunks at their offsets: one large file (a dump, a
/// disk image) would otherwise restore on one core while the others wait.
pub(crate) const PARALLEL_CHUNKS: usize = 4;

/// The threads that share the chunks of one large file: one per core, at most 4.
fn chunk_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4)
}

/// Write `chunks` into `f`, each checked before it is written. With [`PARALLEL_CHUNKS`] or
/// more, [`chunk_threads`] threads take the next chunk in turn; the first failure stops them,
/// and the failure of the lowest chunk is the one reported (the same as a sequential write's).
fn write_chunks(ctx: &Ctx<'_>, job: &Job, f: &std::fs::File, chunks: &[ChunkRef]) -> Result<()> {
    // offsets: the sum of the lengths was checked against the size, so none overflows
    let offsets: Vec<u64> = chunks
        .iter()
        .scan(0u64, |off, c| {
            let at = *off;
            *off += u64::from(c.len);
            Some(at)
        })
        .collect();
    let one = |i: usize| write_chunk(ctx, job, f, &chunks[i], offsets[i]);
    if chunks.len() < PARALLEL_CHUNKS {
        return (0..chunks.len()).try_for_each(one);
    }
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..chunk_threads().min(chunks.len()) {
            s.spawn(|| loop {
                if lock(&failed).is_some() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= chunks.len() {
                    break;
                }
                if let Err(e) = one(i) {
                    let mut first = lock(&failed);
                    if first.as_ref().is_none_or(|(j, _)| i < *j) {
                        *first = Some((i, e));
                    }
                    break;
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    failed.map_or(Ok(()), |(_, e)| Err(e))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Read, check and write one chunk at `off`. An all-zero chunk is left as a hole; the file's
/// last one, which would leave the file short, sets its length instead.
fn write_chunk(ctx: &Ctx<'_>, job: &Job, f: &std::fs::File, c: &ChunkRef, off: u64) -> Result<()> {
    let data = ctx.reader.read(&c.id, ctx.backup)?;
    if data.len() as u64 != u64::from(c.len) {
        return Err(Error::corrupt(
            job.shown.clone(),
            format!(
                "chunk {} holds {} bytes, the file says {}",
                c.id.to_hex(),
                data.len(),
                c.len
            ),
        ));
    }
    let io = |e| Error::io(format!("{}/{}", ctx.target, job.shown), e);
    let end = off + u64::from(c.len);
    if data.iter().any(|b| *b != 0) {
        f.write_all_at(&data, off).map_err(io)?;
    } else if end == job.node.size {
        f.set_len(end).map_err(io)?;
    }
    ctx.progress.add(u64::from(c.len));
    Ok(())
}

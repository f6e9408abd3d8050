//! Writing one file of a restore: under a temporary name in its directory's handle, chunk by
//! chunk (each checked against its id first; all-zero chunks left as holes), then owner, mode
//! and times on the open file, then renamed over its name. A file whose data is damaged is
//! never renamed into place: its temporary is removed, any live file of that name is left as it
//! was, and the file is named as damaged.

use super::confined::set_meta;
use super::walk::Job;
use super::Ctx;
use crate::error::{Error, Result};
use crate::format::tree::NodeKind;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;

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
    let (f, tmp) = dir.create_temp().map_err(io)?;
    let written = (|| -> Result<()> {
        let mut off = 0u64;
        for c in chunks {
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
            if data.iter().any(|b| *b != 0) {
                f.write_all_at(&data, off).map_err(io)?;
            }
            off += u64::from(c.len); // cannot overflow: the sum was checked above
            ctx.progress.add(u64::from(c.len));
        }
        f.set_len(off).map_err(io)?;
        set_meta(f.as_fd(), &job.node, ctx.is_root);
        drop(f);
        dir.commit(&tmp, &job.name).map_err(io)
    })();
    if written.is_err() {
        dir.discard(&tmp);
    }
    written
}

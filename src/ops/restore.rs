//! Restore a backup (or one service, or one path) into a directory.

use super::Context;
use crate::jobs::JobKind;
use crate::keyring::KeyRing;
use crate::restore::{RestoreOptions, RestoreReport};
use crate::Result;

/// What [`restore`] did.
#[derive(Debug)]
pub struct RestoreOutcome {
    /// The backup restored.
    pub backup: String,
    /// Files, directories and bytes written.
    pub report: RestoreReport,
    /// Seconds taken.
    pub seconds: f64,
}

/// Restore backup `id` (or `latest`) with `keys` as a `restore` job (holding the lease
/// shared: it writes nothing to the repository, and no prune may delete what it reads meanwhile), every byte checked against its hash.
pub fn restore(
    cx: &Context,
    keys: &KeyRing,
    id: &str,
    opts: &RestoreOptions,
) -> Result<RestoreOutcome> {
    let ctl = cx.controller()?;
    let m = ctl.repo.resolve(id)?;
    let t0 = std::time::Instant::now();
    let mut job = cx.begin(JobKind::Restore, false)?;
    if let Some(s) = &opts.service {
        job.clear_only(vec![s.clone()]);
    }
    let outcome = cx.cancel.check().and_then(|()| {
        let (progress, _bar) = cx.phase("restore");
        crate::restore::restore(&ctl.repo, keys, &m, opts, &progress)
    });
    if let Ok(r) = &outcome {
        cx.record(&mut job, |rec| {
            rec.bytes_read = r.bytes;
            rec.backup = Some(m.id.clone());
        });
    }
    cx.finish(job, &outcome);
    Ok(RestoreOutcome {
        backup: m.id,
        report: outcome?,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

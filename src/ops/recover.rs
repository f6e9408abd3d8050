//! Cloud recovery from the share alone.

use super::Context;
use crate::jobs::JobKind;
use crate::keyring::KeyRing;
use crate::recover::{self, RecoverOptions, RecoverReport};
use crate::Result;

/// Recover onto this controller: check the share against the fingerprint before anything is
/// created or copied, create the new repository at `opts.repo` (the context's repository), then
/// as a `recover` job holding its lease copy the share, restore every service of the backup into
/// `opts.target`, verify the whole copy, run the restore commands, and keep exporting to the
/// same share.
pub fn recover(cx: &Context, opts: &RecoverOptions, keys: &KeyRing) -> Result<RecoverReport> {
    let share = recover::check_share(opts)?;
    recover::prepare(opts)?;
    let local = opts.repo.join("local");
    let mut job = crate::jobs::Job::begin(&local, JobKind::Recover, cx.trigger)?;
    cx.sink.started(job.record());
    let outcome = cx.cancel.check().and_then(|()| {
        let (progress, _bar) = cx.phase("recover");
        recover::finish(opts, &share, keys, &progress)
    });
    if let Ok(r) = &outcome {
        cx.record(&mut job, |rec| {
            rec.bytes_read = r.bytes_copied;
            rec.backup = Some(r.backup.clone());
        });
    }
    cx.finish(job, &outcome);
    outcome
}

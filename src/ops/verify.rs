//! Verify the internal repository or the target's copy.

use super::Context;
use crate::error::CopySide;
use crate::jobs::catalogue::{REPOSITORY, TARGET};
use crate::jobs::JobKind;
use crate::keyring::KeyRing;
use crate::verify::VerifyReport;
use crate::{Error, Result};

/// What to verify.
#[derive(Default)]
pub struct VerifyOptions<'k> {
    /// The target's own copy (read over the network) instead of the internal repository.
    pub from_target: bool,
    /// Decrypt and check every chunk with these keys (`--read-data`).
    pub keys: Option<&'k KeyRing>,
}

/// What [`verify`] found.
#[derive(Debug)]
pub struct VerifyOutcome {
    /// Objects and backups checked, and the damage found.
    pub report: VerifyReport,
    /// Which copy: "the target's copy at …" or the internal repository's place.
    pub place: String,
    /// Which copy, for the alert's subject.
    pub side: CopySide,
}

impl VerifyOutcome {
    /// The operation's result: an error naming the damage (exit 1; the job failed with it), or Ok
    /// if the copy is clean.
    pub fn result(&self) -> Result<()> {
        let r = &self.report;
        if r.clean() {
            return Ok(());
        }
        Err(Error::corrupt_in(
            self.side,
            self.place.clone(),
            format!(
                "{} damaged object(s); backups hurt: {}",
                r.damaged_objects.len(),
                r.damaged_backups
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

/// Verify one copy as a `verify` job (holding the lease shared: it writes nothing to the
/// repository, and no prune may delete what it reads meanwhile). Damage fails the job (an alert about that copy) and is returned in the report
/// ([`VerifyOutcome::result`]); a clean run clears only the alerts about that copy.
pub fn verify(cx: &Context, opts: &VerifyOptions) -> Result<VerifyOutcome> {
    let ctl = cx.controller()?;
    let mut job = cx.begin(JobKind::Verify, false)?;
    let outcome = cx.cancel.check().and_then(|()| {
        let (progress, _bar) = cx.phase("verify");
        if opts.from_target {
            let (report, place) = crate::remote::verify_target(ctl, opts.keys, &progress)
                .map_err(|e| e.on_copy(CopySide::Target))?;
            Ok(VerifyOutcome {
                report,
                place: format!("{} at {place}", crate::remote::TARGET_COPY),
                side: CopySide::Target,
            })
        } else {
            let index = ctl.index()?;
            let report = crate::verify::verify(&ctl.repo, &index, opts.keys, &progress)?;
            Ok(VerifyOutcome {
                report,
                place: ctl.repo.store.describe(),
                side: CopySide::Internal,
            })
        }
    });
    job.clear_only(vec![
        if opts.from_target { TARGET } else { REPOSITORY }.to_string()
    ]);
    match outcome {
        Ok(o) => {
            cx.record(&mut job, |r| r.bytes_read = o.report.bytes);
            cx.finish(job, &o.result());
            Ok(o)
        }
        Err(_) => {
            cx.finish(job, &outcome);
            outcome
        }
    }
}

//! Prune: forget backups outside the retention policy and reclaim space, on the internal
//! repository and then on the target's copy.

use super::Context;
use crate::jobs::{JobId, JobKind, Lease};
use crate::prune::PruneReport;
use crate::retention::Policy;
use crate::{Error, Result};

/// What [`prune`] did (or, in a dry run, would do).
#[derive(Debug)]
pub struct PruneOutcome {
    /// The internal repository's part.
    pub internal: PruneReport,
    /// The target's part: `None` when no target is set or it holds nothing yet.
    pub target: Option<PruneReport>,
    /// Why the target's part failed; the internal part is done either way, and the job failed
    /// with this error.
    pub target_error: Option<Error>,
}

impl PruneOutcome {
    /// Every warning of both parts (also in the job record).
    pub fn warnings(&self) -> Vec<String> {
        self.internal
            .warnings
            .iter()
            .chain(self.target.iter().flat_map(|t| &t.warnings))
            .map(|w| w.to_string())
            .collect()
    }
}

/// Prune by `policy` (never the newest complete backup) as a `prune` job holding the lease, the
/// target's copy after the internal one. A dry run changes nothing and only takes the lease: it
/// records no job, so it clears no alert. Warnings go into the job record (the report has them).
pub fn prune(cx: &Context, policy: &Policy, dry_run: bool) -> Result<PruneOutcome> {
    let ctl = cx.controller()?;
    let work = || -> Result<PruneOutcome> {
        cx.cancel.check()?;
        let (progress, _bar) = cx.phase("prune");
        let target_progress = crate::progress::Progress::with_cancel(cx.cancel.clone());
        let (internal, target) = crate::prune::prune_all(
            ctl,
            policy,
            chrono::Utc::now(),
            dry_run,
            &progress,
            &target_progress,
        )?;
        let (target, target_error) = match target {
            Ok(t) => (t, None),
            Err(e) => (None, Some(e)),
        };
        Ok(PruneOutcome {
            internal,
            target,
            target_error,
        })
    };
    if dry_run {
        let _lease = Lease::acquire(&cx.local(), JobKind::Prune, &JobId::new())?;
        return work();
    }
    let mut job = cx.begin(JobKind::Prune, true)?;
    let outcome = work();
    let mut o = match outcome {
        Ok(o) => o,
        Err(_) => {
            cx.finish(job, &outcome);
            return outcome;
        }
    };
    let warnings = o.warnings();
    cx.record(&mut job, |r| r.warnings.extend(warnings));
    match o.target_error.take() {
        None => cx.finish(job, &Ok(())),
        Some(e) => {
            let err: Result<()> = Err(e);
            cx.finish(job, &err);
            o.target_error = err.err();
        }
    }
    Ok(o)
}

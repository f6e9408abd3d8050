//! Prune both copies: the internal repository, then the target's (if a target is set).

use super::{prune_local, prune_repo, PruneReport, Scope};
use crate::backend::Backend;
use crate::controller::Controller;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::retention::Policy;
use crate::target::{open_backend, TargetConfig};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Prune the internal repository, then the target's copy with the same policy, forgetting there
/// too what was forgotten here, and keeping the current key epoch.
///
/// The outer error is the internal prune's. The inner result is the target's: `Ok(None)` when
/// no target is set (or it holds no repository yet); an error there says that the internal
/// prune is done and how to finish the target's part. A target failure never undoes anything.
pub fn prune_all(
    ctl: &Controller,
    policy: &Policy,
    now: DateTime<Utc>,
    dry_run: bool,
    progress: &Progress,
    target_progress: &Progress,
) -> Result<(PruneReport, Result<Option<PruneReport>>)> {
    let local = prune_local(ctl, policy, now, dry_run, progress)?;
    let target = prune_target(
        ctl,
        policy,
        now,
        &local.backups_forgotten,
        dry_run,
        target_progress,
    );
    Ok((local, target))
}

/// The target's part of [`prune_all`].
pub fn prune_target(
    ctl: &Controller,
    policy: &Policy,
    now: DateTime<Utc>,
    forgotten_here: &[String],
    dry_run: bool,
    progress: &Progress,
) -> Result<Option<PruneReport>> {
    let Some(cfg) = TargetConfig::load(&ctl.root)? else {
        return Ok(None);
    };
    let (epoch, _) = ctl.keys()?;
    let scope = Scope {
        also_forget: forgotten_here.to_vec(),
        protect_keys: vec![epoch],
    };
    let outcome = (|| {
        let store: Arc<dyn Backend> = Arc::from(open_backend(&cfg)?);
        // Never prune another repository's backups, only a copy signed by this controller's key.
        let Some(copy) = crate::remote::open_copy(&store, &ctl.repo)? else {
            return Ok(None); // nothing exported yet: nothing to prune there
        };
        prune_repo(&copy, policy, now, &scope, dry_run, progress).map(Some)
    })();
    outcome.map_err(|e| {
        Error::failed(
            format!(
                "{}pruning the copy at {} failed: {e}",
                if dry_run {
                    ""
                } else {
                    "the internal repository was pruned, but "
                },
                cfg.url
            ),
            format!(
                "{}; then run `cairn prune` again (it finishes the target's part)",
                e.remedy()
            ),
        )
    })
}

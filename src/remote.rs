//! The controller's side of the external location: export to it, verify its copy, and remember
//! which backups it holds (so `list` need not connect to the share).

use crate::backend::Backend;
use crate::controller::Controller;
use crate::error::{Error, Result};
use crate::index::Index;
use crate::keyring::KeyRing;
use crate::progress::Progress;
use crate::replicate::{self, ExportReport};
use crate::repository::Repository;
use crate::target::{self, TargetConfig};
use crate::verify::{self, VerifyReport};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

const EXPORTED_FILE: &str = "exported.json";

/// The configured target, or a usage error saying how to set one.
pub fn configured(ctl: &Controller) -> Result<TargetConfig> {
    TargetConfig::load(&ctl.root)?.ok_or_else(|| {
        Error::usage(
            "no target is set",
            "set one first: `cairn target set smb://HOST/SHARE/PATH --username U --password-file F` (or a local directory)",
        )
    })
}

/// Open the target's storage.
pub fn open(cfg: &TargetConfig) -> Result<Arc<dyn Backend>> {
    Ok(Arc::from(target::open_backend(cfg)?))
}

/// Export to the target every object it lacks (commit order; manifests last), then record
/// which backups the target holds.
pub fn export(ctl: &Controller, progress: &Progress) -> Result<ExportReport> {
    let cfg = configured(ctl)?;
    let dst = open(&cfg)?;
    let report = replicate::export(ctl.repo.store.as_ref(), dst.as_ref(), &|p| {
        progress
            .total
            .store(p.bytes_total, std::sync::atomic::Ordering::Relaxed);
        progress
            .bytes
            .store(p.bytes_done, std::sync::atomic::Ordering::Relaxed);
        progress
            .files
            .store(p.objects_done, std::sync::atomic::Ordering::Relaxed);
    })?;
    record_exported(&ctl.root, dst.as_ref())?;
    Ok(report)
}

/// Remember the backups the target holds now.
pub fn record_exported(root: &Path, dst: &dyn Backend) -> Result<()> {
    let ids: BTreeSet<String> = dst
        .list("backups/")?
        .into_iter()
        .filter_map(|o| o.name.strip_prefix("backups/").map(str::to_string))
        .collect();
    let text = serde_json::to_vec(&ids).unwrap_or_default();
    crate::fsutil::write_atomic(&root.join("local").join(EXPORTED_FILE), &text, 0o600)
}

/// The backups the target held at the last export (None if no export has run).
pub fn exported(root: &Path) -> Option<BTreeSet<String>> {
    let bytes = std::fs::read(root.join("local").join(EXPORTED_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Verify the target's copy (without the identity unless `keys` is given).
pub fn verify_target(
    ctl: &Controller,
    keys: Option<&KeyRing>,
    progress: &Progress,
) -> Result<(VerifyReport, String)> {
    let cfg = configured(ctl)?;
    let store = open(&cfg)?;
    let place = store.describe();
    // the target's copy must be this controller's repository (signed by its key)
    let repo = Repository::open_expecting(store, ctl.repo.key())?;
    let index = Index::temporary()?;
    index.sync(repo.store.as_ref())?;
    Ok((verify::verify(&repo, &index, keys, progress)?, place))
}

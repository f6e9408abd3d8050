//! The controller's side of the external location: export to it, verify its copy, and remember
//! which backups it holds (so `list` need not connect to the share).

use crate::backend::Backend;
use crate::controller::Controller;
use crate::error::{CopySide, Error, ErrorKind, Result};
use crate::index::Index;
use crate::keyring::KeyRing;
use crate::object::{ObjectKind, CONFIG_NAME};
use crate::progress::Progress;
use crate::replicate::{self, ExportReport};
use crate::repository::Repository;
use crate::target::{self, TargetConfig};
use crate::verify::{self, VerifyReport};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

pub(crate) const EXPORTED_FILE: &str = "exported.json";

/// How errors about the target's copy name it ("the target's copy at smb://…").
pub const TARGET_COPY: &str = "the target's copy";
/// The object named by the error of an export that skipped backups damaged in the internal copy.
pub const INTERNAL_COPY: &str = "the internal repository";

/// Whether `err` is damage its reader found in the internal copy (e.g. while exporting: its
/// alert is about the repository, not the target: the target is fine, the internal copy needs
/// healing).
pub fn is_internal_damage(err: &Error) -> bool {
    matches!(
        err,
        Error::Corrupt {
            side: CopySide::Internal,
            ..
        }
    )
}

/// Whether `err` is damage its reader found on the target's copy (its alert is about the target).
pub fn is_target_damage(err: &Error) -> bool {
    matches!(
        err,
        Error::Corrupt {
            side: CopySide::Target,
            ..
        }
    )
}

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

/// What `cairn target set` checks before saving `cfg`: the target is reachable (with the
/// transport it requires), writable, and holds no other repository.
pub fn accept(ctl: &Controller, cfg: &TargetConfig) -> Result<()> {
    let store = open(cfg)?;
    target::probe_backend(store.as_ref())?;
    check_owner(&store, &ctl.repo)
}

/// A target belongs to one repository: refuse `store` if it holds a repository whose id is not
/// `local`'s (or a `config` that is not a cairn repository's). An empty location is accepted:
/// the first export writes the config there.
///
/// A damaged `config` on the target looks like another repository's (a flipped bit may land in
/// the id). It is told apart by the key envelopes: they are named by the hash of their bytes and
/// sealed with fresh randomness, so a folder holding one of this repository's envelopes is this
/// repository's, and its config is damage that export heals.
pub fn check_owner(store: &Arc<dyn Backend>, local: &Repository) -> Result<()> {
    holds(store, local).map(|_| ())
}

/// This controller's copy at `store`, opened (`None` if nothing was exported there yet):
/// another repository's is refused as by [`check_owner`], and so is a copy not signed by
/// `local`'s key or whose `config` is damaged.
pub(crate) fn open_copy(
    store: &Arc<dyn Backend>,
    local: &Repository,
) -> Result<Option<Repository>> {
    match holds(store, local)? {
        Holds::Nothing => Ok(None),
        Holds::Ours(copy) => Ok(Some(*copy)),
        // the error says what is wrong with its config
        Holds::OursDamaged => Repository::open_expecting(store.clone(), local.key()).map(Some),
    }
}

/// What a target location holds, as [`check_owner`] judges it.
enum Holds {
    /// No `config`: nothing exported there yet.
    Nothing,
    /// This repository's copy (same id, signed by the same key), opened.
    Ours(Box<Repository>),
    /// This repository's copy with a damaged `config` (export replaces it).
    OursDamaged,
}

fn holds(store: &Arc<dyn Backend>, local: &Repository) -> Result<Holds> {
    if store.stat(CONFIG_NAME)?.is_none() {
        return Ok(Holds::Nothing);
    }
    let why = match Repository::open(store.clone()) {
        Ok(r) if r.config.repo_id == local.config.repo_id && r.key() == local.key() => {
            return Ok(Holds::Ours(Box::new(r)))
        }
        Ok(r) if r.config.repo_id == local.config.repo_id => {
            "holds a `config` with this repository's id signed by another key".to_string()
        }
        Ok(r) => format!(
            "holds another repository (id {}, this one is {})",
            hex::encode(r.config.repo_id),
            hex::encode(local.config.repo_id)
        ),
        Err(e @ Error::Storage(_)) if e.kind() != ErrorKind::Damage => return Err(e),
        Err(e) => format!("holds a `config` that is not this repository's ({e})"),
    };
    let ours: BTreeSet<String> = local
        .store
        .list(ObjectKind::Key.prefix())?
        .into_iter()
        .map(|o| o.name)
        .collect();
    if store
        .list(ObjectKind::Key.prefix())?
        .iter()
        .any(|o| ours.contains(&o.name))
    {
        tracing::warn!(
            "{}: its config is damaged ({why}); export replaces it",
            store.describe()
        );
        return Ok(Holds::OursDamaged);
    }
    Err(Error::failed(
        format!("{} {why}; a target belongs to one repository and nothing was changed there", store.describe()),
        "choose another folder for this repository's target (e.g. `cairn target set smb://HOST/SHARE/ANOTHER-FOLDER ...`); never point two controllers at the same folder",
    ))
}

/// Export to the target every object it lacks or holds damaged, backup by backup (oldest
/// first: what a backup needs, then its manifest), then record which backups the target holds.
///
/// A backup that needs an object damaged here is skipped (its manifest is not sent) and the
/// others are exported; the export then fails (exit 1) naming the skipped backups, with the
/// report's [`ExportReport::backups_skipped`] in the error's text.
pub fn export(ctl: &Controller, progress: &Progress) -> Result<ExportReport> {
    let report = export_report(ctl, progress)?;
    if report.backups_skipped.is_empty() {
        return Ok(report);
    }
    Err(skipped_error(&report))
}

/// The error of an export that skipped backups: damage, naming each backup and why.
pub fn skipped_error(report: &ExportReport) -> Error {
    Error::corrupt_in(
        CopySide::Internal,
        INTERNAL_COPY,
        format!(
            "{} backup(s) not exported because objects they need are damaged here (the others were exported): {}",
            report.backups_skipped.len(),
            report
                .backups_skipped
                .iter()
                .map(|b| format!("backup {}: {}", b.id, b.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
}

/// [`export`], returning the report even when backups were skipped (the caller reports them).
pub fn export_report(ctl: &Controller, progress: &Progress) -> Result<ExportReport> {
    export_to(ctl, &open(&configured(ctl)?)?, progress)
}

/// [`export_report`] to the target's store `dst`, already open (the crash tests wrap it).
#[doc(hidden)]
pub fn export_to(
    ctl: &Controller,
    dst: &Arc<dyn Backend>,
    progress: &Progress,
) -> Result<ExportReport> {
    check_owner(dst, &ctl.repo)?;
    let index = ctl.index()?;
    let needs = |manifest: &str| -> Result<Vec<String>> {
        // stop between backups once cancelled (the rest count as skipped; see below)
        progress.check_cancel()?;
        // the references are gone through a block at a time (never all held); what they name
        // counts once the whole manifest's signature held
        let mut names = BTreeSet::new();
        let mut missing = 0usize;
        let mut each = |ids: &[crate::id::ChunkId]| -> Result<()> {
            for r in ids {
                match index.lookup(r)? {
                    Some(loc) => {
                        names.insert(loc.pack.object_name());
                    }
                    None => missing += 1,
                }
            }
            Ok(())
        };
        let m = ctl.repo.read_refs(manifest, 1 << 20, &mut each)?;
        names.insert(m.epoch.object_name());
        names.insert(m.session.object_name());
        if missing > 0 {
            return Err(Error::corrupt(
                manifest,
                format!("{missing} chunk(s) it needs are in no pack here"),
            ));
        }
        Ok(names.into_iter().collect())
    };
    let report = replicate::export_backups(ctl.repo.store.as_ref(), dst.as_ref(), &needs, &|p| {
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
    // cancelled: what was sent is complete backup by backup; the rest goes at the next export
    progress.check_cancel()?;
    Ok(report)
}

/// Remember the backups the target holds now.
pub fn record_exported(root: &Path, dst: &dyn Backend) -> Result<()> {
    let ids: BTreeSet<String> = dst
        .list(ObjectKind::Manifest.prefix())?
        .into_iter()
        .filter_map(|o| ObjectKind::Manifest.strip(&o.name).map(str::to_string))
        .collect();
    let text = serde_json::to_vec(&ids).unwrap_or_default();
    crate::fsutil::write_atomic(&root.join("local").join(EXPORTED_FILE), &text, 0o600)
}

/// The backups the target held at the last export (None if no export has run).
pub fn exported(root: &Path) -> Option<BTreeSet<String>> {
    let bytes = std::fs::read(root.join("local").join(EXPORTED_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Verify the target's own copy, read over the network (without the identity unless `keys` is
/// given): every object each backup needs is present there and its bytes match its name. Returns
/// the report and where the copy is.
pub fn verify_target(
    ctl: &Controller,
    keys: Option<&KeyRing>,
    progress: &Progress,
) -> Result<(VerifyReport, String)> {
    let store = open(&configured(ctl)?)?;
    let place = store.describe();
    let Some((repo, index)) = open_target_copy(ctl, store)? else {
        return Err(Error::failed(
            format!("the target {place} holds no repository yet"),
            "run `cairn export` first (a backup exports there once a target is set)",
        ));
    };
    Ok((verify::verify(&repo, &index, keys, progress)?, place))
}

/// The scheduler's share of [`verify_target`]: one rotating subset of the target's packs (every
/// backup's references still checked in full). `Ok(None)` when no target is set or nothing was
/// exported there yet.
pub fn verify_target_slice(
    ctl: &Controller,
    progress: &Progress,
    slice: u32,
    slices: u32,
) -> Result<Option<(VerifyReport, String)>> {
    let Some(cfg) = TargetConfig::load(&ctl.root)? else {
        return Ok(None);
    };
    let store = open(&cfg)?;
    let place = store.describe();
    let Some((repo, index)) = open_target_copy(ctl, store)? else {
        return Ok(None);
    };
    Ok(Some((
        verify::verify_slice(&repo, &index, progress, slice, slices)?,
        place,
    )))
}

/// The target's copy at `store` as a repository (this controller's, signed by its key), with a
/// temporary index built from its pack headers; `None` if nothing was exported there yet.
fn open_target_copy(
    ctl: &Controller,
    store: Arc<dyn Backend>,
) -> Result<Option<(Repository, Index)>> {
    let Some(repo) = open_copy(&store, &ctl.repo)? else {
        return Ok(None);
    };
    let index = Index::temporary()?;
    index.sync(repo.store.as_ref())?;
    Ok(Some((repo, index)))
}

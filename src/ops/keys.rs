//! Key rotation.

use super::Context;
use crate::crypto::Recipient;
use crate::jobs::JobKind;
use crate::Result;
use std::path::Path;

/// What [`rotate_keys`] did.
#[derive(Debug, Clone)]
pub struct RotateReport {
    /// The new key epoch (its short form).
    pub epoch: String,
    /// How many recipients new backups encrypt to.
    pub recipients: usize,
    /// The repository fingerprint (unchanged: the signing key is sealed to the new recipients).
    pub fingerprint: String,
}

/// Make new backups encrypt to `recipients`, as a `key_rotate` job holding the lease (no backup
/// or prune runs meanwhile). Older backups stay readable with their identities.
pub fn rotate_keys(cx: &Context, recipients: &[Recipient]) -> Result<RotateReport> {
    let ctl = cx.controller()?;
    cx.run_job(JobKind::KeyRotate, true, |_| {
        let epoch = ctl.new_epoch(recipients)?;
        ctl.index()?.clear_files()?;
        Ok(RotateReport {
            epoch: epoch.short(),
            recipients: recipients.len(),
            fingerprint: ctl.repo.fingerprint().to_string(),
        })
    })
}

/// The repository's keys: its fingerprint, the current recipients, and each backup's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyList {
    /// The repository fingerprint (§7): kept with the identity, `recover` needs it.
    pub fingerprint: String,
    /// The key epoch new backups use.
    pub current: EpochKeys,
    /// The epoch of every backup.
    pub backups: Vec<BackupKeys>,
}

/// One key epoch: its id and recipients.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochKeys {
    /// The epoch's id (hex).
    pub epoch: String,
    /// Its recipients (`age1…`).
    pub recipients: Vec<String>,
}

/// Which recipients one backup was written for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupKeys {
    /// The backup's id.
    pub backup: String,
    /// Its key epoch (hex).
    pub epoch: String,
    /// Its recipients.
    pub recipients: Vec<String>,
}

/// List the repository's keys (reads only; no job).
pub fn key_list(cx: &Context) -> Result<KeyList> {
    let ctl = cx.controller()?;
    let (current, _) = ctl.keys()?;
    let (manifests, _) = ctl.repo.manifests()?;
    let backups = manifests
        .iter()
        .map(|m| {
            Ok(BackupKeys {
                backup: m.id.clone(),
                epoch: m.epoch.to_hex(),
                recipients: ctl.repo.epoch_recipients(&m.epoch)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(KeyList {
        fingerprint: ctl.repo.fingerprint(),
        current: EpochKeys {
            epoch: current.to_hex(),
            recipients: ctl.repo.epoch_recipients(&current)?,
        },
        backups,
    })
}

/// Write a new age identity to `output` (mode 0600, synced; never overwrites a file) and return
/// its public recipient. Needs no repository.
pub fn generate_key(output: &Path) -> Result<String> {
    crate::keys::identity::generate_file(output)
}

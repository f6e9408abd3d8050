//! Key rotation.

use super::Context;
use crate::crypto::Recipient;
use crate::jobs::JobKind;
use crate::Result;

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

//! The scheduled verify: one rotating subset of the packs of the internal repository, then the
//! same subset of the target's own copy (read over the network) when a target is set.

use crate::controller::Controller;
use crate::error::{CopySide, Error, Result};
use crate::progress::Progress;

/// Verify subset `slice` of `slices` on both copies. A damaged internal copy fails the job naming
/// the repository; a damaged target copy fails it naming the target (its error is damage on
/// [`CopySide::Target`], so the alert's subject is the target).
pub fn verify_both(ctl: &Controller, progress: &Progress, slice: u32, slices: u32) -> Result<()> {
    let index = ctl.index()?;
    let local = crate::verify::verify_slice(&ctl.repo, &index, progress, slice, slices)?;
    drop(index);
    let target = crate::remote::verify_target_slice(ctl, progress, slice, slices)
        .map_err(|e| e.on_copy(CopySide::Target));
    if !local.clean() {
        return Err(Error::corrupt_in(
            CopySide::Internal,
            crate::remote::INTERNAL_COPY,
            format!(
                "damaged objects: {}; damaged backups: {}",
                names(local.damaged_objects.keys()),
                names(local.damaged_backups.keys())
            ),
        ));
    }
    match target? {
        None => Ok(()),
        Some((r, _)) if r.clean() => Ok(()),
        Some((r, place)) => Err(Error::corrupt_in(
            CopySide::Target,
            format!("{} at {place}", crate::remote::TARGET_COPY),
            format!(
                "damaged objects: {}; damaged backups: {} (run `cairn export` to heal it from the internal copy)",
                names(r.damaged_objects.keys()),
                names(r.damaged_backups.keys())
            ),
        )),
    }
}

fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = it.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

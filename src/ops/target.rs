//! The target's settings (`cairn target set|show|clear`, the API later).

use super::Context;
use crate::target::TargetConfig;
use crate::Result;

/// Set the target to `cfg` once it is reachable, writable and holds no other repository
/// ([`crate::remote::accept`]).
pub fn set_target(cx: &Context, cfg: &TargetConfig) -> Result<()> {
    let ctl = cx.controller()?;
    crate::remote::accept(ctl, cfg)?;
    cfg.save(&ctl.root)
}

/// The target, if one is set.
pub fn target(cx: &Context) -> Result<Option<TargetConfig>> {
    TargetConfig::load(&cx.controller()?.root)
}

/// Forget the target (nothing on it is deleted); whether one was set.
pub fn clear_target(cx: &Context) -> Result<bool> {
    TargetConfig::clear(&cx.controller()?.root)
}

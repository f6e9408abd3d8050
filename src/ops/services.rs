//! The services a backup covers: add, list, remove (`cairn service …`, the API later).

use super::chunk_choice::{self, ChunkChoice};
use super::Context;
use crate::service::{HookSettings, ServiceDef};
use crate::{Error, Result};
use std::path::Path;

/// Add `def`; a relative `path` is taken from the current directory (the definition keeps it
/// absolute). A service given no chunk size gets one recorded in its definition: a `command`
/// service [`crate::chunker::COMMAND_DEFAULT_AVG`]; a `path` service whose bytes are mostly in
/// large files the size [`chunk_choice::choose`] returns (which is returned too, for the
/// operator to be told); any other uses the repository's chunker.
pub fn add_service(cx: &Context, mut def: ServiceDef) -> Result<Option<ChunkChoice>> {
    let ctl = cx.controller()?;
    if def.command.is_some() && def.chunk_size.is_none() {
        def.chunk_size = Some(crate::chunker::COMMAND_DEFAULT_AVG);
    }
    let mut list = ctl.services()?;
    if let Some(p) = &def.path {
        def.path = Some(absolute(Path::new(p))?);
    }
    if let Some(p) = &def.capture_path {
        def.capture_path = Some(absolute(Path::new(p))?);
    }
    let chosen = match (&def.path, def.chunk_size) {
        (Some(p), None) => chunk_choice::choose(Path::new(p), ctl.repo.config.chunker.avg),
        _ => None,
    };
    if let Some(c) = chosen {
        def.chunk_size = Some(c.avg);
    }
    list.add(def)?;
    ctl.save_services(&list)?;
    Ok(chosen)
}

/// Change service `name`'s hooks or restore order (`cairn service set`); refused (exit 2) if
/// the result is incomplete or its restore order has a cycle.
pub fn set_service(cx: &Context, name: &str, changes: &HookSettings) -> Result<ServiceDef> {
    let ctl = cx.controller()?;
    let mut list = ctl.services()?;
    let mut def = list
        .services
        .iter()
        .find(|s| s.name == name)
        .cloned()
        .ok_or_else(|| {
            Error::usage(
                format!("no service named {name}"),
                format!("`cairn service list` shows the configured services; add it with `cairn service add {name} ...`"),
            )
        })?;
    changes.apply(&mut def);
    if let Some(p) = &def.capture_path {
        def.capture_path = Some(absolute(Path::new(p))?);
    }
    list.set(def.clone())?;
    ctl.save_services(&list)?;
    Ok(def)
}

/// The configured services, in the order they were added.
pub fn services(cx: &Context) -> Result<Vec<ServiceDef>> {
    Ok(cx.controller()?.services()?.services)
}

/// Remove the service `name` (its backups stay).
pub fn remove_service(cx: &Context, name: &str) -> Result<ServiceDef> {
    let ctl = cx.controller()?;
    let mut list = ctl.services()?;
    let gone = list.remove(name)?;
    ctl.save_services(&list)?;
    Ok(gone)
}

/// `p` as an absolute path, from the current directory if relative.
fn absolute(p: &Path) -> Result<String> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("current directory", e))?
            .join(p)
    };
    Ok(abs.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_relative_service_path_is_made_absolute() {
        let cwd = std::env::current_dir().unwrap();
        let got = super::absolute("data/db".as_ref()).unwrap();
        assert_eq!(got, cwd.join("data/db").to_string_lossy());
        assert_eq!(super::absolute("/srv/x".as_ref()).unwrap(), "/srv/x");
    }
}

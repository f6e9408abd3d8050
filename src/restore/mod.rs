//! Restoring a backup (or one service, or one path) into a directory, never leaving it.
//!
//! - **Confined** ([`confined`]): the target is opened once; every service directory, file,
//!   directory and symlink is made relative to its parent's open handle by one checked name,
//!   with `O_NOFOLLOW`. No symlink, found in the target or restored earlier in the same run, is
//!   ever followed. Owner, mode and times are set on open handles.
//! - **Names**: trees with unsafe, duplicate or unsorted names do not decode
//!   ([`crate::format::tree`]); a service name that is not a plain name is refused before
//!   anything is written.
//! - **Checked, then committed** ([`write`]): every chunk is decrypted, decompressed and checked
//!   against its id before a byte is written; each file is written under a temporary name and
//!   renamed over its name only once all of it checked out, so a damaged backup never destroys
//!   or truncates a live file (`--overwrite`). The damaged file is named, and the restore exits
//!   1 after restoring everything else.
//! - **Budgets** ([`budget`]): entries decoded, files and bytes restored never exceed what the
//!   manifest declares for the service; arithmetic on decoded sizes is checked.
//! - **Fast**: files are written by a pool of threads, and the chunks of one large file are read,
//!   decrypted and checked on several threads ([`write`]); all-zero chunks become holes (sparse
//!   files stay sparse).

mod budget;
mod confined;
#[cfg(test)]
pub(crate) mod tests;
mod walk;
mod write;

use crate::error::{Error, Result};
use crate::format::manifest::{Manifest, ServiceRecord};
use crate::format::tree::safe_name;
use crate::keyring::KeyRing;
use crate::locator::{ChunkReader, Locator};
use crate::progress::Progress;
use crate::repository::Repository;
use confined::{Dir, Inherit};
use crossbeam_channel::bounded;
use std::path::PathBuf;
use std::sync::Mutex;
use walk::{Job, Walk};

/// What to restore and where.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Directory to restore into (`TARGET/<service>/…`).
    pub target: PathBuf,
    /// Only this service.
    pub service: Option<String>,
    /// Only this path inside the service(s).
    pub path: Option<String>,
    /// Allow a non-empty target (existing files are replaced).
    pub overwrite: bool,
}

/// What a restore did.
#[derive(Debug, Default, Clone)]
pub struct RestoreReport {
    /// Regular files written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

/// Everything the walk and the writers share.
pub(crate) struct Ctx<'a> {
    pub(crate) reader: ChunkReader<'a>,
    pub(crate) locator: &'a Locator,
    pub(crate) backup: &'a str,
    /// The target directory, for messages.
    pub(crate) target: String,
    pub(crate) progress: &'a Progress,
    pub(crate) report: Mutex<RestoreReport>,
    /// Files and directories not restored because their stored data is damaged.
    pub(crate) damaged: Mutex<Vec<String>>,
    pub(crate) is_root: bool,
    pub(crate) overwrite: bool,
    /// What a file made in the target gets by itself, where that is known (never with
    /// `overwrite`: directories already there may pass on a group or an ACL).
    pub(crate) inherit: Option<Inherit>,
}

impl Ctx<'_> {
    pub(crate) fn report(&self) -> std::sync::MutexGuard<'_, RestoreReport> {
        self.report.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn damage(&self, what: String) {
        tracing::debug!("{what}");
        self.damaged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what);
    }
}

/// Whether a service name from a manifest may name a directory: the rules of `service add`
/// (letters, digits, `-`, `_`, `.`, not starting with `.`, at most 64 bytes), and a safe name.
pub(crate) fn plain_service_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && safe_name(n.as_bytes())
}

/// Restore `m` according to `opts`.
pub fn restore(
    repo: &Repository,
    keys: &KeyRing,
    m: &Manifest,
    opts: &RestoreOptions,
    progress: &Progress,
) -> Result<RestoreReport> {
    if !opts.overwrite && !crate::fsutil::dir_is_empty(&opts.target)? {
        return Err(Error::usage(
            format!("target {} is not empty", opts.target.display()),
            "restore into an empty or new directory, or pass --overwrite to replace what is there",
        ));
    }
    keys.session(repo, &m.session, &m.id)?; // a wrong identity fails here, before anything is written
    let services = services_to_restore(m, opts.service.as_deref())?;
    let locator = Locator::scan(repo, Some(&m.refs))?;
    progress.total.store(
        services.iter().fold(0u64, |a, s| a.saturating_add(s.bytes)),
        std::sync::atomic::Ordering::Relaxed,
    );
    raise_open_file_limit();
    let target = Dir::open_target(&opts.target)
        .map_err(|e| Error::io(opts.target.display().to_string(), e))?;
    let ctx = Ctx {
        reader: ChunkReader::new(repo, keys, &locator),
        locator: &locator,
        backup: &m.id,
        target: opts.target.display().to_string(),
        progress,
        report: Mutex::default(),
        damaged: Mutex::default(),
        is_root: rustix::process::geteuid().is_root(),
        overwrite: opts.overwrite,
        inherit: (!opts.overwrite).then(|| Inherit::of(&target)).flatten(),
    };
    write_services(&ctx, &target, &services, opts.path.as_deref())?;
    let damaged = ctx.damaged.into_inner().unwrap_or_else(|p| p.into_inner());
    if !damaged.is_empty() {
        return Err(damaged_error(&m.id, &damaged));
    }
    Ok(ctx.report.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// The services of `m` to restore: all, or the one named. A service name is a directory name
/// under the target, never a path: a backup with any other name is refused as damaged.
fn services_to_restore<'m>(m: &'m Manifest, only: Option<&str>) -> Result<Vec<&'m ServiceRecord>> {
    let services: Vec<&ServiceRecord> = match only {
        None => m.services.iter().collect(),
        Some(name) => {
            let s = m.services.iter().find(|s| s.name == name).ok_or_else(|| {
                let names: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
                Error::usage(
                    format!("backup {} has no service {name}", m.id),
                    format!("its services are: {}", names.join(", ")),
                )
            })?;
            vec![s]
        }
    };
    if let Some(bad) = services.iter().find(|s| !plain_service_name(&s.name)) {
        return Err(Error::corrupt(
            format!("backup {}", m.id),
            format!(
                "its service name {:?} is not a plain name (letters, digits, '-', '_', '.'); \
                 nothing was restored: the backup is damaged or was not written by cairn",
                bad.name
            ),
        ));
    }
    Ok(services)
}

/// Walk `services` (only `path` within them, if given) into `target`, the files written by a
/// pool of writer threads.
fn write_services(
    ctx: &Ctx,
    target: &Dir,
    services: &[&ServiceRecord],
    path: Option<&str>,
) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4)
        .clamp(2, 16);
    let (tx, rx) = bounded::<Job>(256);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads {
            let rx = rx.clone();
            scope.spawn(move || {
                for job in rx {
                    write::file(ctx, job);
                }
            });
        }
        drop(rx);
        // The walk recurses once per directory level: give it a stack for the deepest tree
        // allowed (walk::MAX_DEPTH).
        let walker = std::thread::Builder::new()
            .name("cairn-restore-walk".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                let walk = Walk { ctx, tx, path };
                services.iter().try_for_each(|s| walk.service(target, s))
            })
            .map_err(|e| {
                Error::failed(
                    format!("cannot start the restore: {e}"),
                    "the system could not start a thread (too little memory or too many \
                     processes): retry the restore once the load is lower",
                )
            })?;
        walker
            .join()
            .map_err(|_| Error::failed("the restore walk panicked", "report a bug"))?
    })
}

/// The error of a restore that left out entries whose stored data is damaged.
fn damaged_error(backup: &str, damaged: &[String]) -> Error {
    Error::corrupt(
        format!("backup {backup}"),
        format!(
            "{} entr{} not restored because the stored data is damaged (any live copy in \
             the target was left as it was): {}",
            damaged.len(),
            if damaged.len() == 1 { "y" } else { "ies" },
            damaged.join("; ")
        ),
    )
}

/// A deep tree holds one directory handle per level, and queued files hold theirs: use the
/// hard limit on open files, not the (often 1024) soft one.
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let l = getrlimit(Resource::Nofile);
    if l.current != l.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: l.maximum,
                maximum: l.maximum,
            },
        );
    }
}

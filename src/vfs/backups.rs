//! The backups the mount's root shows, rescanned when the root is looked at (at most once per
//! second) so that a backup taken while mounted appears, and a pruned one goes.

use crate::format::manifest::{Manifest, ServiceRecord};
use crate::id::{BackupId, KeyId};
use crate::repository::Repository;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How old the list may get before the root's next lookup or listing rescans it.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// What the mount keeps of a backup's manifest (not its list of chunk references).
#[derive(Debug)]
pub(crate) struct BackupInfo {
    /// The backup id, also its directory's name.
    pub(crate) id: Arc<str>,
    /// When it was taken, unix milliseconds.
    pub(crate) time_ms: i64,
    /// Its session key envelope (to check the identity can decrypt it).
    pub(crate) session: KeyId,
    /// Its services.
    pub(crate) services: Vec<ServiceRecord>,
}

impl BackupInfo {
    fn of(m: Manifest) -> Self {
        BackupInfo {
            id: m.id.as_str().into(),
            time_ms: m.time_ms,
            session: m.session,
            services: m.services,
        }
    }
}

/// The known backups, oldest first.
pub(crate) struct Backups {
    scanned: Option<Instant>,
    /// Object name → decoded backup (None: the manifest does not decode; not retried).
    known: HashMap<String, Option<Arc<BackupInfo>>>,
    list: Arc<Vec<Arc<BackupInfo>>>,
    /// Rescans done so far.
    scans: u64,
    /// Times the list changed after the first scan, and the last time it did (unix ms).
    changes: u64,
    changed_ms: i64,
}

impl Backups {
    /// Nothing known yet.
    pub(crate) fn new() -> Self {
        Backups {
            scanned: None,
            known: HashMap::new(),
            list: Arc::default(),
            scans: 0,
            changes: 0,
            changed_ms: 0,
        }
    }

    /// The backups, rescanned first if the list is older than a second. A failed rescan keeps
    /// the previous list (and is logged).
    pub(crate) fn current(&mut self, repo: &Repository) -> Arc<Vec<Arc<BackupInfo>>> {
        if self.scanned.is_none_or(|t| t.elapsed() >= FRESH_FOR) {
            if let Err(e) = self.rescan(repo) {
                tracing::error!("listing the backups failed: {e}");
            }
            self.scanned = Some(Instant::now());
        }
        self.list.clone()
    }

    /// Read the manifests not seen yet; forget those that are gone.
    pub(crate) fn rescan(&mut self, repo: &Repository) -> crate::Result<()> {
        let names = repo.manifest_names()?;
        let changed =
            names.len() != self.known.len() || names.iter().any(|n| !self.known.contains_key(n));
        if changed && self.scans > 0 {
            self.changes += 1;
            self.changed_ms = crate::backup::now_ms();
        }
        self.scans += 1;
        let mut known = HashMap::with_capacity(names.len());
        let mut list = Vec::with_capacity(names.len());
        for name in names {
            let info = match self.known.remove(&name) {
                Some(info) => info,
                None => match read(repo, &name) {
                    Ok(m) => Some(Arc::new(BackupInfo::of(m))),
                    Err(e) => {
                        tracing::warn!("backup {name} is not shown: {e}");
                        None
                    }
                },
            };
            if let Some(i) = &info {
                list.push(i.clone());
            }
            known.insert(name, info);
        }
        self.known = known;
        self.list = Arc::new(list);
        Ok(())
    }
}

impl Backups {
    /// The root directory's mtime: the newest backup's time, or the last time the list changed
    /// while mounted if later, plus the number of changes in nanoseconds. It moves whenever the
    /// list does (a pruned old backup too), which is what makes the kernel list the root again.
    pub(crate) fn root_mtime(&self) -> (i64, u32) {
        let newest = self.list.last().map(|b| b.time_ms).unwrap_or(0);
        (
            newest.max(self.changed_ms),
            (self.changes % 1_000_000) as u32,
        )
    }
}

fn read(repo: &Repository, name: &str) -> crate::Result<Manifest> {
    // signature, repository id and name checked by the repository
    let m = repo.read_manifest(name)?;
    if m.name() != name || BackupId::parse(&m.id).is_none() {
        return Err(crate::Error::corrupt(
            name,
            "manifest id does not match its name",
        ));
    }
    Ok(m)
}

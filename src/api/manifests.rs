//! The server's cache of decoded manifests (without their references, which are only counted), for the listings it answers again and again
//! (`GET /api/v1/backups`, `/status`, `/metrics`): a manifest is read, checked and decoded once,
//! then reused while the repository's `backups/` listing shows the same object with the same
//! size and modification time. The listing is read on every call, so a backup (a new name), a
//! prune (a name gone) or any rewrite of a manifest's file (another size or mtime) is seen by the
//! next call: the cache is never staler than the directory (to the file system's timestamp
//! granularity, for a rewrite of the same size within one tick). Damaged manifests are not cached:
//! each call reads them again and reports them.
//!
//! Listing `backups/` and stamping its files costs a system call per backup, too much for every
//! request of a busy dashboard: while the directory's own stamp ([`super::stamp`]) is unchanged
//! and settled, and the last listing found nothing damaged, the last listing is the answer (cairn
//! writes a manifest by renaming it into place, which changes the directory). Each different
//! listing gets a new generation, the key of the documents made from it.

use crate::controller::Controller;
use crate::repository::{Damaged, ManifestHead};
use crate::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// How much of a manifest is read at once: its references are counted, not kept (a cache of
/// whole manifests would grow with every chunk of every backup).
const HEAD_BLOCK: usize = 1 << 20;

/// What identifies one version of a manifest's file.
type Stamp = Option<(u64, SystemTime)>;

/// Decoded manifests by object name.
#[derive(Default)]
pub struct ManifestCache {
    entries: Mutex<HashMap<String, (Stamp, Arc<ManifestHead>)>>,
    last: Mutex<Last>,
}

/// The manifests of one listing, oldest first, and its generation.
#[derive(Clone, Default)]
pub struct Listing {
    /// Different for each different listing this cache answered.
    pub generation: u64,
    /// The manifests, oldest first.
    pub manifests: Arc<Vec<Arc<ManifestHead>>>,
}

/// The last listing, and the stamp of `backups/` before it was read (`None`: not reusable).
#[derive(Default)]
struct Last {
    dir: Option<super::stamp::Stamp>,
    listing: Listing,
}

impl ManifestCache {
    /// Every manifest of `ctl`'s repository, oldest first, and the damaged ones: what
    /// [`crate::repository::Repository::manifests`] answers, from the cache where it holds.
    pub fn manifests(&self, ctl: &Controller) -> Result<(Vec<Arc<ManifestHead>>, Vec<Damaged>)> {
        let (l, bad) = self.listing(ctl)?;
        Ok((l.manifests.to_vec(), bad))
    }

    /// As [`ManifestCache::manifests`], with the listing's generation; the last listing again
    /// while `backups/` is unchanged (module documentation).
    pub fn listing(&self, ctl: &Controller) -> Result<(Listing, Vec<Damaged>)> {
        self.listing_at(&ctl.root, || Ok(ctl))
    }

    /// As [`ManifestCache::listing`] for the repository at `root`, opened with `open` only when
    /// the last listing cannot be reused.
    pub fn listing_at<C: std::borrow::Borrow<Controller>>(
        &self,
        root: &std::path::Path,
        open: impl FnOnce() -> Result<C>,
    ) -> Result<(Listing, Vec<Damaged>)> {
        // stamped before the reading: a change after it gets a later stamp, unless it falls in
        // the same tick as a change the stamp already shows (then the stamp is unsettled and
        // the listing is not kept)
        let dir = super::stamp::Stamp::of(&root.join("backups"));
        {
            let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.dir == Some(dir) && dir != Default::default() {
                return Ok((last.listing.clone(), Vec::new()));
            }
        }
        let (good, bad) = self.read(open()?.borrow())?;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let same = good.len() == last.listing.manifests.len()
            && good
                .iter()
                .zip(last.listing.manifests.iter())
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            last.listing = Listing {
                generation: last.listing.generation + 1,
                manifests: Arc::new(good),
            };
        }
        last.dir = (bad.is_empty() && dir.settled()).then_some(dir);
        Ok((last.listing.clone(), bad))
    }

    /// List `backups/` and stamp each manifest's file, decoding those not cached.
    fn read(&self, ctl: &Controller) -> Result<(Vec<Arc<ManifestHead>>, Vec<Damaged>)> {
        let listed = ctl.repo.manifest_names()?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = HashMap::with_capacity(listed.len());
        let (mut good, mut bad) = (Vec::with_capacity(listed.len()), Vec::new());
        for name in listed {
            // size and mtime of the file; an object without both is never served from the cache
            let stamp = std::fs::metadata(ctl.root.join(&name))
                .and_then(|m| Ok((m.len(), m.modified()?)))
                .ok();
            let cached = entries
                .remove(&name)
                .filter(|(s, _)| stamp.is_some() && *s == stamp);
            let m = match cached {
                Some((_, m)) => m,
                None => match ctl.repo.read_head(&name, HEAD_BLOCK) {
                    Ok(m) => Arc::new(m),
                    Err(e) => {
                        bad.push((name, e));
                        continue;
                    }
                },
            };
            good.push(m.clone());
            kept.insert(name, (stamp, m));
        }
        *entries = kept;
        Ok((good, bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Context;

    fn ids(c: &ManifestCache, ctl: &Controller) -> Vec<String> {
        c.manifests(ctl)
            .unwrap()
            .0
            .iter()
            .map(|m| m.id.clone())
            .collect()
    }

    fn repo() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("f"), b"data").unwrap();
        let (_, recipient) = crate::crypto::generate_identity();
        let ctl = Controller::init(
            &root,
            &[crate::crypto::parse_recipient(&recipient).unwrap()],
        )
        .unwrap();
        let mut services = ctl.services().unwrap();
        services
            .add(crate::service::ServiceDef {
                name: "s".into(),
                path: Some(src.display().to_string()),
                command: None,
                restore_command: None,
                ..Default::default()
            })
            .unwrap();
        ctl.save_services(&services).unwrap();
        (dir, root)
    }

    fn backup(root: &std::path::Path) -> String {
        crate::ops::backup(&Context::new(root)).unwrap();
        let ctl = Controller::open(root).unwrap();
        ctl.repo.manifests().unwrap().0.last().unwrap().id.clone()
    }

    #[test]
    fn the_cache_sees_a_new_backup_and_a_prune() {
        let (_dir, root) = repo();
        let c = ManifestCache::default();
        let first = backup(&root);
        let ctl = Controller::open(&root).unwrap();
        assert_eq!(ids(&c, &ctl), vec![first.clone()]);
        let second = backup(&root);
        assert_eq!(ids(&c, &ctl), [first.clone(), second.clone()]);
        let keep_newest = crate::retention::Policy {
            keep_within: None,
            keep_last: Some(1),
        };
        crate::ops::prune(&Context::new(&root), &keep_newest, false).unwrap();
        assert_eq!(ids(&c, &ctl), vec![second.clone()]);
        assert_eq!(
            ids(&c, &ctl),
            ctl.repo
                .manifests()
                .unwrap()
                .0
                .iter()
                .map(|m| m.id.clone())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_manifest_damaged_after_it_was_cached_is_reported_not_served() {
        let (_dir, root) = repo();
        let c = ManifestCache::default();
        let id = backup(&root);
        let ctl = Controller::open(&root).unwrap();
        assert_eq!(ids(&c, &ctl), vec![id.clone()]);
        let name = format!("backups/{id}");
        let path = root.join(&name);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1; // same size
        std::thread::sleep(std::time::Duration::from_millis(20)); // a later mtime tick
        let mode = std::fs::metadata(&path).unwrap().permissions();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        std::fs::set_permissions(&path, mode).unwrap();
        let (good, bad) = c.manifests(&ctl).unwrap();
        assert!(good.is_empty());
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, name);
    }
}

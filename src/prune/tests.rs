//! Prune on real repositories built by real backups in temporary directories.

use super::*;
use crate::backend::MemoryBackend;
use crate::keyring::KeyRing;
use crate::restore::{restore, RestoreOptions};
use crate::testutil::{bytes, TestRepo};
use std::path::Path;
use std::sync::Arc;

struct Fixture {
    _dir: tempfile::TempDir,
    src: std::path::PathBuf,
    ctl: Controller,
    keys: KeyRing,
}

fn fixture() -> Fixture {
    let t = TestRepo::with_service("svc");
    let keys = t.keys();
    Fixture {
        _dir: t.dir,
        src: t.src,
        ctl: t.ctl,
        keys,
    }
}

impl Fixture {
    fn write(&self, name: &str, seed: u64, len: usize) {
        std::fs::write(self.src.join(name), bytes(seed, len)).unwrap();
    }

    /// Back up; the manifest as read back (with its references).
    fn backup(&self) -> Manifest {
        let m = crate::backup::run(&self.ctl, &Progress::default()).unwrap();
        self.ctl.repo.read_manifest(&m.name()).unwrap()
    }

    /// Restore `m` into a new directory and return what `name` holds there.
    fn restored(&self, m: &Manifest, repo: &Repository) -> std::path::PathBuf {
        let out = self
            ._dir
            .path()
            .join(format!("restore-{}", rand::random::<u64>()));
        let opts = RestoreOptions {
            target: out.clone(),
            ..Default::default()
        };
        restore(repo, &self.keys, m, &opts, &Progress::default()).unwrap();
        out.join("svc")
    }

    fn objects(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .ctl
            .repo
            .store
            .list("")
            .unwrap()
            .into_iter()
            .map(|o| (o.name, o.size))
            .collect();
        v.sort();
        v
    }

    fn data_bytes(&self) -> u64 {
        let s = self.ctl.repo.store.list("data/").unwrap();
        s.iter().map(|o| o.size).sum()
    }

    fn verify_clean(&self, repo: &Repository, index: &Index) {
        let r = crate::verify::verify(repo, index, Some(&self.keys), &Progress::default()).unwrap();
        assert!(r.clean(), "verify: {r:?}");
    }
}

fn same_tree(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let mut other: Vec<_> = std::fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    other.sort();
    assert_eq!(names, other);
    for n in names {
        assert_eq!(
            std::fs::read(a.join(&n)).unwrap(),
            std::fs::read(b.join(&n)).unwrap(),
            "{n:?} differs"
        );
    }
}

fn keep_last(n: usize) -> Policy {
    Policy {
        keep_within: None,
        keep_last: Some(n),
    }
}

/// Three backups; the middle file set changes so that the first pack is only partly live.
fn three_backups(f: &Fixture) -> Vec<Manifest> {
    f.write("a", 1, 900_000);
    f.write("b", 2, 700_000);
    let b1 = f.backup();
    f.write("c", 3, 800_000);
    let b2 = f.backup();
    std::fs::remove_file(f.src.join("a")).unwrap();
    f.write("c", 4, 600_000);
    let b3 = f.backup();
    vec![b1, b2, b3]
}

#[test]
fn dry_run_changes_nothing() {
    let f = fixture();
    three_backups(&f);
    let before = f.objects();
    let idx = f.ctl.index().unwrap();
    let p = plan(&f.ctl.repo, &idx, &keep_last(1), Utc::now()).unwrap();
    let r = execute(&f.ctl.repo, &idx, &p, true, &Progress::default()).unwrap();
    assert!(r.dry_run);
    assert_eq!(r.backups_forgotten.len(), 2);
    assert!(r.packs_deleted + r.packs_rewritten >= 2, "{r:?}");
    assert!(r.bytes_freed > 1_000_000, "{r:?}");
    assert_eq!(f.objects(), before);
}

#[test]
fn prune_forgets_reclaims_and_keeps_the_kept_backup_whole() {
    let f = fixture();
    let ms = three_backups(&f);
    let before = f.data_bytes();
    let r = prune_local(
        &f.ctl,
        &keep_last(1),
        Utc::now(),
        false,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(
        r.backups_forgotten,
        vec![ms[0].id.clone(), ms[1].id.clone()]
    );
    assert_eq!(r.backups_kept, 1);
    // b1's pack held a (dead) and b (live): rewritten; b2's pack held only the old c: deleted.
    assert_eq!(r.packs_rewritten, 1, "{r:?}");
    assert_eq!(r.packs_deleted, 1, "{r:?}");
    assert_eq!(r.packs_written, 1, "{r:?}");
    let after = f.data_bytes();
    assert!(after < before - 1_500_000, "{before} -> {after}");
    assert!(r.bytes_freed >= before - after, "{r:?}");
    let (left, bad) = f.ctl.repo.manifests().unwrap();
    assert!(bad.is_empty());
    let listed = Manifest {
        refs: vec![],
        ..ms[2].clone()
    };
    assert_eq!(left, vec![listed]);
    let idx = f.ctl.index().unwrap();
    f.verify_clean(&f.ctl.repo, &idx);
    same_tree(&f.src, &f.restored(&ms[2], &f.ctl.repo));
    // the kept backup's envelopes and the current epoch stay
    let (epoch, _) = f.ctl.keys().unwrap();
    assert!(f.ctl.repo.envelope(&epoch).is_ok());
    assert!(f.ctl.repo.envelope(&ms[2].session).is_ok());
    // b2's session sealed nothing that is left: its envelope is gone
    assert!(f.ctl.repo.envelope(&ms[1].session).is_err());
    drop(idx);
    // a second prune has nothing left to do
    let again = prune_local(
        &f.ctl,
        &keep_last(1),
        Utc::now(),
        false,
        &Progress::default(),
    )
    .unwrap();
    assert!(again.backups_forgotten.is_empty());
    assert_eq!(again.packs_deleted + again.packs_rewritten, 0, "{again:?}");
    assert_eq!(again.envelopes_deleted, 0);
}

#[test]
fn a_duplicate_left_by_an_interrupted_rewrite_is_reclaimed() {
    let f = fixture();
    f.write("a", 1, 900_000);
    f.write("b", 2, 700_000);
    let b1 = f.backup();
    std::fs::remove_file(f.src.join("a")).unwrap();
    let b2 = f.backup();
    let idx = f.ctl.index().unwrap();
    let store = f.ctl.repo.store.as_ref();
    let first = f.ctl.repo.store.list("data/").unwrap();
    // as a prune killed after forgetting b1 and writing the new pack, before deleting the old
    store.delete(&format!("backups/{}", b1.id)).unwrap();
    let mut live = LiveSet::default();
    live.merge(b2.refs.clone());
    let mut rewritten = None;
    for o in &first {
        let pid = ObjectName::pack(&o.name).unwrap();
        let h = read_pack_header(store, &o.name, o.size).unwrap();
        if h.session != b1.session {
            continue;
        }
        let u = PackUse {
            id: pid,
            size: o.size,
            live_bytes: 0,
            dead_bytes: 0,
            session: h.session,
        };
        let mut w = Rewriter::new(store, &idx, 16 << 20);
        assert!(w.copy_live(&u, &live).unwrap());
        w.flush().unwrap();
        rewritten = Some(pid);
    }
    let old = rewritten.unwrap();
    assert_eq!(store.list("data/").unwrap().len(), first.len() + 1);
    drop(idx);
    let r = prune_local(
        &f.ctl,
        &keep_last(1),
        Utc::now(),
        false,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!((r.packs_deleted, r.packs_rewritten), (1, 0), "{r:?}");
    assert_eq!(store.stat(&old.object_name()).unwrap(), None);
    assert_eq!(store.list("data/").unwrap().len(), first.len());
    let idx = f.ctl.index().unwrap();
    f.verify_clean(&f.ctl.repo, &idx);
    same_tree(&f.src, &f.restored(&b2, &f.ctl.repo));
}

#[test]
fn the_target_copy_is_pruned_without_local_state() {
    let f = fixture();
    let ms = three_backups(&f);
    // the share's copy: every object but local state
    let share = Arc::new(MemoryBackend::new());
    for o in f.ctl.repo.store.list("").unwrap() {
        share
            .write(&o.name, &f.ctl.repo.store.read(&o.name).unwrap())
            .unwrap();
    }
    let local = prune_local(
        &f.ctl,
        &keep_last(1),
        Utc::now(),
        false,
        &Progress::default(),
    )
    .unwrap();
    let (epoch, _) = f.ctl.keys().unwrap();
    let scope = Scope {
        also_forget: local.backups_forgotten.clone(),
        protect_keys: vec![epoch],
    };
    // a policy that alone would keep everything: the local decisions still apply
    let keep_all = Policy {
        keep_within: Some(std::time::Duration::from_secs(3600)),
        keep_last: None,
    };
    let store: Arc<dyn Backend> = share.clone();
    let r = prune_repo(
        &Repository::open(store.clone()).unwrap(),
        &keep_all,
        Utc::now(),
        &scope,
        false,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(r.backups_forgotten, local.backups_forgotten);
    assert_eq!((r.packs_deleted, r.packs_rewritten), (1, 1), "{r:?}");
    // same packs before, same decisions: the same new pack on both copies
    let names = |s: &dyn Backend| -> Vec<String> {
        let mut v: Vec<_> = s.list("").unwrap().into_iter().map(|o| o.name).collect();
        v.sort();
        v
    };
    assert_eq!(names(share.as_ref()), names(f.ctl.repo.store.as_ref()));
    let repo = Repository::open(store).unwrap();
    let idx = Index::temporary().unwrap();
    idx.sync(repo.store.as_ref()).unwrap();
    f.verify_clean(&repo, &idx);
    same_tree(&f.src, &f.restored(&ms[2], &repo));
}

#[test]
fn the_newest_backup_is_never_forgotten_even_when_asked() {
    let f = fixture();
    f.write("a", 1, 100_000);
    let b1 = f.backup();
    let idx = f.ctl.index().unwrap();
    let scope = Scope {
        also_forget: vec![b1.id.clone()],
        protect_keys: vec![],
    };
    let p = plan_with(&f.ctl.repo, &idx, &keep_last(0), Utc::now(), &scope).unwrap();
    assert!(p.forget.is_empty());
    assert!(p.delete_packs.is_empty() && p.rewrite_packs.is_empty());
    assert!(p.delete_envelopes.is_empty(), "{:?}", p.delete_envelopes);
}

#[test]
fn a_damaged_manifest_stops_the_prune_before_anything_is_deleted() {
    let f = fixture();
    let ms = three_backups(&f);
    let name = format!("backups/{}", ms[0].id);
    let mut b = f.ctl.repo.store.read(&name).unwrap();
    let n = b.len();
    b[n / 2] ^= 1;
    f.ctl.repo.store.write(&name, &b).unwrap();
    let before = f.objects();
    let e = prune_local(
        &f.ctl,
        &keep_last(1),
        Utc::now(),
        false,
        &Progress::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains(&name), "{e}");
    assert!(e.remedy().contains("verify"));
    assert_eq!(f.objects(), before);
}

#[test]
fn leftover_temp_files_are_removed() {
    let f = fixture();
    f.write("a", 1, 10_000);
    f.backup();
    let tmp = f.ctl.root.join("data").join(".tmp-leftover");
    std::fs::write(&tmp, b"half a pack").unwrap();
    let r = prune_local(
        &f.ctl,
        &keep_last(1),
        Utc::now(),
        false,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(r.temp_files_removed, 1);
    assert!(!tmp.exists());
}

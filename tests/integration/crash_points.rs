//! Deterministic crash tests, in the manner of redb's crash-consistency tests: the power goes at
//! every sync point (every write and delete of the store) of backup (first and deduplicating),
//! export (full and incremental), prune (the internal repository and the target's copy) and
//! recover.
//!
//! Each run works on a fresh copy of a prepared repository, with the store the operation writes
//! wrapped in [`PowerCut`]. A counting run comes first, so every sync point is covered whatever
//! their number; then one run per sync point and per landing: the temporary file written but not
//! renamed, and the rename durable but never reported. For the operations on the internal
//! repository, a third run per point rolls the index cache (`REPO/local/index`, sled, written
//! outside the store) back to where it was when the operation started, as a crash between two
//! sled flushes may.
//!
//! After the cut everything is dropped and the repository reopened from disk (the "reboot");
//! then:
//! - verify, reading every chunk with the identity, finds no damage (unreferenced debris is
//!   allowed);
//! - every listed backup restores byte for byte to what its services held when it ran, and no
//!   backup the operation did not complete is listed;
//! - the next job of the same kind succeeds and leaves the repository clean: the next backup (no
//!   temporary file left); the next export (verify --from-target clean, the target an exact copy);
//!   the next prune (a dry run then has nothing to do; after it, a backup of the forgotten
//!   backup's sources stores again what prune deleted); a recover re-run into a new repository.
//!
//! Not modelled: the small files under `REPO/local/` other than the index (keys.toml,
//! services.toml, exported.json: written with `fsutil::write_atomic`, outside the store). A
//! delete is taken as durable when it returns (`LocalBackend::delete` fsyncs the directory).

use crate::harness::{assert_same, random_bytes, snapshot, write, Entry, Snapshot};
use cairn::backend::{Backend, Landing, LocalBackend, PowerCut, SyncPoint, TEMP_PREFIX};
use cairn::controller::Controller;
use cairn::crypto;
use cairn::index::Index;
use cairn::keyring::KeyRing;
use cairn::progress::Progress;
use cairn::recover::{RecoverOptions, RecoverReport};
use cairn::repository::Repository;
use cairn::retention::Policy;
use cairn::service::ServiceDef;
use cairn::target::TargetConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A small pack target, so the few hundred KiB of the data set make many packs (sync points).
/// The repository's config allows any pack target; the tests set it on the opened repository.
const PACK_TARGET: u32 = 2 << 10;

/// What a backup must restore to: service name → its tree.
type Expected = BTreeMap<String, Snapshot>;

/// The command service: its output is stored as one file, `stdout`.
const COMMAND_SERVICE: &str = "db";

/// A source, a repository and the identity that reads it, in one temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
    /// The identity, with the keys it unwrapped cached (envelopes are named by their bytes, so
    /// the cache holds across the copies of the repository).
    keys: KeyRing,
    /// What each committed backup holds.
    backups: BTreeMap<String, Expected>,
}

impl Fixture {
    /// A repository with three services (two directories, one command) over ~120 KiB.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (identity, recipient) = crypto::generate_identity();
        let fx = Fixture {
            dir,
            keys: KeyRing::new(crypto::Identity::parse(&identity, "test identity").unwrap()),
            backups: BTreeMap::new(),
        };
        let src = fx.src();
        for i in 0..24u64 {
            write(
                &src.join(format!("identity/users/u{i:02}.bin")),
                &random_bytes(i, 1500 + 200 * i as usize),
            );
        }
        write(
            &src.join("identity/realm.json"),
            "{\"realm\": \"cloud\", \"ttl\": 300}\n"
                .repeat(40)
                .as_bytes(),
        );
        std::os::unix::fs::symlink("realm.json", src.join("identity/current")).unwrap();
        for i in 0..6u64 {
            write(
                &src.join(format!("network/conf.d/{i:02}-net.conf")),
                format!("vlan {i}\nmtu 9000\nsubnet 10.{i}.0.0/16\n")
                    .repeat(20 + 10 * i as usize)
                    .as_bytes(),
            );
        }
        write(&src.join("network/leases.db"), &random_bytes(100, 12_000));
        write(&src.join("db.dump"), &random_bytes(200, 20_000));
        let r = crypto::parse_recipient(&recipient).unwrap();
        let ctl = Controller::init(&fx.repo(), &[r]).unwrap();
        let mut services = ctl.services().unwrap();
        for name in ["identity", "network"] {
            services
                .add(ServiceDef {
                    name: name.into(),
                    path: Some(src.join(name).display().to_string()),
                    command: None,
                    restore_command: None,
                    ..Default::default()
                })
                .unwrap();
        }
        services
            .add(ServiceDef {
                name: COMMAND_SERVICE.into(),
                path: None,
                command: Some(format!("cat {}", src.join("db.dump").display())),
                restore_command: None,
                ..Default::default()
            })
            .unwrap();
        ctl.save_services(&services).unwrap();
        fx
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn src(&self) -> PathBuf {
        self.path("src")
    }

    /// The repository the fixture builds (templates are copied from it).
    fn repo(&self) -> PathBuf {
        self.path("repo")
    }

    fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// What a backup taken now must restore to.
    fn expected_now(&self) -> Expected {
        let src = self.src();
        let mut e = Expected::new();
        for name in ["identity", "network"] {
            e.insert(name.into(), snapshot(&src.join(name)));
        }
        let dump = std::fs::read(src.join("db.dump")).unwrap();
        e.insert(
            COMMAND_SERVICE.into(),
            Snapshot::from([(b"stdout".to_vec(), content_only(&dump))]),
        );
        e
    }

    /// Back up the fixture's repository (no cut) and remember what the backup holds.
    fn backup(&mut self) -> String {
        let ctl = open_repo(&self.repo(), None);
        let m = cairn::backup::run(&ctl, &Progress::default()).unwrap();
        self.backups.insert(m.id.clone(), self.expected_now());
        copy_dir(&self.src(), &self.path(&format!("src-{}", m.id)));
        m.id
    }

    /// Run `f` with the sources as they were when backup `id` ran (they are put back after).
    fn with_sources_of<T>(&self, id: &str, f: impl FnOnce() -> T) -> T {
        let (src, now) = (self.src(), self.path("src-now"));
        std::fs::rename(&src, &now).unwrap();
        copy_dir(&self.path(&format!("src-{id}")), &src);
        let out = f();
        std::fs::remove_dir_all(&src).unwrap();
        std::fs::rename(&now, &src).unwrap();
        out
    }

    /// Change the sources: five files rewritten, two added, one removed, the dump changed.
    fn mutate(&self) {
        let src = self.src();
        for i in [3u64, 9, 14, 20] {
            write(
                &src.join(format!("identity/users/u{i:02}.bin")),
                &random_bytes(300 + i, 2000 + 100 * i as usize),
            );
        }
        write(
            &src.join("identity/users/u31.bin"),
            &random_bytes(301, 5000),
        );
        write(
            &src.join("identity/users/u32.bin"),
            &random_bytes(302, 2500),
        );
        std::fs::remove_file(src.join("identity/users/u07.bin")).unwrap();
        write(
            &src.join("network/conf.d/03-net.conf"),
            b"vlan 3\nmtu 1500\nsubnet 10.3.0.0/16\n",
        );
        write(&src.join("db.dump"), &random_bytes(201, 22_000));
    }

    fn ids(&self) -> BTreeSet<String> {
        self.backups.keys().cloned().collect()
    }
}

/// A file entry that records only size and content (a command's output has no stable metadata).
fn content_only(bytes: &[u8]) -> Entry {
    Entry::File {
        mode: 0,
        size: bytes.len() as u64,
        hash: *blake3::hash(bytes).as_bytes(),
        mtime: (0, 0),
    }
}

/// Open the repository at `root` as the operations do, through `store` if given.
fn open_repo(root: &Path, store: Option<Arc<dyn Backend>>) -> Controller {
    settle_index(root);
    let mut ctl = match store {
        Some(s) => Controller::open_with_store(root, s),
        None => Controller::open(root),
    }
    .unwrap_or_else(|e| panic!("open {}: {e}", root.display()));
    ctl.repo.config.pack_target = PACK_TARGET;
    ctl
}

/// Wait until the index at `root` can be opened: sled lets go of its lock (a `flock` on
/// `index/db`) some time after the last handle is dropped (see
/// `the_index_reopens_right_after_it_was_dropped`), so an operation started at once after
/// another one could find the index "in use by another cairn process".
fn settle_index(root: &Path) {
    use std::os::fd::AsRawFd;
    let Ok(db) = std::fs::File::open(root.join("local/index/db")) else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // SAFETY: flock on a descriptor this function owns; closing it (the drop) unlocks.
    while unsafe { libc::flock(db.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the index at {} stays locked",
            root.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    settle_index(from); // a repository's index is copied only once sled has let go of it
    let s = Command::new("cp").arg("-a").arg(from).arg(to).status();
    assert!(
        s.is_ok_and(|s| s.success()),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

/// Temporary files under `dir` (outside `local/`).
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    crate::harness::files_under(dir)
        .into_iter()
        .filter(|p| !p.starts_with(dir.join("local")))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(TEMP_PREFIX))
        })
        .collect()
}

/// Names and sizes of every object in a store.
fn objects(dir: &Path) -> BTreeMap<String, u64> {
    LocalBackend::new(dir)
        .list("")
        .unwrap()
        .into_iter()
        .map(|o| (o.name, o.size))
        .collect()
}

/// The restored services under `target`, as [`Expected`].
fn restored(target: &Path) -> Expected {
    let mut out = Expected::new();
    for e in std::fs::read_dir(target).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let snap = if name == COMMAND_SERVICE {
            let bytes = std::fs::read(e.path().join("stdout")).unwrap();
            Snapshot::from([(b"stdout".to_vec(), content_only(&bytes))])
        } else {
            snapshot(&e.path())
        };
        out.insert(name, snap);
    }
    out
}

#[track_caller]
fn assert_restores_as(want: &Expected, got: &Expected, what: &str) {
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{what}: services"
    );
    for (svc, snap) in want {
        assert_same(snap, &got[svc], &format!("{what}, service {svc}"));
    }
}

/// What the reboot finds of the controller's index cache (`REPO/local/index`, written by sled
/// outside the backend: between its flushes a crash may lose any suffix of its writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IndexAfter {
    /// As the crashed process left it.
    Kept,
    /// As it was when the operation started (the operation's writes to it lost).
    RolledBack,
}

/// Where the power goes, and what survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    n: u64,
    landing: Landing,
    index: IndexAfter,
}

/// What the crash run did.
struct Run {
    /// Where the power went (None: the counting run).
    cut: Option<Cut>,
    result: cairn::Result<()>,
    points: u64,
    dead: bool,
    calls_after_cut: u64,
    log: Vec<SyncPoint>,
}

impl Run {
    /// What the sync point the power went at left.
    fn landing(&self) -> Option<Landing> {
        self.cut.map(|c| c.landing)
    }

    /// Whether the power went while writing a manifest.
    fn cut_at_manifest(&self) -> bool {
        self.cut_point()
            .is_some_and(|p| p.call == "write" && p.name.starts_with("backups/"))
    }

    fn cut_point(&self) -> Option<&SyncPoint> {
        let n = self.cut?.n;
        self.log.iter().find(|p| p.n == n)
    }

    /// A description of the cut for messages.
    fn what(&self, op: &str) -> String {
        match self.cut {
            None => format!("{op} (no cut)"),
            Some(Cut { n, landing, index }) => {
                let p = self.cut_point();
                format!(
                    "{op}, power lost at sync point {n} ({} {}, {landing:?}, index {index:?})",
                    p.map_or("?", |p| p.call),
                    p.map_or("?", |p| p.name.as_str()),
                )
            }
        }
    }
}

/// Hands the operation its store, wrapped with the planned cut, and keeps the wrapper to look at.
struct Plug {
    cut: Option<Cut>,
    made: Mutex<Option<Arc<PowerCut<LocalBackend>>>>,
}

impl Plug {
    /// The store at `dir`, through the power-cut wrapper (one per run).
    fn store(&self, dir: &Path) -> Arc<PowerCut<LocalBackend>> {
        let inner = LocalBackend::new(dir);
        let b = Arc::new(match self.cut {
            None => PowerCut::counting(inner),
            Some(c) => PowerCut::at(inner, c.n, c.landing),
        });
        let mut made = self.made.lock().unwrap();
        assert!(made.is_none(), "one wrapped store per run");
        *made = Some(b.clone());
        b
    }
}

/// Run `op` on a fresh copy of `template` once without a cut (counting its sync points), then once
/// per sync point and landing (and, with `index_rollback`, once more with the controller's index
/// rolled back to the operation's start); after each run, `check` reboots and inspects the copy.
/// Returns the number of sync points (the most any run had).
fn every_cut(
    op_name: &str,
    template: &Path,
    index_rollback: bool,
    op: &dyn Fn(&Path, &Plug) -> cairn::Result<()>,
    check: &dyn Fn(&Path, &Run),
) -> u64 {
    let scratch = tempfile::tempdir().unwrap();
    let (mut runs, mut unreached, mut max_after) = (0u64, 0u64, 0u64);
    let mut once = |cut: Option<Cut>| -> (u64, bool) {
        runs += 1;
        let world = scratch.path().join(format!("run-{runs}"));
        copy_dir(template, &world);
        let plug = Plug {
            cut,
            made: Mutex::new(None),
        };
        let result = op(&world, &plug);
        let store = plug.made.lock().unwrap().take();
        let store = store.unwrap_or_else(|| panic!("{op_name}: the operation made no store"));
        let run = Run {
            cut,
            result,
            points: store.sync_points(),
            dead: store.is_dead(),
            calls_after_cut: store.calls_after_cut(),
            log: store.log(),
        };
        drop(store); // the reboot: nothing of the crashed process survives
        let what = run.what(op_name);
        match (run.dead, &run.result) {
            (false, Err(e)) => panic!("{what}: failed without a cut: {e}"),
            (true, Ok(())) => panic!(
                "{what}: reported success after the power was lost ({} calls failed after the cut): a storage error was swallowed",
                run.calls_after_cut
            ),
            _ => {}
        }
        if cut.is_some() && !run.dead {
            unreached += 1; // this run had fewer sync points (packs are filled in thread order)
        }
        max_after = max_after.max(run.calls_after_cut);
        if cut.is_some_and(|c| c.index == IndexAfter::RolledBack) {
            let index = Path::new("repo/local/index");
            settle_index(&world.join("repo"));
            let _ = std::fs::remove_dir_all(world.join(index));
            if template.join(index).exists() {
                copy_dir(&template.join(index), &world.join(index));
            }
        }
        check(&world, &run);
        std::fs::remove_dir_all(&world).unwrap();
        (run.points, run.dead)
    };
    let (points, _) = once(None);
    assert!(points > 0, "{op_name}: no sync point");
    // Every point of the counting run, and on while some run still reaches its cut (a run can
    // have more points than the counting run: packs are filled in the order threads finish).
    let mut n = 0;
    loop {
        n += 1;
        let mut variants = vec![
            (Landing::BeforeRename, IndexAfter::Kept),
            (Landing::AfterRename, IndexAfter::Kept),
        ];
        if index_rollback {
            variants.push((Landing::AfterRename, IndexAfter::RolledBack));
        }
        let mut reached = false;
        for (landing, index) in variants {
            reached |= once(Some(Cut { n, landing, index })).1;
        }
        if n >= points && !reached {
            break;
        }
    }
    let points = points.max(n - 1);
    eprintln!(
        "{op_name}: {points} sync points, {runs} runs ({unreached} ended before their cut); at most {max_after} calls after a cut"
    );
    points
}

/// How closely [`check_copy`] looks.
#[derive(Clone, Copy)]
enum Depth<'a> {
    /// Verify reading (decrypting) every chunk, and restore every listed backup: after a cut.
    Full,
    /// Verify the structure (every pack intact, every referenced chunk in one) and restore only
    /// these backups: after the next job, whose own new work is what is left to check.
    Restore(&'a [&'a str]),
}

/// Reboot and check a copy: verify is clean, no manifest is damaged, and the listed backups
/// restore as expected (`new`: what a backup not in `fx.backups` must hold). Returns the listed
/// backups.
fn check_copy(
    what: &str,
    repo: &Repository,
    index: &Index,
    fx: &Fixture,
    new: Option<&Expected>,
    depth: Depth<'_>,
    out: &Path,
) -> BTreeSet<String> {
    let keys = match depth {
        Depth::Full => Some(fx.keys()),
        Depth::Restore(_) => None,
    };
    let report = cairn::verify::verify(repo, index, keys, &Progress::default())
        .unwrap_or_else(|e| panic!("{what}: verify failed: {e}"));
    assert!(
        report.clean(),
        "{what}: verify found damage: objects {:?}, backups {:?}",
        report.damaged_objects,
        report.damaged_backups
    );
    let (manifests, bad) = repo.manifests().unwrap();
    assert!(bad.is_empty(), "{what}: damaged manifests listed");
    let mut listed = BTreeSet::new();
    for m in manifests {
        // listed without references: the one restored is read whole
        let m = repo.read_manifest(&m.name()).unwrap();
        let want = fx.backups.get(&m.id).or(new).unwrap_or_else(|| {
            panic!(
                "{what}: backup {} is listed, but no such backup was made",
                m.id
            )
        });
        let restore = match depth {
            Depth::Full => true,
            Depth::Restore(ids) => ids.contains(&m.id.as_str()),
        };
        if restore {
            let target = out.join(format!("restore-{}", m.id));
            let opts = cairn::restore::RestoreOptions {
                target: target.clone(),
                ..Default::default()
            };
            cairn::restore::restore(repo, fx.keys(), &m, &opts, &Progress::default())
                .unwrap_or_else(|e| panic!("{what}: listed backup {} does not restore: {e}", m.id));
            assert_restores_as(
                want,
                &restored(&target),
                &format!("{what}: backup {}", m.id),
            );
            std::fs::remove_dir_all(&target).unwrap();
        }
        listed.insert(m.id);
    }
    listed
}

/// [`check_copy`] on the controller's repository at `root`, with its own index (as the next job
/// opens it).
fn check_local(
    what: &str,
    root: &Path,
    fx: &Fixture,
    new: Option<&Expected>,
    depth: Depth<'_>,
    out: &Path,
) -> BTreeSet<String> {
    let ctl = open_repo(root, None);
    let index = ctl
        .index()
        .unwrap_or_else(|e| panic!("{what}: the index does not open: {e}"));
    check_copy(what, &ctl.repo, &index, fx, new, depth, out)
}

/// [`check_copy`] on a copy without local state (the target's, a recovered one), if it holds a
/// repository yet.
fn check_store(
    what: &str,
    dir: &Path,
    fx: &Fixture,
    depth: Depth<'_>,
    out: &Path,
) -> Option<BTreeSet<String>> {
    let store = LocalBackend::new(dir);
    store.stat("config").unwrap()?;
    let repo = Repository::open(Arc::new(store))
        .unwrap_or_else(|e| panic!("{what}: the copy does not open: {e}"));
    let index = Index::temporary().unwrap();
    index.sync(repo.store.as_ref()).unwrap();
    Some(check_copy(what, &repo, &index, fx, None, depth, out))
}

/// A template for the later stages: the repository with two backups (the second deduplicated
/// against the first), plus `share`, a directory for a target.
fn two_backups() -> (Fixture, tempfile::TempDir) {
    let mut fx = Fixture::new();
    fx.backup();
    fx.mutate();
    fx.backup();
    let tpl = tempfile::tempdir().unwrap();
    copy_dir(&fx.repo(), &tpl.path().join("repo"));
    std::fs::create_dir(tpl.path().join("share")).unwrap();
    (fx, tpl)
}

/// Export the repository at `world/repo` to `world/share` in full (no cut).
fn export_all(world: &Path) {
    let ctl = open_repo(&world.join("repo"), None);
    cairn::replicate::export(
        ctl.repo.store.as_ref(),
        &LocalBackend::new(world.join("share")),
        &|_| {},
    )
    .unwrap();
}

fn keep_newest() -> Policy {
    Policy {
        keep_within: None,
        keep_last: Some(1),
    }
}

fn backup_points(fx: &Fixture, template: &Path) -> u64 {
    let new = fx.expected_now();
    let op_name = if fx.backups.is_empty() {
        "first backup"
    } else {
        "deduplicating backup"
    };
    every_cut(
        op_name,
        template,
        true,
        &|world, plug| {
            let repo = world.join("repo");
            let store = plug.store(&repo);
            let ctl = open_repo(&repo, Some(store));
            cairn::backup::run(&ctl, &Progress::default()).map(|_| ())
        },
        &|world, run| {
            let what = run.what(op_name);
            let repo = world.join("repo");
            let listed = check_local(&what, &repo, fx, Some(&new), Depth::Full, world);
            let made: Vec<String> = listed.difference(&fx.ids()).cloned().collect();
            assert!(
                fx.ids().is_subset(&listed),
                "{what}: an earlier backup is no longer listed"
            );
            if !run.dead {
                assert_eq!(made.len(), 1, "{what}: the backup is not listed");
            } else if run.landing() == Some(Landing::AfterRename) && run.cut_at_manifest() {
                assert_eq!(
                    made.len(),
                    1,
                    "{what}: the manifest landed, yet no backup is listed"
                );
            } else {
                assert!(made.is_empty(), "{what}: a half backup is listed: {made:?}");
            }
            // the next backup succeeds and leaves no debris
            let ctl = open_repo(&repo, None);
            let m = cairn::backup::run(&ctl, &Progress::default())
                .unwrap_or_else(|e| panic!("{what}: the next backup failed: {e}"));
            drop(ctl);
            let after = check_local(
                &format!("{what}, then a backup"),
                &repo,
                fx,
                Some(&new),
                Depth::Restore(&[&m.id]),
                world,
            );
            assert!(
                after.contains(&m.id),
                "{what}: the next backup is not listed"
            );
            let temps = temp_files(&repo);
            assert!(
                temps.is_empty(),
                "{what}: temporary files left after the next backup: {temps:?}"
            );
        },
    )
}

#[test]
fn power_lost_at_every_sync_point_of_the_first_backup() {
    let fx = Fixture::new();
    let tpl = tempfile::tempdir().unwrap();
    copy_dir(&fx.repo(), &tpl.path().join("repo"));
    let points = backup_points(&fx, tpl.path());
    assert!(
        points >= 10,
        "only {points} sync points: the data set is too small to mean much"
    );
}

#[test]
fn power_lost_at_every_sync_point_of_a_deduplicating_backup() {
    let mut fx = Fixture::new();
    fx.backup();
    fx.mutate();
    let tpl = tempfile::tempdir().unwrap();
    copy_dir(&fx.repo(), &tpl.path().join("repo"));
    backup_points(&fx, tpl.path());
}

fn export_points(fx: &Fixture, template: &Path, op_name: &str) -> u64 {
    let all = fx.ids();
    let internal = objects(&template.join("repo"));
    every_cut(
        op_name,
        template,
        false,
        &|world, plug| {
            let ctl = open_repo(&world.join("repo"), None);
            // remote::export, with the target's store wrapped
            let dst: Arc<dyn Backend> = plug.store(&world.join("share"));
            cairn::remote::export_to(&ctl, &dst, &Progress::default()).map(|_| ())
        },
        &|world, run| {
            let what = run.what(op_name);
            let (repo, share) = (world.join("repo"), world.join("share"));
            assert_eq!(
                objects(&repo),
                internal,
                "{what}: the internal copy changed"
            );
            check_store(&format!("{what}: target"), &share, fx, Depth::Full, world);
            // the next export completes the target, and verify --from-target is clean
            TargetConfig::new(&share.display().to_string(), None, None)
                .unwrap()
                .save(&repo)
                .unwrap();
            let ctl = open_repo(&repo, None);
            cairn::remote::export(&ctl, &Progress::default())
                .unwrap_or_else(|e| panic!("{what}: the next export failed: {e}"));
            let (report, _) =
                cairn::remote::verify_target(&ctl, Some(fx.keys()), &Progress::default())
                    .unwrap_or_else(|e| panic!("{what}: verify --from-target failed: {e}"));
            assert!(
                report.clean() && report.backups == all.len(),
                "{what}: after the next export, verify --from-target saw {} backups, damage: {:?} {:?}",
                report.backups,
                report.damaged_objects,
                report.damaged_backups
            );
            assert_eq!(
                cairn::remote::exported(&repo),
                Some(all.clone()),
                "{what}: exported record"
            );
            assert_eq!(
                objects(&share),
                objects(&repo),
                "{what}: the target is not a copy after the next export"
            );
            let temps = temp_files(&share);
            assert!(
                temps.is_empty(),
                "{what}: temporary files left on the target: {temps:?}"
            );
        },
    )
}

#[test]
fn power_lost_at_every_sync_point_of_an_export() {
    let (fx, tpl) = two_backups();
    export_points(&fx, tpl.path(), "export");
}

#[test]
fn power_lost_at_every_sync_point_of_an_incremental_export() {
    // the target holds the first backup; the export sends the second
    let mut fx = Fixture::new();
    fx.backup();
    let tpl = tempfile::tempdir().unwrap();
    copy_dir(&fx.repo(), &tpl.path().join("repo"));
    std::fs::create_dir(tpl.path().join("share")).unwrap();
    export_all(tpl.path());
    fx.mutate();
    fx.backup();
    std::fs::remove_dir_all(tpl.path().join("repo")).unwrap();
    copy_dir(&fx.repo(), &tpl.path().join("repo"));
    export_points(&fx, tpl.path(), "incremental export");
}

/// Prune the copy at `dir` (the internal repository when `local`, else the target's) and check.
fn prune_points(fx: &Fixture, template: &Path, local: bool) -> u64 {
    let op_name = if local {
        "prune (internal)"
    } else {
        "prune (target)"
    };
    let newest = fx.ids().into_iter().next_back().unwrap();
    let epoch = open_repo(&fx.repo(), None).keys().unwrap().0;
    let scope = cairn::prune::Scope {
        also_forget: Vec::new(),
        protect_keys: vec![epoch],
    };
    let prune = |world: &Path, store: Option<Arc<dyn Backend>>, dry_run: bool| {
        let now = chrono::Utc::now();
        if local {
            let ctl = open_repo(&world.join("repo"), store);
            cairn::prune::prune_local(&ctl, &keep_newest(), now, dry_run, &Progress::default())
        } else {
            let store = store.unwrap_or_else(|| Arc::new(LocalBackend::new(world.join("share"))));
            cairn::repository::Repository::open(store).and_then(|repo| {
                cairn::prune::prune_repo(
                    &repo,
                    &keep_newest(),
                    now,
                    &scope,
                    dry_run,
                    &Progress::default(),
                )
            })
        }
    };
    every_cut(
        op_name,
        template,
        local,
        &|world, plug| {
            let dir = world.join(if local { "repo" } else { "share" });
            prune(world, Some(plug.store(&dir)), false).map(|_| ())
        },
        &|world, run| {
            let what = run.what(op_name);
            let check = |what: &str, depth: Depth<'_>| {
                if local {
                    check_local(what, &world.join("repo"), fx, None, depth, world)
                } else {
                    check_store(what, &world.join("share"), fx, depth, world)
                        .unwrap_or_else(|| panic!("{what}: the target's config is gone"))
                }
            };
            let listed = check(&what, Depth::Full);
            assert!(
                listed.contains(&newest),
                "{what}: the kept backup is no longer listed"
            );
            // the next prune finishes the work: afterwards there is nothing left to do
            let r = prune(world, None, false)
                .unwrap_or_else(|e| panic!("{what}: the next prune failed: {e}"));
            assert!(
                r.warnings.is_empty(),
                "{what}: the next prune warned: {:?}",
                r.warnings
            );
            let listed = check(&format!("{what}, then a prune"), Depth::Restore(&[&newest]));
            assert_eq!(
                listed,
                BTreeSet::from([newest.clone()]),
                "{what}: backups after the next prune"
            );
            let dry = prune(world, None, true).unwrap();
            assert!(
                dry.backups_forgotten.is_empty()
                    && dry.packs_deleted == 0
                    && dry.packs_rewritten == 0
                    && dry.envelopes_deleted == 0,
                "{what}: the next prune left work undone: {dry:?}"
            );
            let dir = world.join(if local { "repo" } else { "share" });
            let temps = temp_files(&dir);
            assert!(
                temps.is_empty(),
                "{what}: temporary files left after the next prune: {temps:?}"
            );
            if local {
                // The forgotten backup's sources come back (a file restored to an old version):
                // a backup must store again the chunks prune deleted, never dedup against an
                // index entry for a pack that is gone (the index may have been rolled back).
                let oldest = fx.ids().into_iter().next().unwrap();
                let m = fx.with_sources_of(&oldest, || {
                    cairn::backup::run(&open_repo(&world.join("repo"), None), &Progress::default())
                        .unwrap_or_else(|e| panic!("{what}: a backup after the prune failed: {e}"))
                });
                check_local(
                    &format!("{what}, then a prune and a backup of the old sources"),
                    &world.join("repo"),
                    fx,
                    Some(&fx.backups[&oldest]),
                    Depth::Restore(&[&m.id]),
                    world,
                );
            }
        },
    )
}

#[test]
fn power_lost_at_every_sync_point_of_a_prune_of_the_internal_repository() {
    let (fx, tpl) = two_backups();
    prune_points(&fx, tpl.path(), true);
}

#[test]
fn power_lost_at_every_sync_point_of_a_prune_of_the_target() {
    let (fx, tpl) = two_backups();
    export_all(tpl.path());
    prune_points(&fx, tpl.path(), false);
}

/// Recover from the share at `share` into a new repository at `repo`, restoring into `target`,
/// copying through `local` (the backend of `repo`, possibly wrapped). The one call of the
/// recover API in this file.
fn recover_into(
    keys: &KeyRing,
    share: &Path,
    repo: &Path,
    target: &Path,
    local: &dyn Backend,
) -> cairn::Result<RecoverReport> {
    // the share here is genuine (the power cuts are the attack): its own key is the fingerprint
    // the operator kept
    let genuine = cairn::repository::Repository::open(Arc::new(LocalBackend::new(share)))?;
    let opts = RecoverOptions {
        from: TargetConfig::new(&share.display().to_string(), None, None)?,
        repo: repo.to_path_buf(),
        target: target.to_path_buf(),
        backup: None,
        fingerprint: Some(*genuine.key()),
    };
    let share = cairn::recover::check_share(&opts)?;
    cairn::recover::prepare(&opts)?;
    cairn::recover::finish_into(&opts, &share, keys, &Progress::default(), local)
}

#[test]
fn power_lost_at_every_sync_point_of_a_recovery() {
    let (fx, tpl) = two_backups();
    export_all(tpl.path());
    std::fs::remove_dir_all(tpl.path().join("repo")).unwrap(); // the controller is lost
    let share_before = objects(&tpl.path().join("share"));
    let newest = fx.ids().into_iter().next_back().unwrap();
    every_cut(
        "recover",
        tpl.path(),
        false,
        &|world, plug| {
            let repo = world.join("repo");
            std::fs::create_dir(&repo).unwrap();
            let local = plug.store(&repo);
            recover_into(
                fx.keys(),
                &world.join("share"),
                &repo,
                &world.join("restored"),
                local.as_ref(),
            )
            .map(|_| ())
        },
        &|world, run| {
            let what = run.what("recover");
            let share = world.join("share");
            assert_eq!(
                objects(&share),
                share_before,
                "{what}: recovery changed the share"
            );
            check_store(
                &format!("{what}: the half-recovered copy"),
                &world.join("repo"),
                &fx,
                Depth::Full,
                world,
            );
            // a re-run into a new repository succeeds and restores the newest backup
            let (repo2, target2) = (world.join("repo2"), world.join("restored2"));
            let r = recover_into(
                fx.keys(),
                &share,
                &repo2,
                &target2,
                &LocalBackend::new(&repo2),
            )
            .unwrap_or_else(|e| panic!("{what}: recovering again failed: {e}"));
            assert_eq!(r.backup, newest, "{what}: recovered backup");
            assert_restores_as(
                &fx.backups[&newest],
                &restored(&target2),
                &format!("{what}, then a recovery"),
            );
            let (listed, damaged) = open_repo(&repo2, None).repo.manifests().unwrap();
            let listed: BTreeSet<String> = listed.into_iter().map(|m| m.id).collect();
            assert!(
                damaged.is_empty(),
                "{what}: damaged manifests after recovering again"
            );
            assert_eq!(
                listed,
                fx.ids(),
                "{what}: backups in the recovered repository"
            );
        },
    );
}

/// Regression test for a bug this file found: sled releases its lock on `REPO/local/index` some
/// time after the last `Index` is dropped (its background threads still hold the database), so
/// an operation that opens the index right after another one in the same process — `serve` runs
/// a backup, then prune or verify — fails with "in use by another cairn process". `Index::open`
/// should wait a little for a lock held by this very process (src/index.rs).
#[test]
fn the_index_reopens_right_after_it_was_dropped() {
    use cairn::format::pack::{BlobKind, PackEntry, PackHeader};
    use cairn::id::{ChunkId, KeyId, PackId};
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("index");
    for i in 0..60u32 {
        let index = Index::open(&path).unwrap_or_else(|e| panic!("open {i}: {e}"));
        let entries = (0..2000u32)
            .map(|j| {
                let mut c = [0u8; 32];
                c[..4].copy_from_slice(&j.to_le_bytes());
                c[4..8].copy_from_slice(&i.to_le_bytes());
                PackEntry {
                    id: ChunkId(c),
                    kind: BlobKind::Data,
                    offset: 0,
                    length: 10,
                    raw_len: 5,
                    inner: None,
                }
            })
            .collect();
        let h = PackHeader {
            session: KeyId([1; 32]),
            entries,
        };
        index.add_pack(PackId([i as u8; 32]), 100, &h).unwrap();
        index.flush().unwrap();
        drop(index);
        if let Err(e) = Index::open(&path) {
            panic!("reopening the index after round {i}: {e}");
        }
    }
}

/// Regression test for a bug this file found: `Index::sync` treats a failed read of a pack header
/// as "pack not indexed" (a warning) and goes on; prune then takes every blob of that pack for
/// dead (no index entry names it) and deletes the pack, though kept backups need it. So one
/// transient read error (an SMB hiccup) while prune indexes the target makes it delete a needed
/// pack, with a policy that keeps every backup, and report success. The cure: a storage error
/// in `Index::sync` fails the sync (only a corrupt header is skipped), and prune never deletes a
/// pack holding a chunk a kept backup needs that the index does not place.
#[test]
fn a_read_error_while_prune_indexes_the_target_never_deletes_a_needed_pack() {
    use cairn::backend::FaultyBackend;
    use cairn::error::StorageErrorKind;
    let (fx, tpl) = two_backups();
    export_all(tpl.path());
    let share = tpl.path().join("share");
    let store = Arc::new(FaultyBackend::new(LocalBackend::new(&share)));
    // op 1 reads the config, op 2 lists data/, op 3 reads the first pack's trailer
    store.fail_op(3, StorageErrorKind::Disconnected);
    let keep_all = Policy {
        keep_within: None,
        keep_last: Some(10),
    };
    let r = cairn::repository::Repository::open(store).and_then(|repo| {
        cairn::prune::prune_repo(
            &repo,
            &keep_all,
            chrono::Utc::now(),
            &cairn::prune::Scope::default(),
            false,
            &Progress::default(),
        )
    });
    // the injected read error reaches the prune (it stops), and it was a pack's read: were the
    // operation numbers to drift, this says so rather than passing without the fault
    match &r {
        Ok(r) => panic!("prune swallowed the failed read of a pack header: {r:?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains("injected fault") && text.contains("data/"),
                "the fault did not hit a pack's read: {text}"
            );
        }
    }
    let listed = check_store("after the prune", &share, &fx, Depth::Full, tpl.path());
    assert_eq!(listed, Some(fx.ids()));
}

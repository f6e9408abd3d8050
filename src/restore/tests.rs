//! Unit tests of the confined restore: the directory-handle layer, the budget, and restores of
//! forged backups (a [`Forge`] writes any tree with the controller's own keys; the mount's tests
//! use it too).

use super::budget::{Budget, MIN_LINKS};
use super::confined::{is_temp_name, mode_bits, set_meta, set_meta_over, Dir, Inherit, Made};
use super::write::PARALLEL_CHUNKS;
use super::*;
use crate::backup::ChunkStore;
use crate::controller::{Controller, PACK_TARGET};
use crate::crypto;
use crate::error::StorageError;
use crate::format::pack::BlobKind;
use crate::format::tree::{ChunkRef, Node, NodeKind, Tree};
use crate::id::BackupId;
use crate::id::ChunkId;
use crate::keyring::Unlocked;
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

/// A repository with one honest backup, and a writer that commits backups of any tree.
pub(crate) struct Forge {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) ctl: Controller,
    pub(crate) keys: KeyRing,
    /// The identity (age secret key text).
    pub(crate) identity: String,
    base: Manifest,
    unlocked: Arc<Unlocked>,
    store: Option<ChunkStore>,
    refs: Vec<ChunkId>,
    n: i64,
}

impl Forge {
    pub(crate) fn new() -> Forge {
        let crate::testutil::TestRepo {
            dir,
            ctl,
            identity,
            src,
        } = crate::testutil::TestRepo::with_service("honest");
        fs::write(src.join("f.txt"), b"honest\n").unwrap();
        let base = crate::backup::run(&ctl, &Progress::default()).unwrap();
        let keys = KeyRing::new(crypto::Identity::parse(&identity, "test").unwrap());
        let unlocked = keys.session(&ctl.repo, &base.session, &base.id).unwrap();
        Forge {
            dir,
            ctl,
            keys,
            identity,
            base,
            unlocked,
            store: None,
            refs: Vec::new(),
            n: 0,
        }
    }

    pub(crate) fn put(&mut self, kind: BlobKind, data: &[u8]) -> ChunkId {
        if self.store.is_none() {
            self.store = Some(ChunkStore::start(
                self.ctl.repo.store.clone(),
                Arc::new(self.ctl.index().unwrap()),
                self.unlocked.session.clone(),
                self.base.session,
                PACK_TARGET,
                3,
                1,
            ));
        }
        let id = self.unlocked.id_key.chunk_id(data);
        self.store.as_ref().unwrap().put(id, kind, data, 0).unwrap();
        id
    }

    pub(crate) fn file(&mut self, name: &[u8], data: &[u8], mode: u32) -> Node {
        let chunks = vec![ChunkRef {
            id: self.put(BlobKind::Data, data),
            len: data.len() as u32,
        }];
        node(name, NodeKind::File { chunks }, mode, data.len() as u64)
    }

    /// A directory node over this tree, stored as given (no sorting, no checks).
    pub(crate) fn dir(&mut self, name: &[u8], nodes: Vec<Node>) -> Node {
        let tree = self.put(BlobKind::Tree, &Tree { nodes }.encode());
        node(name, NodeKind::Dir { tree }, 0o755, 0)
    }

    /// Commit a backup of (service name, root directory node, files, dirs, bytes).
    pub(crate) fn commit(&mut self, services: Vec<(&str, Node, u64, u64, u64)>) -> Manifest {
        if let Some(s) = self.store.take() {
            self.refs.extend(s.finish().unwrap().refs.to_vec().unwrap());
        }
        self.refs.push(self.base.definitions);
        self.refs.sort_unstable();
        self.refs.dedup();
        self.n += 1;
        let services = services
            .into_iter()
            .map(|(name, root, files, dirs, bytes)| {
                let NodeKind::Dir { tree } = root.kind else {
                    panic!("a service root is a directory")
                };
                ServiceRecord {
                    name: name.into(),
                    kind: "path".into(),
                    root: tree,
                    files,
                    dirs,
                    bytes,
                    bytes_new: 0,
                    duration_ms: 0,
                    root_mode: 0o755,
                    root_uid: root.uid,
                    root_gid: root.gid,
                    root_mtime_s: 1_500_000_000,
                    phases: Default::default(),
                }
            })
            .collect();
        let m = Manifest {
            id: BackupId::from_millis(self.base.time_ms + 1000 * self.n).to_string(),
            services,
            refs: self.refs.clone(),
            ..self.base.clone()
        };
        write_manifest(&self.ctl, &m)
    }

    pub(crate) fn restore(
        &self,
        m: &Manifest,
        target: &Path,
        overwrite: bool,
    ) -> Result<RestoreReport> {
        let opts = RestoreOptions {
            target: target.to_path_buf(),
            overwrite,
            ..Default::default()
        };
        restore(&self.ctl.repo, &self.keys, m, &opts, &Progress::default())
    }
}

/// The ONE place a forged manifest is committed in the unit tests: signed with the controller's
/// own key and linked into its chain (a compromised or buggy writer), as committed.
pub(crate) fn write_manifest(ctl: &Controller, m: &Manifest) -> Manifest {
    let (seq, prev) = crate::backup::chain_link(ctl).unwrap();
    let m = Manifest {
        seq,
        prev,
        ..m.clone()
    };
    ctl.commit_manifest(&m).unwrap();
    m
}

pub(crate) fn node(name: &[u8], kind: NodeKind, mode: u32, size: u64) -> Node {
    Node {
        name: name.to_vec(),
        kind,
        mode,
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        mtime_s: 1_500_000_000,
        mtime_ns: 5,
        size,
    }
}

/// The chunk list of the file `node`.
fn chunks_of(node: &mut Node) -> &mut Vec<ChunkRef> {
    match &mut node.kind {
        NodeKind::File { chunks } => chunks,
        other => panic!("not a file: {other:?}"),
    }
}

/// Point chunk `i` of the file `node` at a chunk no pack holds (id `fill` × 32): the file
/// cannot be checked out.
fn lose_chunk(node: &mut Node, i: usize, fill: u8) {
    chunks_of(node)[i].id = ChunkId([fill; 32]);
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn the_handle_layer_refuses_names_that_are_not_plain() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("in")).unwrap();
    let d = Dir::open_target(&t.path().join("in")).unwrap();
    for bad in [&b".."[..], b".", b"", b"../x", b"/abs", b"a\0b"] {
        assert!(
            d.subdir(bad, true).is_err(),
            "{bad:?} accepted as a directory"
        );
        let (f, tmp) = d.create_temp().unwrap();
        drop(f);
        assert!(
            d.commit(&tmp, bad).is_err(),
            "{bad:?} accepted as a file name"
        );
        d.discard(&tmp);
    }
    assert_eq!(names(t.path()), ["in"]);
    assert!(names(&t.path().join("in")).is_empty(), "debris left");
}

#[test]
fn a_symlink_is_never_followed_and_replaced_only_when_asked() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("outside");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("keep"), b"keep").unwrap();
    fs::create_dir(t.path().join("in")).unwrap();
    std::os::unix::fs::symlink(&out, t.path().join("in/d")).unwrap();
    std::os::unix::fs::symlink(out.join("keep"), t.path().join("in/f")).unwrap();
    let d = Dir::open_target(&t.path().join("in")).unwrap();
    let e = d.subdir(b"d", false).unwrap_err();
    assert!(e.to_string().contains("not followed"), "{e}");
    // replaced: the link goes, a directory comes, the outside is as it was
    let sub = d.subdir(b"d", true).unwrap();
    let (f, tmp) = sub.create_temp().unwrap();
    drop(f);
    sub.commit(&tmp, b"new").unwrap();
    assert!(fs::symlink_metadata(t.path().join("in/d"))
        .unwrap()
        .is_dir());
    assert!(t.path().join("in/d/new").exists());
    // a file renamed over a symlink replaces the link, not its target
    let (f, tmp) = d.create_temp().unwrap();
    std::io::Write::write_all(&mut &f, b"restored").unwrap();
    drop(f);
    d.commit(&tmp, b"f").unwrap();
    assert_eq!(fs::read(t.path().join("in/f")).unwrap(), b"restored");
    assert_eq!(names(&out), ["keep"]);
    assert_eq!(fs::read(out.join("keep")).unwrap(), b"keep");
}

#[test]
fn metadata_goes_on_the_handle_and_setuid_only_for_root() {
    assert_eq!(mode_bits(0o6755, false), 0o755);
    assert_eq!(mode_bits(0o1777, false), 0o1777);
    assert_eq!(mode_bits(0o6755, true), 0o6755);
    assert_eq!(mode_bits(0o170644, true), 0o644);
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open_target(t.path()).unwrap();
    let (f, tmp) = d.create_temp().unwrap();
    let n = node(b"x", NodeKind::File { chunks: vec![] }, 0o640, 0);
    set_meta(std::os::fd::AsFd::as_fd(&f), &n, false);
    let m = f.metadata().unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_500_000_000, 5));
    d.discard(&tmp);
}

#[test]
fn the_budget_counts_what_the_honest_writer_counts() {
    let s = ServiceRecord {
        name: "s".into(),
        kind: "path".into(),
        root: ChunkId([0; 32]),
        files: 2,
        dirs: 2,
        bytes: 10,
        bytes_new: 0,
        duration_ms: 0,
        root_mode: 0,
        root_uid: 0,
        root_gid: 0,
        root_mtime_s: 0,
        phases: Default::default(),
    };
    let mut b = Budget::new("B", &s);
    assert_eq!(b.entries_left(), 4 + MIN_LINKS);
    b.root().unwrap();
    let f = node(b"f", NodeKind::File { chunks: vec![] }, 0o644, 6);
    let d = node(
        b"d",
        NodeKind::Dir {
            tree: ChunkId([0; 32]),
        },
        0o755,
        0,
    );
    b.take(&f).unwrap();
    b.take(&d).unwrap();
    assert!(b.take(&d).is_err(), "a third directory");
    assert!(b.clone().take(&f).is_err(), "bytes over 10");
    let small = node(b"g", NodeKind::File { chunks: vec![] }, 0o644, 4);
    b.take(&small).unwrap();
    let empty = node(b"h", NodeKind::File { chunks: vec![] }, 0o644, 0);
    let e = b.take(&empty).unwrap_err().to_string();
    assert!(e.contains("more files"), "{e}");
    assert!(b.tree(MIN_LINKS + 1).is_err());
    b.tree(MIN_LINKS).unwrap();
}

#[test]
fn plain_service_names_follow_service_add() {
    for ok in ["identity", "key-vault_2", "a.b"] {
        assert!(plain_service_name(ok), "{ok}");
    }
    for bad in [
        "",
        "..",
        "../..",
        "/abs",
        ".hidden",
        "a/b",
        "a\0b",
        "é",
        &"x".repeat(65),
    ] {
        assert!(!plain_service_name(bad), "{bad:?}");
    }
}

#[test]
fn a_forged_service_name_is_refused_before_anything_is_written() {
    let mut f = Forge::new();
    let a = f.file(b"a", b"data", 0o644);
    let good = f.dir(b"good", vec![a.clone()]);
    let bad = f.dir(b"bad", vec![a]);
    let m = f.commit(vec![("good", good, 1, 1, 4), ("../escape", bad, 1, 1, 4)]);
    let t = f.dir.path().join("deep/target");
    let e = f.restore(&m, &t, false).unwrap_err();
    assert!(e.to_string().contains("not a plain name"), "{e}");
    assert!(!f.dir.path().join("deep").exists(), "something was made");
}

#[test]
fn overwrite_with_a_damaged_file_keeps_the_live_one_and_leaves_no_temporary() {
    let mut f = Forge::new();
    let a = f.file(b"a", b"new content", 0o644);
    let mut broken = f.file(b"b", b"new content too", 0o644);
    lose_chunk(&mut broken, 0, 7);
    let root = f.dir(b"svc", vec![a, broken]);
    let m = f.commit(vec![("svc", root, 2, 1, 26)]);
    let t = f.dir.path().join("t");
    fs::create_dir_all(t.join("svc")).unwrap();
    fs::write(t.join("svc/b"), b"live").unwrap();
    let e = f.restore(&m, &t, true).unwrap_err().to_string();
    assert!(e.contains("svc/b"), "{e}");
    assert_eq!(fs::read(t.join("svc/b")).unwrap(), b"live");
    assert_eq!(fs::read(t.join("svc/a")).unwrap(), b"new content");
    assert_eq!(names(&t.join("svc")), ["a", "b"], "a temporary was left");
}

#[test]
fn directories_get_their_mode_after_their_files_and_sparse_files_stay_sparse() {
    let mut f = Forge::new();
    let zeros = vec![0u8; 4 << 20];
    let sparse = f.file(b"sparse", &zeros, 0o600);
    let ro = f.dir(b"ro", vec![sparse]);
    let ro = Node { mode: 0o555, ..ro };
    let root = f.dir(b"svc", vec![ro]);
    let m = f.commit(vec![("svc", root, 1, 2, 4 << 20)]);
    let t = f.dir.path().join("t");
    let r = f.restore(&m, &t, false).unwrap();
    assert_eq!((r.files, r.dirs, r.bytes), (1, 2, 4 << 20));
    let md = fs::metadata(t.join("svc/ro")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o555);
    assert_eq!(
        md.mtime(),
        1_500_000_000,
        "the directory's mtime was set before its files"
    );
    let s = fs::metadata(t.join("svc/ro/sparse")).unwrap();
    assert_eq!(s.len(), 4 << 20);
    assert!(
        s.blocks() * 512 < 64 << 10,
        "{} bytes allocated",
        s.blocks() * 512
    );
    fs::set_permissions(t.join("svc/ro"), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_tree_that_is_not_a_tree_blob_is_damage() {
    let mut f = Forge::new();
    let data = f.put(BlobKind::Data, b"CAIRNTRE\x01\x00\x00");
    let fake = node(b"d", NodeKind::Dir { tree: data }, 0o755, 0);
    let root = f.dir(b"svc", vec![fake]);
    let m = f.commit(vec![("svc", root, 0, 2, 0)]);
    let e = f.restore(&m, &f.dir.path().join("t"), false).unwrap_err();
    assert!(e.to_string().contains("not a tree"), "{e}");
}

#[test]
fn a_tree_nested_deeper_than_any_real_path_stops_the_restore() {
    let mut f = Forge::new();
    let mut d = f.dir(b"d", vec![]);
    for _ in 0..walk::MAX_DEPTH + 2 {
        d = f.dir(b"d", vec![d]);
    }
    let root = f.dir(b"svc", vec![d]);
    let n = walk::MAX_DEPTH as u64 + 10;
    let m = f.commit(vec![("svc", root, 0, n, 0)]);
    let e = f.restore(&m, &f.dir.path().join("t"), false).unwrap_err();
    assert!(e.to_string().contains("nested deeper"), "{e}");
}

#[test]
fn overwrite_sweeps_the_temporaries_of_a_killed_restore_and_nothing_else() {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open_target(t.path()).unwrap();
    let (f, tmp) = d.create_temp().unwrap();
    drop(f);
    assert!(is_temp_name(&tmp));
    let svc = t.path().join("svc");
    fs::create_dir(&svc).unwrap();
    let stale = String::from_utf8(tmp.clone()).unwrap();
    fs::rename(t.path().join(&stale), svc.join(&stale)).unwrap();
    fs::create_dir(svc.join(".cairn-restore-0123456789abcdef.tmp")).unwrap();
    fs::write(svc.join(".cairn-restore-notes.tmp"), b"mine").unwrap();
    d.subdir(b"svc", false).unwrap();
    assert!(svc.join(&stale).exists(), "swept without --overwrite");
    d.subdir(b"svc", true).unwrap();
    assert_eq!(
        names(&svc),
        [
            ".cairn-restore-0123456789abcdef.tmp",
            ".cairn-restore-notes.tmp"
        ]
    );
}

/// A store that records which threads read ranges of at least [`BIG`] bytes (the chunks of a
/// large file; trees are smaller), and holds the first such read until another thread reads
/// one too (or [`WAIT`] passes): a file whose chunks are read on one thread only shows one.
struct ChunkThreads {
    inner: Arc<dyn crate::backend::Backend>,
    seen: std::sync::Mutex<HashSet<std::thread::ThreadId>>,
    more: std::sync::Condvar,
}

const BIG: usize = 100 << 10;
const WAIT: std::time::Duration = std::time::Duration::from_secs(3);

impl ChunkThreads {
    fn saw(&self, len: usize) {
        if len < BIG {
            return;
        }
        let mut seen = self.seen.lock().unwrap();
        seen.insert(std::thread::current().id());
        self.more.notify_all();
        let _ = self.more.wait_timeout_while(seen, WAIT, |s| s.len() < 2);
    }
}

impl crate::backend::Backend for ChunkThreads {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(&self, p: &str) -> std::result::Result<Vec<crate::backend::ObjectInfo>, StorageError> {
        self.inner.list(p)
    }
    fn read(&self, n: &str) -> std::result::Result<Vec<u8>, StorageError> {
        self.inner.read(n)
    }
    fn read_range(&self, n: &str, o: u64, l: usize) -> std::result::Result<Vec<u8>, StorageError> {
        self.saw(l);
        self.inner.read_range(n, o, l)
    }
    fn write(&self, n: &str, d: &[u8]) -> std::result::Result<(), StorageError> {
        self.inner.write(n, d)
    }
    fn delete(&self, n: &str) -> std::result::Result<(), StorageError> {
        self.inner.delete(n)
    }
    fn stat(&self, n: &str) -> std::result::Result<Option<u64>, StorageError> {
        self.inner.stat(n)
    }
    fn clean_temp(&self) -> std::result::Result<usize, StorageError> {
        self.inner.clean_temp()
    }
}

/// A file of `n` chunks of `len` bytes that do not compress; its node and its bytes.
fn large_file(f: &mut Forge, name: &[u8], n: usize, len: usize) -> (Node, Vec<u8>) {
    let mut bytes = vec![0u8; n * len];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let chunks = bytes
        .chunks(len)
        .map(|c| ChunkRef {
            id: f.put(BlobKind::Data, c),
            len: c.len() as u32,
        })
        .collect();
    let size = bytes.len() as u64;
    (node(name, NodeKind::File { chunks }, 0o644, size), bytes)
}

#[test]
fn the_chunks_of_one_large_file_are_read_on_several_threads() {
    let mut f = Forge::new();
    let (big, bytes) = large_file(&mut f, b"big", 3 * PARALLEL_CHUNKS, 128 << 10);
    let root = f.dir(b"svc", vec![big]);
    let m = f.commit(vec![("svc", root, 1, 1, bytes.len() as u64)]);
    let store = Arc::new(ChunkThreads {
        inner: f.ctl.repo.store.clone(),
        seen: Default::default(),
        more: Default::default(),
    });
    let mut repo = f.ctl.repo.clone();
    repo.store = store.clone();
    let t = f.dir.path().join("t");
    let opts = RestoreOptions {
        target: t.clone(),
        ..Default::default()
    };
    let r = restore(&repo, &f.keys, &m, &opts, &Progress::default()).unwrap();
    assert_eq!((r.files, r.bytes), (1, bytes.len() as u64));
    assert_eq!(fs::read(t.join("svc/big")).unwrap(), bytes);
    let threads = store.seen.lock().unwrap().len();
    assert!(
        threads >= 2,
        "the file's chunks were read on {threads} thread(s)"
    );
}

#[test]
fn a_large_file_with_a_damaged_chunk_keeps_the_live_copy_and_names_the_file() {
    let mut f = Forge::new();
    let (mut big, _) = large_file(&mut f, b"big", 3 * PARALLEL_CHUNKS, 64 << 10);
    // a chunk in the middle that no pack holds
    lose_chunk(&mut big, PARALLEL_CHUNKS + 1, 9);
    let size = big.size;
    let root = f.dir(b"svc", vec![big]);
    let m = f.commit(vec![("svc", root, 1, 1, size)]);
    let t = f.dir.path().join("t");
    fs::create_dir_all(t.join("svc")).unwrap();
    fs::write(t.join("svc/big"), b"live").unwrap();
    let e = f.restore(&m, &t, true).unwrap_err().to_string();
    assert!(e.contains("svc/big") && e.contains(&"09".repeat(32)), "{e}");
    assert_eq!(fs::read(t.join("svc/big")).unwrap(), b"live");
    assert_eq!(names(&t.join("svc")), ["big"], "a temporary was left");
}

#[test]
fn into_an_empty_target_a_damaged_file_is_removed_and_the_others_are_restored() {
    let mut f = Forge::new();
    let a = f.file(b"a", b"good content", 0o644);
    let mut broken = f.file(b"b", b"damaged content", 0o644);
    lose_chunk(&mut broken, 0, 7);
    let (mut big, _) = large_file(&mut f, b"big", 3 * PARALLEL_CHUNKS, 64 << 10);
    lose_chunk(&mut big, PARALLEL_CHUNKS + 1, 9);
    let size = 12 + 15 + big.size;
    let root = f.dir(b"svc", vec![a, broken, big]);
    let m = f.commit(vec![("svc", root, 3, 1, size)]);
    let t = f.dir.path().join("t");
    let e = f.restore(&m, &t, false).unwrap_err().to_string();
    assert!(e.contains("svc/b") && e.contains("svc/big"), "{e}");
    // written in place, the damaged files (one written on several threads) are removed
    assert_eq!(names(&t.join("svc")), ["a"]);
    assert_eq!(fs::read(t.join("svc/a")).unwrap(), b"good content");
}

#[test]
fn what_a_plain_target_passes_on_is_what_the_kernel_gives() {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open_target(t.path()).unwrap();
    let inherit = Inherit::of(&d).expect("a plain temporary directory passes nothing on");
    for (i, bits) in [0o644, 0o600, 0o755, 0o444, 0o070, 0o000]
        .into_iter()
        .enumerate()
    {
        let name = format!("f{i}");
        let f = d.create_new(name.as_bytes(), bits).unwrap();
        let md = f.metadata().unwrap();
        let made = inherit.made(bits);
        assert_eq!(
            (md.uid(), md.gid(), md.mode() & 0o7777),
            (made.uid, made.gid, made.mode),
            "a file made with {bits:o}"
        );
    }
    // a setgid directory gives what is made in it its group: nothing is assumed below it
    let g = t.path().join("g");
    fs::create_dir(&g).unwrap();
    fs::set_permissions(&g, fs::Permissions::from_mode(0o2755)).unwrap();
    let gd = Dir::open_target(&g).unwrap();
    assert_eq!(Inherit::of(&gd), None);
}

#[test]
fn an_owner_or_mode_a_file_was_made_with_is_not_set_again_and_any_other_is() {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open_target(t.path()).unwrap();
    let n = node(b"x", NodeKind::File { chunks: vec![] }, 0o640, 0);
    let me = (n.uid, n.gid);
    let mode_of = |f: &std::fs::File| f.metadata().unwrap().mode() & 0o7777;
    // said to be made 0640 (it is 0600): the mode is taken as set
    let f = d.create_new(b"said", 0o600).unwrap();
    let said = Made {
        uid: me.0,
        gid: me.1,
        mode: 0o640,
    };
    set_meta_over(std::os::fd::AsFd::as_fd(&f), &n, false, Some(said));
    assert_eq!(mode_of(&f), 0o600);
    // made 0600: the backup's 0640 is set, and the times always are
    let f = d.create_new(b"made", 0o600).unwrap();
    let made = Made {
        mode: 0o600,
        ..said
    };
    set_meta_over(std::os::fd::AsFd::as_fd(&f), &n, false, Some(made));
    assert_eq!(mode_of(&f), 0o640);
    assert_eq!(f.metadata().unwrap().mtime(), 1_500_000_000);
    if rustix::process::geteuid().is_root() {
        // as root, an owner other than the one it was made with is set
        let other = Node {
            uid: 4321,
            gid: 4322,
            ..n.clone()
        };
        let f = d.create_new(b"owned", 0o600).unwrap();
        set_meta_over(std::os::fd::AsFd::as_fd(&f), &other, true, Some(made));
        let md = f.metadata().unwrap();
        assert_eq!((md.uid(), md.gid()), (4321, 4322));
    }
}

#[test]
fn a_large_file_ending_in_a_hole_is_restored_at_its_size() {
    let mut f = Forge::new();
    let (mut big, mut bytes) = large_file(&mut f, b"big", 2 * PARALLEL_CHUNKS, 16 << 10);
    let zeros = vec![0u8; 16 << 10];
    let id = f.put(BlobKind::Data, &zeros);
    chunks_of(&mut big).push(ChunkRef {
        id,
        len: zeros.len() as u32,
    });
    big.size += zeros.len() as u64;
    bytes.extend_from_slice(&zeros);
    let size = big.size;
    let root = f.dir(b"svc", vec![big]);
    let m = f.commit(vec![("svc", root, 1, 1, size)]);
    let t = f.dir.path().join("t");
    f.restore(&m, &t, false).unwrap();
    // written on several threads, the last chunk a hole: the file still has every byte
    assert_eq!(fs::read(t.join("svc/big")).unwrap(), bytes);
}

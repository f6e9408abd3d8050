//! The mount over forged backups: unsafe service names hidden, damaged trees and data `EIO`.

use super::*;
use crate::crypto::Identity;
use crate::format::tree::{Node, NodeKind};
use crate::id::ChunkId;
use crate::restore::tests::{node, Forge};

fn names(t: &RepoTree, ino: u64) -> Vec<String> {
    t.readdir(ino, 0, 1000)
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn unsafe_names_are_hidden_and_damage_reads_as_eio() {
    let mut f = Forge::new();
    let a = f.file(b"a", b"fine", 0o644);
    let escaped = f.file(b"escaped", b"x", 0o644);
    let ok = f.file(b"ok", b"x", 0o644);
    let dotdot = Node {
        name: b"..".to_vec(),
        ..escaped
    };
    let bad = f.dir(b"bad", vec![ok, dotdot]);
    let missing = node(
        b"missing",
        NodeKind::File {
            chunks: vec![crate::format::tree::ChunkRef {
                id: ChunkId([7; 32]),
                len: 4,
            }],
        },
        0o644,
        4,
    );
    let data = f.put(crate::format::pack::BlobKind::Data, b"CAIRNTRE\x01\x00\x00");
    let fake = node(b"fake", NodeKind::Dir { tree: data }, 0o755, 0);
    let root = f.dir(b"good", vec![a, bad, fake, missing]);
    let m = f.commit(vec![("good", root.clone(), 3, 3, 9)]);
    // a backup with a service named ../x (even signed by the controller's own key) does not
    // decode, so it is not shown at all
    let other = f.dir(b"x", vec![]);
    let hostile = f.commit(vec![("good", root, 3, 3, 9), ("../x", other, 0, 1, 0)]);
    let keys = KeyRing::new(Identity::parse(&f.identity, "test").unwrap());
    let t = RepoTree::open(f.ctl.repo.clone(), keys).unwrap();
    assert_eq!(
        t.lookup(ROOT_INO, OsStr::new(&hostile.id)).unwrap_err(),
        Errno::ENOENT,
        "a backup with a service named ../x is shown"
    );
    assert!(!names(&t, ROOT_INO).contains(&hostile.id));
    let b = t.lookup(ROOT_INO, OsStr::new(&m.id)).unwrap().ino;
    assert_eq!(names(&t, b), ["good"]);
    let good = t.lookup(b, OsStr::new("good")).unwrap().ino;
    assert_eq!(names(&t, good), ["a", "bad", "fake", "missing"]);
    let fake = t.lookup(good, OsStr::new("fake")).unwrap().ino;
    assert_eq!(
        t.readdir(fake, 0, 1000).unwrap_err(),
        Errno::EIO,
        "a data blob as a tree"
    );
    let bad = t.lookup(good, OsStr::new("bad")).unwrap().ino;
    assert_eq!(
        t.readdir(bad, 0, 1000).unwrap_err(),
        Errno::EIO,
        "a tree with `..`"
    );
    assert_eq!(t.lookup(bad, OsStr::new("ok")).unwrap_err(), Errno::EIO);
    let a = t.lookup(good, OsStr::new("a")).unwrap().ino;
    assert_eq!(t.read(a, 0, 100).unwrap(), b"fine");
    let missing = t.lookup(good, OsStr::new("missing")).unwrap().ino;
    assert_eq!(t.read(missing, 0, 100).unwrap_err(), Errno::EIO);
}

fn chunk_ids(n: &Node) -> Vec<ChunkId> {
    match &n.kind {
        NodeKind::File { chunks } => chunks.iter().map(|c| c.id).collect(),
        _ => Vec::new(),
    }
}

/// Eight small files `f0`..`f7` holding `content N`.
fn eight_files(f: &mut Forge) -> Vec<Node> {
    (0..8)
        .map(|i| {
            f.file(
                format!("f{i}").as_bytes(),
                format!("content {i}").as_bytes(),
                0o644,
            )
        })
        .collect()
}

/// A 4-byte file `name` whose one chunk no pack holds: it reads as EIO.
fn missing_chunk(name: &[u8]) -> Node {
    node(
        name,
        NodeKind::File {
            chunks: vec![crate::format::tree::ChunkRef {
                id: ChunkId([9; 32]),
                len: 4,
            }],
        },
        0o644,
        4,
    )
}

#[test]
fn reading_a_small_file_prefetches_its_next_siblings_and_damage_still_reads_as_eio() {
    let mut f = Forge::new();
    let mut files = eight_files(&mut f);
    files.push(missing_chunk(b"f8"));
    let ids: Vec<ChunkId> = files.iter().flat_map(chunk_ids).collect();
    let root = f.dir(b"svc", files);
    let m = f.commit(vec![("svc", root, 9, 9, 9)]);
    let keys = KeyRing::new(Identity::parse(&f.identity, "test").unwrap());
    let t = RepoTree::open(f.ctl.repo.clone(), keys).unwrap();
    let b = t.lookup(ROOT_INO, OsStr::new(&m.id)).unwrap().ino;
    let svc = t.lookup(b, OsStr::new("svc")).unwrap().ino;
    let first = t.lookup(svc, OsStr::new("f0")).unwrap().ino;
    for id in &ids[1..8] {
        assert!(!t.chunks.has(id), "cached before any read");
    }
    assert_eq!(t.read(first, 0, 100).unwrap(), b"content 0");
    // the prefetch threads load them; wait (generously) until they are cached
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !ids[1..8].iter().all(|id| t.chunks.cache_holds(id)) {
        assert!(
            std::time::Instant::now() < deadline,
            "siblings not prefetched"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for i in 1..8 {
        let ino = t.lookup(svc, OsStr::new(&format!("f{i}"))).unwrap().ino;
        assert_eq!(
            t.read(ino, 0, 100).unwrap(),
            format!("content {i}").as_bytes()
        );
    }
    let f8 = t.lookup(svc, OsStr::new("f8")).unwrap().ino;
    assert_eq!(t.read(f8, 0, 100).unwrap_err(), Errno::EIO);
}

#[test]
fn listing_a_directory_prefetches_the_trees_of_its_subdirectories() {
    let mut f = Forge::new();
    let subs: Vec<Node> = (0..6)
        .map(|i| {
            let file = f.file(format!("in{i}").as_bytes(), b"x", 0o644);
            f.dir(format!("d{i}").as_bytes(), vec![file])
        })
        .collect();
    let trees: Vec<ChunkId> = subs
        .iter()
        .map(|n| match &n.kind {
            NodeKind::Dir { tree } => *tree,
            _ => unreachable!(),
        })
        .collect();
    let root = f.dir(b"svc", subs);
    let m = f.commit(vec![("svc", root, 6, 6, 6)]);
    let keys = KeyRing::new(Identity::parse(&f.identity, "test").unwrap());
    let t = RepoTree::open(f.ctl.repo.clone(), keys).unwrap();
    let b = t.lookup(ROOT_INO, OsStr::new(&m.id)).unwrap().ino;
    let svc = t.lookup(b, OsStr::new("svc")).unwrap().ino;
    assert!(trees.iter().all(|id| !t.chunks.has(id)));
    assert_eq!(names(&t, svc).len(), 6);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !trees.iter().all(|id| t.chunks.cache_holds(id)) {
        assert!(
            std::time::Instant::now() < deadline,
            "subtrees not prefetched"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let d3 = t.lookup(svc, OsStr::new("d3")).unwrap().ino;
    assert_eq!(names(&t, d3), ["in3"]);
}

#[test]
fn latest_gets_another_inode_and_the_root_another_mtime_when_a_backup_is_added() {
    // The kernel caches a symlink's target for its inode's life (FUSE_CACHE_SYMLINKS): when
    // `latest` moves to a new backup it must be another inode, and the old one keeps its target.
    let mut f = Forge::new();
    let a = f.file(b"a", b"one", 0o644);
    let root = f.dir(b"svc", vec![a]);
    let b1 = f.commit(vec![("svc", root.clone(), 1, 1, 3)]);
    let keys = KeyRing::new(Identity::parse(&f.identity, "test").unwrap());
    let t = RepoTree::open(f.ctl.repo.clone(), keys).unwrap();
    let first = t.lookup(ROOT_INO, OsStr::new("latest")).unwrap();
    assert_eq!(first.kind, Kind::Symlink);
    assert_eq!(t.readlink(first.ino).unwrap(), b1.id.as_bytes());
    let root_mtime = t.getattr(ROOT_INO).unwrap().mtime;
    let b2 = f.commit(vec![("svc", root, 1, 1, 3)]);
    assert_ne!(b1.id, b2.id);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // the list is fresh for 1 s
    let moved = t.lookup(ROOT_INO, OsStr::new("latest")).unwrap();
    assert_ne!(moved.ino, first.ino, "latest kept its inode while moving");
    // the kernel lists the root again only once its mtime moves
    assert_ne!(t.getattr(ROOT_INO).unwrap().mtime, root_mtime);
    assert_eq!(t.readlink(moved.ino).unwrap(), b2.id.as_bytes());
    assert_eq!(t.readlink(first.ino).unwrap(), b1.id.as_bytes());
    let listed = t.readdir(ROOT_INO, 0, 100).unwrap();
    let l = listed.iter().find(|e| e.name == "latest").unwrap();
    assert_eq!(l.ino, moved.ino);
    assert_eq!(
        t.lookup(ROOT_INO, OsStr::new("latest")).unwrap().ino,
        moved.ino,
        "the same target keeps the same inode"
    );
}

/// Records what a tree pushes into the "page cache".
#[derive(Default)]
struct Recorder(Mutex<Vec<(u64, Vec<u8>)>>);

impl Pusher for Recorder {
    fn push(&self, ino: u64, data: &[u8]) -> std::result::Result<(), Errno> {
        lock(&self.0).push((ino, data.to_vec()));
        Ok(())
    }
}

fn wait_pushed(r: &Recorder, n: usize) -> Vec<(u64, Vec<u8>)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while lock(&r.0).len() < n {
        assert!(std::time::Instant::now() < deadline, "not pushed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut v = lock(&r.0).clone();
    v.sort();
    v
}

/// The inodes of the entries of directory `dir` (one readdir of up to 100).
fn listed_inos(t: &RepoTree, dir: u64) -> Vec<u64> {
    t.readdir(dir, 0, 100)
        .unwrap()
        .iter()
        .map(|e| e.ino)
        .collect()
}

#[test]
fn checked_small_files_are_pushed_after_a_read_and_a_listing_alone_pushes_nothing() {
    let mut f = Forge::new();
    // `f3x` has a chunk no pack holds: it reads as EIO and is never pushed
    let mut files = eight_files(&mut f);
    files.insert(4, missing_chunk(b"f3x"));
    let empty = f.file(b"f9-empty", b"", 0o644);
    files.push(empty);
    let root = f.dir(b"svc", files);
    let others: Vec<Node> = (0..3)
        .map(|i| f.file(format!("g{i}").as_bytes(), &[b'g'; 5000][..], 0o644))
        .collect();
    let other = f.dir(b"other", others);
    let m = f.commit(vec![
        ("svc", root, 11, 11, 9),
        ("other", other, 3, 3, 15000),
    ]);
    let keys = KeyRing::new(Identity::parse(&f.identity, "test").unwrap());
    let t = RepoTree::open(f.ctl.repo.clone(), keys).unwrap();
    let rec = Arc::new(Recorder::default());
    t.set_pusher(rec.clone());
    let b = t.lookup(ROOT_INO, OsStr::new(&m.id)).unwrap().ino;
    let svc = t.lookup(b, OsStr::new("svc")).unwrap().ino;
    let inos: Vec<u64> = listed_inos(&t, svc);
    let other = t.lookup(b, OsStr::new("other")).unwrap().ino;
    let g: Vec<u64> = listed_inos(&t, other);

    // listed before any file is read (`ls -lR`): nothing queued
    t.listed(svc, &inos);
    assert!(lock(&t.pushed).is_empty(), "a listing alone pushed files");

    // reading f0 from its start pushes the siblings after it, whole, as a read gives them;
    // not f3x (its chunk is missing) nor the empty file
    assert_eq!(t.read(inos[0], 0, 100).unwrap(), b"content 0");
    let got = wait_pushed(&rec, 7);
    let want: Vec<(u64, Vec<u8>)> = [1usize, 2, 3, 5, 6, 7, 8]
        .iter()
        .map(|&i| (inos[i], t.read(inos[i], 0, 100).unwrap()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(t.read(inos[4], 0, 100).unwrap_err(), Errno::EIO);

    // now a reader is at work: a listing pushes the listed small files
    t.listed(other, &g);
    let got = wait_pushed(&rec, 10);
    for ino in &g {
        assert!(got.contains(&(*ino, vec![b'g'; 5000])), "{ino} not pushed");
    }
    // the prefetch threads are done with f3x (its batch was pushed): still never pushed
    assert!(!got.iter().any(|(ino, _)| *ino == inos[4]));
    assert_eq!(got.len(), 10, "pushed twice or pushed damaged: {got:?}");
}

//! Attacks on restore (see ../hostile.rs): a repository that tries to make restore leave its
//! target, destroy a live file, or decode without bound.
//!
//! Hostile backups are built by [`Forge`], a compromised or buggy writer: the library and the
//! controller's own keys, any tree at all. Every check is made through the real `cairn restore`.

use crate::harness::{self, Env, Out};
use cairn::backup::ChunkStore;
use cairn::controller::{Controller, PACK_TARGET};
use cairn::format::manifest::{Manifest, ServiceRecord};
use cairn::format::pack::BlobKind;
use cairn::format::tree::{ChunkRef, Node, NodeKind, Tree};
use cairn::id::{BackupId, ChunkId};
use cairn::keyring::{KeyRing, Unlocked};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The ONE place a forged manifest is committed: signed with the controller's own key and linked
/// into its chain (a compromised or buggy writer; a share writer cannot sign, see signing.rs).
fn write_manifest(ctl: &Controller, m: &Manifest) {
    let (seq, prev) = cairn::backup::chain_link(ctl).expect("the chain's last link");
    let m = Manifest {
        seq,
        prev,
        ..m.clone()
    };
    ctl.commit_manifest(&m)
        .expect("sign and write the forged manifest");
}

/// A writer with the controller's keys that builds backups holding any tree.
struct Forge {
    env: Env,
    ctl: Controller,
    base: Manifest,
    keys: Arc<Unlocked>,
    store: Option<ChunkStore>,
    /// Every chunk stored so far (a forged backup may reuse any of them).
    refs: Vec<ChunkId>,
    n: i64,
}

/// An entry of a forged tree (kept in the given order: no sorting, no checks).
enum E {
    File(&'static [u8], Vec<u8>, u32),
    Dir(&'static [u8], Vec<E>),
    Link(&'static [u8], Vec<u8>),
}

impl Forge {
    /// A repository with one honest backup (for its keys), and the forge.
    fn new() -> Forge {
        let env = Env::new();
        let src = env.path("honest");
        harness::write(&src.join("f.txt"), b"honest\n");
        env.add_path_service("honest", &src);
        env.backup();
        let ctl = Controller::open(&env.repo).expect("open the repository");
        let base = ctl.repo.resolve("latest").expect("the honest backup");
        let ring = KeyRing::new(cairn::crypto::Identity::load(&env.identity).expect("identity"));
        let keys = ring
            .session(&ctl.repo, &base.session, &base.id)
            .expect("session keys");
        Forge {
            env,
            ctl,
            base,
            keys,
            store: None,
            refs: Vec::new(),
            n: 0,
        }
    }

    fn store(&mut self) -> &ChunkStore {
        if self.store.is_none() {
            let index = Arc::new(self.ctl.index().expect("index"));
            self.store = Some(ChunkStore::start(
                self.ctl.repo.store.clone(),
                index,
                self.keys.session.clone(),
                self.base.session,
                PACK_TARGET,
                3,
                1,
            ));
        }
        self.store.as_ref().expect("store started")
    }

    fn put(&mut self, kind: BlobKind, data: &[u8]) -> ChunkId {
        let id = self.keys.id_key.chunk_id(data);
        self.store().put(id, kind, data, 0).expect("store a blob");
        id
    }

    /// Store a tree blob exactly as given.
    fn put_tree(&mut self, t: &Tree) -> ChunkId {
        self.put(BlobKind::Tree, &t.encode())
    }

    /// Store raw tree plaintext.
    fn put_raw_tree(&mut self, bytes: &[u8]) -> ChunkId {
        self.put(BlobKind::Tree, bytes)
    }

    fn node(name: &[u8], kind: NodeKind, mode: u32, size: u64) -> Node {
        Node {
            name: name.to_vec(),
            kind,
            mode,
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            mtime_s: 1_500_000_000,
            mtime_ns: 0,
            size,
        }
    }

    /// Store the entries (and their content) as a tree; its id.
    fn tree(&mut self, entries: &[E]) -> ChunkId {
        let mut nodes = Vec::new();
        for e in entries {
            nodes.push(match e {
                E::File(name, data, mode) => {
                    let chunks = if data.is_empty() {
                        vec![]
                    } else {
                        vec![ChunkRef {
                            id: self.put(BlobKind::Data, data),
                            len: data.len() as u32,
                        }]
                    };
                    Self::node(name, NodeKind::File { chunks }, *mode, data.len() as u64)
                }
                E::Dir(name, inner) => {
                    let tree = self.tree(inner);
                    Self::node(name, NodeKind::Dir { tree }, 0o755, 0)
                }
                E::Link(name, target) => Self::node(
                    name,
                    NodeKind::Symlink {
                        target: target.clone(),
                    },
                    0o777,
                    0,
                ),
            });
        }
        self.put_tree(&Tree { nodes })
    }

    /// A service record with this root and these declared counts.
    fn service(name: &str, root: ChunkId, files: u64, dirs: u64, bytes: u64) -> ServiceRecord {
        ServiceRecord {
            name: name.to_string(),
            kind: "path".into(),
            root,
            files,
            dirs,
            bytes,
            bytes_new: 0,
            duration_ms: 0,
            root_mode: 0o755,
            root_uid: rustix::process::geteuid().as_raw(),
            root_gid: rustix::process::getegid().as_raw(),
            root_mtime_s: 1_500_000_000,
            phases: Default::default(),
        }
    }

    /// Commit a backup of these services; its id.
    fn commit(&mut self, services: Vec<ServiceRecord>) -> String {
        let stats = self
            .store
            .take()
            .map(|s| s.finish().expect("finish the packs"))
            .unwrap_or_default();
        self.n += 1;
        let id = BackupId::from_millis(self.base.time_ms + 1000 * self.n).to_string();
        self.refs
            .extend(stats.refs.to_vec().expect("the references"));
        self.refs.push(self.base.definitions);
        self.refs.sort_unstable();
        self.refs.dedup();
        let refs = self.refs.clone();
        let m = Manifest {
            id: id.clone(),
            services,
            refs,
            ..self.base.clone()
        };
        write_manifest(&self.ctl, &m);
        id
    }

    fn restore(&self, id: &str, target: &Path, extra: &[&str]) -> Out {
        self.env.restore(id, target, extra)
    }

    /// `cairn restore ID --target DIR` and the peak resident memory of that process, in MiB.
    fn restore_measured(&self, id: &str, target: &Path) -> (Out, u64) {
        let (o, kib) = harness::cairn_measured(
            &self.env.repo,
            [
                std::ffi::OsStr::new("--quiet"),
                "restore".as_ref(),
                id.as_ref(),
                "--target".as_ref(),
                target.as_os_str(),
                "--identity".as_ref(),
                self.env.identity.as_os_str(),
            ],
        );
        (o, kib / 1024)
    }
}

/// Every path below `dir` (relative), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

/// Entries, type, mode, owner, size, mtime and content of everything below `dir`, and `dir`'s
/// own mode, owner and mtime: equal means untouched.
fn state_of(dir: &Path) -> Vec<String> {
    let one = |p: &Path| {
        let m = fs::symlink_metadata(p).unwrap();
        let body = if m.is_file() {
            fs::read(p).unwrap()
        } else {
            vec![]
        };
        format!(
            "{} {:o} {} {} {} {}.{} {:?}",
            p.display(),
            m.mode(),
            m.uid(),
            m.gid(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            blake3::hash(&body)
        )
    };
    let mut v = vec![one(dir)];
    v.extend(walk(dir).iter().map(|p| one(p)));
    v.sort();
    v
}

/// A directory outside every target, with a file, mode 0700 and an old mtime.
fn outside(f: &Forge) -> PathBuf {
    let o = f.env.path("outside");
    harness::write(&o.join("keep.txt"), b"not the backup's\n");
    fs::set_permissions(&o, fs::Permissions::from_mode(0o700)).unwrap();
    harness::set_mtime(&o.join("keep.txt"), 1_577_934_245, 0);
    harness::set_mtime(&o, 1_577_934_245, 0);
    o
}

fn no_temporaries(dir: &Path) {
    let left: Vec<String> = listing(dir)
        .into_iter()
        .filter(|p| p.contains(".cairn-restore-"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

#[test]
fn a_service_named_dotdot_or_absolute_is_refused_and_nothing_restored() {
    let mut f = Forge::new();
    let base = f.env.path("deep/a/b");
    fs::create_dir_all(&base).unwrap();
    let abs = f.env.path("abs-service");
    for bad in ["../..".to_string(), abs.display().to_string()] {
        let good_root = f.tree(&[E::File(b"ok.txt", b"fine\n".to_vec(), 0o644)]);
        let bad_root = f.tree(&[E::File(b"escaped.txt", b"out\n".to_vec(), 0o644)]);
        let id = f.commit(vec![
            Forge::service("good", good_root, 1, 1, 5),
            Forge::service(&bad, bad_root, 1, 1, 4),
        ]);
        let t = base.join("target");
        let o = f.restore(&id, &t, &[]);
        o.expect(
            1,
            &format!("restore of a backup with a service named {bad:?}"),
        );
        // refused where the manifest is decoded (signed or not), or by restore itself
        assert!(
            o.stderr.contains("bad service name") || o.stderr.contains("not a plain name"),
            "the error does not say the service name is refused: {}",
            o.stderr
        );
        // nothing at all was restored, not even the good service, and nothing outside
        assert!(listing(&t).is_empty(), "restored: {:?}", listing(&t));
        let made = listing(&f.env.path("deep"));
        assert!(
            made == ["a", "a/b"] || made == ["a", "a/b", "a/b/target"],
            "made outside the target: {made:?}"
        );
        assert!(
            !abs.exists(),
            "a service directory was made at its absolute name"
        );
    }
}

#[test]
fn a_tree_with_unsafe_duplicate_or_unsorted_names_is_damage_and_stays_inside() {
    let mut f = Forge::new();
    let file = |n: &'static [u8]| E::File(n, b"x\n".to_vec(), 0o644);
    let cases: Vec<(&str, Vec<E>, &str)> = vec![
        (
            "dotdot",
            vec![E::Dir(b"..", vec![file(b"escaped-dotdot.txt")])],
            "unsafe entry name",
        ),
        (
            "dot",
            vec![E::Dir(b".", vec![file(b"x.txt")])],
            "unsafe entry name",
        ),
        (
            "slash",
            vec![file(b"../../escaped-slash.txt")],
            "unsafe entry name",
        ),
        ("nul", vec![file(b"a\0b")], "unsafe entry name"),
        ("empty", vec![file(b"")], "unsafe entry name"),
        ("duplicate", vec![file(b"x"), file(b"x")], "duplicate entry"),
        ("unsorted", vec![file(b"b"), file(b"a")], "out of order"),
    ];
    for (what, entries, says) in cases {
        let root = f.tree(&entries);
        let id = f.commit(vec![Forge::service("svc", root, 2, 2, 4)]);
        let t = f.env.path(&format!("t-{what}/in/target"));
        let o = f.restore(&id, &t, &[]);
        o.expect(1, &format!("restore of a tree with a {what} name"));
        assert!(
            o.stderr.contains(says),
            "{what}: the error does not say {says:?}: {}",
            o.stderr
        );
        assert_eq!(
            listing(&f.env.path(&format!("t-{what}"))),
            ["in", "in/target", "in/target/svc"],
            "{what}: something other than the empty service directory was made"
        );
    }
}

#[test]
fn a_symlink_then_a_directory_of_the_same_name_never_leads_outside() {
    let mut f = Forge::new();
    let out = outside(&f);
    let before = state_of(&out);
    let link = out.as_os_str().as_encoded_bytes().to_vec();
    let setuid_file = || E::File(b"planted", b"#!/bin/sh\n".to_vec(), 0o4755);
    // in one tree: the decoder refuses the duplicate name
    let root = f.tree(&[
        E::Link(b"d", link.clone()),
        E::Dir(b"d", vec![setuid_file()]),
    ]);
    let id = f.commit(vec![Forge::service("svc", root, 1, 2, 10)]);
    let t = f.env.path("t1");
    f.restore(&id, &t, &[]).expect(1, "symlink then directory");
    assert_eq!(state_of(&out), before, "restore wrote outside its target");
    // across two services of the same name: the symlink the first one restored is not followed
    let r1 = f.tree(&[E::Link(b"d", link)]);
    let r2 = f.tree(&[E::Dir(b"d", vec![setuid_file()])]);
    let id = f.commit(vec![
        Forge::service("svc", r1, 0, 1, 0),
        Forge::service("svc", r2, 1, 2, 10),
    ]);
    let t = f.env.path("t2");
    let o = f.restore(&id, &t, &[]);
    o.expect(1, "a directory over a symlink restored in the same run");
    // the manifest decoder refuses two services of one name; were it to let them through, the
    // handle layer would refuse to follow the symlink the first one restored
    assert!(
        o.stderr.contains("appears twice") || o.stderr.contains("not followed"),
        "{}",
        o.stderr
    );
    assert_eq!(state_of(&out), before, "restore wrote outside its target");
    if let Ok(m) = fs::symlink_metadata(t.join("svc/d")) {
        assert!(
            m.is_symlink(),
            "the restored symlink was replaced without --overwrite"
        );
    }
}

#[test]
fn overwrite_replaces_symlinks_in_the_target_and_never_follows_them() {
    let f = Forge::new();
    let e = &f.env;
    let src = e.path("src");
    harness::write(&src.join("conf/d2/a.json"), b"{\"a\": 1}\n");
    harness::write(&src.join("conf/d2/sub/b.json"), b"{\"b\": 2}\n");
    harness::write(&src.join("conf/top.txt"), b"top\n");
    e.add_path_service("arm", &src);
    let id = e.backup();
    let t = e.path("t");
    e.restore(&id, &t, &["--service", "arm"])
        .ok("first restore");
    let out = outside(&f);
    let before = state_of(&out);
    // a directory of the backup, and a file of it, are now symlinks to the outside
    fs::remove_dir_all(t.join("arm/conf/d2")).unwrap();
    std::os::unix::fs::symlink(&out, t.join("arm/conf/d2")).unwrap();
    fs::remove_file(t.join("arm/conf/top.txt")).unwrap();
    std::os::unix::fs::symlink(out.join("keep.txt"), t.join("arm/conf/top.txt")).unwrap();
    e.restore(&id, &t, &["--service", "arm", "--overwrite"])
        .ok("restore --overwrite over symlinks");
    assert_eq!(
        state_of(&out),
        before,
        "restore --overwrite followed a symlink out of --target"
    );
    harness::assert_same(
        &harness::snapshot(&src),
        &harness::snapshot(&t.join("arm")),
        "the target after restore --overwrite",
    );
    // the service directory itself a symlink to the outside
    fs::remove_dir_all(t.join("arm")).unwrap();
    std::os::unix::fs::symlink(&out, t.join("arm")).unwrap();
    e.restore(&id, &t, &["--service", "arm", "--overwrite"])
        .ok("restore --overwrite over a symlinked service directory");
    assert_eq!(
        state_of(&out),
        before,
        "restore --overwrite followed the service symlink"
    );
    assert!(fs::symlink_metadata(t.join("arm")).unwrap().is_dir());
    harness::assert_same(
        &harness::snapshot(&src),
        &harness::snapshot(&t.join("arm")),
        "the target after restore --overwrite over the service symlink",
    );
    no_temporaries(&t);
}

#[test]
fn a_damaged_backup_under_overwrite_keeps_the_live_file_and_names_it() {
    let e = Env::new();
    let src = e.path("src");
    harness::write(
        &src.join("ledger/big.bin"),
        &harness::random_bytes(7, 6 << 20),
    );
    harness::write(&src.join("note.txt"), b"a small note\n");
    e.add_path_service("ledger", &src);
    let id = e.backup();
    let t = e.path("live");
    e.restore(&id, &t, &[]).ok("first restore");
    let live = t.join("ledger/ledger/big.bin");
    fs::write(&live, b"the live copy, newer than any backup\n").unwrap();
    let live_before = fs::read(&live).unwrap();
    // flip a bit in the middle of the largest pack: one of big.bin's chunks
    let pack = e
        .packs()
        .into_iter()
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    fs::set_permissions(&pack, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&pack, &bytes).unwrap();
    let o = e.restore(&id, &t, &["--overwrite"]);
    o.expect(1, "restore --overwrite of a damaged backup");
    assert!(
        o.stderr.contains("ledger/big.bin"),
        "the error does not name the damaged file by its path in the service: {}",
        o.stderr
    );
    assert_eq!(
        fs::read(&live).unwrap(),
        live_before,
        "restore --overwrite of a damaged backup changed the live file"
    );
    assert_eq!(
        fs::read(t.join("ledger/note.txt")).unwrap(),
        b"a small note\n"
    );
    no_temporaries(&t);
}

#[test]
fn more_entries_files_or_bytes_than_the_manifest_declares_stop_the_restore() {
    let mut f = Forge::new();
    let files: Vec<E> = [&b"a"[..], b"b", b"c", b"d", b"e"]
        .iter()
        .map(|n| E::File(n, b"0123456789".to_vec(), 0o644))
        .collect();
    let root = f.tree(&files);
    // honest counts restore
    let id = f.commit(vec![Forge::service("svc", root, 5, 1, 50)]);
    f.restore(&id, &f.env.path("t0"), &[]).ok("honest counts");
    for (what, files, bytes, says) in [
        ("files", 2, 50, "more files"),
        ("bytes", 5, 20, "more bytes"),
    ] {
        let id = f.commit(vec![Forge::service("svc", root, files, 1, bytes)]);
        let t = f.env.path(&format!("t-{what}"));
        let o = f.restore(&id, &t, &[]);
        o.expect(1, &format!("a tree over the {what} budget"));
        assert!(o.stderr.contains(says), "{what}: {}", o.stderr);
        assert!(
            o.stderr.contains("manifest declares"),
            "{what}: {}",
            o.stderr
        );
    }
    // a tree of 100 000 symlinks in a service that declares one file: refused before one of
    // them is made
    let nodes: Vec<Node> = (0..100_000u32)
        .map(|i| {
            Forge::node(
                format!("l{i:08}").as_bytes(),
                NodeKind::Symlink {
                    target: b"x".to_vec(),
                },
                0o777,
                0,
            )
        })
        .collect();
    let root = f.put_tree(&Tree { nodes });
    let id = f.commit(vec![Forge::service("svc", root, 1, 1, 0)]);
    let t = f.env.path("t-entries");
    let (o, peak_mib) = f.restore_measured(&id, &t);
    o.expect(1, "a tree over the entry budget");
    assert!(peak_mib < 100, "restore peaked at {peak_mib} MiB");
    assert!(o.stderr.contains("more entries"), "{}", o.stderr);
    assert_eq!(
        listing(&t),
        ["svc"],
        "entries were made before the budget stopped it"
    );
    // a tiny tree that claims millions of entries fails at once
    let mut raw = b"CAIRNTRE\x01\x00".to_vec();
    raw.extend_from_slice(&[0x80, 0x84, 0xaf, 0x5f]); // varint 200 000 000
    raw.extend_from_slice(&[0u8; 64]);
    let root = f.put_raw_tree(&raw);
    let id = f.commit(vec![Forge::service(
        "svc",
        root,
        u64::MAX / 4,
        u64::MAX / 4,
        0,
    )]);
    let t = f.env.path("t-claims");
    let started = std::time::Instant::now();
    let (o, peak_mib) = f.restore_measured(&id, &t);
    o.expect(1, "a tree claiming 200 million entries");
    assert!(o.stderr.contains("200000000 entries"), "{}", o.stderr);
    assert!(peak_mib < 100, "restore peaked at {peak_mib} MiB");
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}

/// Segmented files (docs/FORMAT.md §8a) from a hostile writer: a segment that lists another
/// segment of its file as content (a loop), one whose count or bytes lie about it, one stored
/// as a data blob, and a file entry claiming a segment over the cap. Each is damage named by
/// the file's path; the honest segmented file beside them restores identical.
#[test]
fn looping_lying_or_oversized_segments_are_damage_and_never_content() {
    use cairn::format::segment::{self, SegmentRef};
    let mut f = Forge::new();
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let parts: Vec<ChunkRef> = data
        .chunks(1000)
        .map(|c| ChunkRef {
            id: f.put(BlobKind::Data, c),
            len: c.len() as u32,
        })
        .collect();
    let sref = |id: ChunkId, p: &[ChunkRef]| SegmentRef {
        id,
        chunks: p.len() as u32,
        bytes: p.iter().map(|c| u64::from(c.len)).sum(),
    };
    let honest = segment::encode(&parts);
    let seg_b = f.put(BlobKind::Tree, &honest);
    // segment A lists segment B (a blob that does decode and authenticate) as content
    let looping = vec![
        parts[0],
        ChunkRef {
            id: seg_b,
            len: honest.len() as u32,
        },
    ];
    let seg_a = f.put(BlobKind::Tree, &segment::encode(&looping));
    let as_data = f.put(BlobKind::Data, &segment::encode(&parts[..2]));
    let seg = |segments: Vec<SegmentRef>| {
        let size = segments.iter().map(|s| s.bytes).sum();
        (NodeKind::FileSegments { segments }, size)
    };
    let files = [
        (&b"good"[..], seg(vec![sref(seg_b, &parts)])),
        (
            b"huge",
            seg(vec![SegmentRef {
                chunks: 5000,
                ..sref(seg_b, &parts)
            }]),
        ),
        (b"kind", seg(vec![sref(as_data, &parts[..2])])),
        (
            b"lies",
            seg(vec![SegmentRef {
                chunks: 2,
                bytes: 2000,
                id: seg_b,
            }]),
        ),
        (
            b"loop",
            seg(vec![sref(seg_a, &looping), sref(seg_b, &parts)]),
        ),
    ];
    // "huge" makes its whole tree damage (decoding refuses it): keep it in a tree of its own
    let (mut top, mut alone) = (Vec::new(), Vec::new());
    for (name, (kind, size)) in files {
        let n = Forge::node(name, kind, 0o644, size);
        if name == b"huge" {
            alone.push(n)
        } else {
            top.push(n)
        }
    }
    let sub = f.put_tree(&Tree { nodes: alone });
    top.insert(
        1,
        Forge::node(b"hugedir", NodeKind::Dir { tree: sub }, 0o755, 0),
    );
    let root = f.put_tree(&Tree { nodes: top });
    let id = f.commit(vec![Forge::service("svc", root, 5, 2, 30_000)]);
    let t = f.env.path("t");
    let o = f.restore(&id, &t, &[]);
    o.expect(1, "restore of hostile segments");
    for bad in ["svc/hugedir", "svc/kind", "svc/lies", "svc/loop"] {
        assert!(o.stderr.contains(bad), "{bad} not named: {}", o.stderr);
        let p = t.join(bad);
        assert!(!p.is_file(), "{bad} was written");
    }
    assert!(o.stderr.contains("impossible segment list"), "{}", o.stderr);
    assert!(o.stderr.contains("segment of its own file"), "{}", o.stderr);
    assert!(o.stderr.contains("not a segment"), "{}", o.stderr);
    assert!(o.stderr.contains("lists 3 chunks"), "{}", o.stderr);
    assert_eq!(fs::read(t.join("svc/good")).unwrap(), data);
    no_temporaries(&t);
}

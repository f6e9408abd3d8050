//! `cairn mount`'s tree served through the real kernel FUSE: bytes identical to the source,
//! read-only, `latest`, backups taken while mounted, EIO (never wrong bytes) on damage.

use crate::fixtures::{bytes, repo_with_service};
use cairn::controller::Controller;
use cairn::crypto::{self, Identity};
use cairn::keyring::KeyRing;
use cairn::progress::Progress;
use cairn::vfs::RepoTree;
use cairn_fuse::{MountHandle, MountOptions};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Whether this machine can mount (root and /dev/fuse); tests skip, saying so, otherwise.
fn can_mount() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = rustix::process::geteuid().as_raw() == 0;
    let ok = root && Path::new("/dev/fuse").exists();
    if !ok {
        eprintln!("skipped: mounting needs root and /dev/fuse");
    }
    ok
}

/// Unmounts (lazily, whatever happened) when dropped.
struct Mounted {
    handle: Option<MountHandle>,
    at: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        drop(self.handle.take());
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.at)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn mount(ctl: &Controller, identity: &str, at: &Path) -> Mounted {
    fs::create_dir_all(at).unwrap();
    let keys = KeyRing::new(Identity::parse(identity, "test identity").unwrap());
    let tree = RepoTree::open(ctl.repo.clone(), keys).unwrap();
    let handle = cairn_fuse::spawn(tree, at, &MountOptions::default()).unwrap();
    Mounted {
        handle: Some(handle),
        at: at.to_path_buf(),
    }
}

fn make_source(src: &Path) {
    fs::create_dir_all(src.join("conf/d1")).unwrap();
    fs::create_dir_all(src.join("empty")).unwrap();
    fs::write(src.join("large.img"), bytes(1, 9 << 20)).unwrap();
    for i in 0..40 {
        fs::write(
            src.join(format!("conf/d1/item-{i}.json")),
            format!("{{\"n\": {i}}}\n").repeat(i + 1),
        )
        .unwrap();
    }
    fs::write(src.join("secret.key"), "secret\n").unwrap();
    fs::set_permissions(src.join("secret.key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(src.join("zero-length"), "").unwrap();
    std::os::unix::fs::symlink("conf/d1/item-1.json", src.join("link")).unwrap();
}

/// `a` and `b` hold the same names, kinds, modes, symlink targets and bytes.
fn assert_same_tree(a: &Path, b: &Path) {
    let ma = fs::symlink_metadata(a).unwrap();
    let mb = fs::symlink_metadata(b).unwrap();
    assert_eq!(ma.file_type(), mb.file_type(), "{}", b.display());
    assert_eq!(ma.mode() & 0o7777, mb.mode() & 0o7777, "{}", b.display());
    if ma.file_type().is_symlink() {
        assert_eq!(fs::read_link(a).unwrap(), fs::read_link(b).unwrap());
    } else if ma.is_file() {
        assert_eq!(ma.len(), mb.len(), "{}", b.display());
        assert!(
            fs::read(a).unwrap() == fs::read(b).unwrap(),
            "{}",
            b.display()
        );
    } else {
        let names = |p: &Path| {
            let mut v: Vec<_> = fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            v.sort();
            v
        };
        let (na, nb) = (names(a), names(b));
        assert_eq!(na, nb, "{}", b.display());
        for n in na {
            assert_same_tree(&a.join(&n), &b.join(&n));
        }
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn mount_shows_every_backup_as_its_source() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_source(&src);
    let (ctl, identity) = repo_with_service(&dir.path().join("repo"), "ca", &src);
    let b1 = cairn::backup::run(&ctl, &Progress::default()).unwrap().id;
    let mnt = dir.path().join("mnt");
    let _m = mount(&ctl, &identity, &mnt);

    assert_same_tree(&src, &mnt.join(&b1).join("ca"));
    assert_eq!(fs::read_link(mnt.join("latest")).unwrap(), Path::new(&b1));

    // random offsets in the large file
    let want = fs::read(src.join("large.img")).unwrap();
    let mut f = fs::File::open(mnt.join("latest/ca/large.img")).unwrap();
    let mut x = 12345u64;
    for _ in 0..200 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let off = (x >> 20) as usize % want.len();
        let len = 1 + (x >> 5) as usize % 300_000;
        let mut got = vec![0u8; len];
        f.seek(SeekFrom::Start(off as u64)).unwrap();
        let n = read_full(&mut f, &mut got);
        let end = (off + len).min(want.len());
        assert_eq!(n, end - off);
        assert!(got[..n] == want[off..end], "bytes differ at offset {off}");
    }

    // read-only
    let base = mnt.join(&b1).join("ca");
    let e = fs::File::create(base.join("new")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    let e = fs::remove_file(base.join("zero-length")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    let e = fs::OpenOptions::new()
        .write(true)
        .open(base.join("secret.key"))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");

    // a backup taken while mounted appears, and `latest` moves to it
    fs::write(
        src.join("conf/d1/new-file.txt"),
        "changed after the first backup\n",
    )
    .unwrap();
    let b2 = cairn::backup::run(&ctl, &Progress::default()).unwrap().id;
    wait_for("the new backup appears", || mnt.join(&b2).exists());
    assert_same_tree(&src, &mnt.join(&b2).join("ca"));
    assert!(!mnt.join(&b1).join("ca/conf/d1/new-file.txt").exists());
    wait_for("latest moves", || {
        fs::read_link(mnt.join("latest")).ok().as_deref() == Some(Path::new(&b2))
    });
    let mut root: Vec<_> = fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    root.sort();
    assert_eq!(root, vec![b1, b2, "latest".to_string()]);
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

#[test]
fn damaged_data_reads_as_eio_and_the_mount_stays_up() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make_source(&src);
    let (ctl, identity) = repo_with_service(&dir.path().join("repo"), "ca", &src);
    let b1 = cairn::backup::run(&ctl, &Progress::default()).unwrap().id;
    let mnt = dir.path().join("mnt");
    let _m = mount(&ctl, &identity, &mnt);
    let base = mnt.join(&b1).join("ca");
    // load the listings first: the damage is then only in file data
    assert_eq!(fs::metadata(base.join("large.img")).unwrap().len(), 9 << 20);

    // flip a bit in one of the large file's chunks
    flip_a_bit_of_file_data(&ctl, &dir.path().join("repo"));

    let want = fs::read(src.join("large.img")).unwrap();
    for _ in 0..2 {
        let mut f = fs::File::open(base.join("large.img")).unwrap();
        let mut got = Vec::new();
        let e = f.read_to_end(&mut got).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
        assert!(
            got[..] == want[..got.len()],
            "wrong bytes before the damage"
        );
    }
    // the mount is still up and serves what is intact
    assert_eq!(fs::read(base.join("secret.key")).unwrap(), b"secret\n");
    assert!(fs::read_dir(&mnt).unwrap().count() >= 2);
}

#[test]
fn a_wrong_identity_is_refused_before_mounting() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), "a").unwrap();
    let (ctl, _identity) = repo_with_service(&dir.path().join("repo"), "ca", &src);
    let b1 = cairn::backup::run(&ctl, &Progress::default()).unwrap().id;
    let (other, _) = crypto::generate_identity();
    let keys = KeyRing::new(Identity::parse(&other, "other").unwrap());
    let err = RepoTree::open(ctl.repo.clone(), keys)
        .err()
        .expect("a wrong identity must be refused");
    assert_eq!(err.exit_code(), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("this identity cannot decrypt backup") && msg.contains(&b1),
        "{msg}"
    );
}

/// A file whose chunk list is stored in segments (a service with small chunks) reads through
/// the mount identical to its source, at any offset.
#[test]
fn a_segmented_file_reads_identical_through_the_mount() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let want = bytes(3, 3 << 20);
    fs::write(src.join("dump.sql"), &want).unwrap();
    let (ctl, identity) = repo_with_service(&dir.path().join("repo"), "db", &src);
    let mut list = ctl.services().unwrap();
    let mut def = list.services[0].clone();
    def.chunk_size = Some(1024); // some 2500 chunks: stored in segments
    list.set(def).unwrap();
    ctl.save_services(&list).unwrap();
    let b1 = cairn::backup::run(&ctl, &Progress::default()).unwrap().id;
    let mnt = dir.path().join("mnt");
    let _m = mount(&ctl, &identity, &mnt);
    let path = mnt.join(&b1).join("db/dump.sql");
    assert_eq!(fs::metadata(&path).unwrap().len(), want.len() as u64);
    assert!(fs::read(&path).unwrap() == want, "bytes differ");
    let mut f = fs::File::open(&path).unwrap();
    for off in [0u64, 1, 1_000_003, (3 << 20) - 10] {
        let mut got = vec![0u8; 5000];
        f.seek(SeekFrom::Start(off)).unwrap();
        let n = read_full(&mut f, &mut got);
        let end = (off as usize + 5000).min(want.len());
        assert!(got[..n] == want[off as usize..end], "bytes differ at {off}");
    }
}

fn mount_with(ctl: &Controller, identity: &str, at: &Path, opts: &MountOptions) -> Mounted {
    fs::create_dir_all(at).unwrap();
    let keys = KeyRing::new(Identity::parse(identity, "test identity").unwrap());
    let tree = RepoTree::open(ctl.repo.clone(), keys).unwrap();
    let handle = cairn_fuse::spawn(tree, at, opts).unwrap();
    Mounted {
        handle: Some(handle),
        at: at.to_path_buf(),
    }
}

impl Mounted {
    fn requests(&self) -> cairn_fuse::RequestCounts {
        self.handle.as_ref().unwrap().requests()
    }
}

/// A directory of `n` small files of distinct contents, and `first/a`.
fn many_small_files(src: &Path, n: usize, len: usize) {
    fs::create_dir_all(src.join("many")).unwrap();
    fs::create_dir_all(src.join("first")).unwrap();
    fs::write(src.join("first/a"), "first\n").unwrap();
    for i in 0..n {
        fs::write(
            src.join(format!("many/f{i:04}")),
            bytes(i as u64 + 7, len + i),
        )
        .unwrap();
    }
}

/// Flip one bit in the middle of the largest file-data blob of the largest pack of `ctl`'s
/// repository (at `repo`) (a chunk or a group of small ones). Not simply the pack's middle: a tree sealed by
/// its own thread can land there between the data blobs (seen at 55–95 % of the pack under
/// load), and a tree the test has already listed would take the damage.
fn flip_a_bit_of_file_data(ctl: &Controller, repo: &Path) {
    use cairn::format::pack::BlobKind;
    let store = ctl.repo.store.as_ref();
    let pack = store
        .list("data/")
        .unwrap()
        .into_iter()
        .max_by_key(|o| o.size)
        .unwrap();
    let h = cairn::index::read_pack_header(store, &pack.name, pack.size).unwrap();
    let blob = h
        .entries
        .iter()
        .filter(|e| e.kind == BlobKind::Data)
        .max_by_key(|e| e.length)
        .unwrap();
    let path = repo.join(&pack.name);
    let mut bytes = fs::read(&path).unwrap();
    bytes[(blob.offset + blob.length / 2) as usize] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
}

/// A repository with one service `ca` over `n` small files (`many_small_files`) and one backup
/// of it: the temporary directory holding both, the controller, the identity and the backup id.
fn small_files_backed_up(n: usize, len: usize) -> (tempfile::TempDir, Controller, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    many_small_files(&src, n, len);
    let (ctl, identity) = repo_with_service(&dir.path().join("repo"), "ca", &src);
    let b1 = cairn::backup::run(&ctl, &Progress::default()).unwrap().id;
    (dir, ctl, identity, b1)
}

/// A reader of many small files (`tar`, `cp -r`) finds them in the page cache, stored there by
/// the mount as their directory is listed: far fewer READ requests than files, the same bytes.
/// With the push off, every file costs a READ.
#[test]
fn small_files_listed_while_reading_are_pushed_into_the_page_cache() {
    if !can_mount() {
        return;
    }
    const N: usize = 200;
    let (dir, ctl, identity, b1) = small_files_backed_up(N, 3000);
    for push in [true, false] {
        let mnt = dir.path().join(format!("mnt-{push}"));
        let mut opts = MountOptions::default();
        opts.push = push;
        let m = mount_with(&ctl, &identity, &mnt, &opts);
        let base = mnt.join(&b1).join("ca");
        // a reader at work: reads a file from its start, then lists the next directory
        assert_eq!(fs::read(base.join("first/a")).unwrap(), b"first\n");
        let listed = fs::read_dir(base.join("many")).unwrap().count();
        assert_eq!(listed, N);
        if push {
            wait_for("the listed files are pushed", || {
                m.requests().pushed >= N as u64
            });
            // the last stores are written after they are counted
            std::thread::sleep(Duration::from_millis(200));
        } else {
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(m.requests().pushed, 0);
        }
        for i in 0..N {
            let got = fs::read(base.join(format!("many/f{i:04}"))).unwrap();
            assert!(
                got == bytes(i as u64 + 7, 3000 + i),
                "bytes of f{i:04} differ (push {push})"
            );
        }
        let r = m.requests();
        if push {
            assert!(
                r.read <= 1 + N as u64 / 10,
                "READ requests for {N} pushed files: {r:?}"
            );
        } else {
            assert!(
                r.read > N as u64,
                "READ requests for {N} files without push: {r:?}"
            );
        }
    }
}

/// A file whose chunk is damaged is never pushed into the page cache: reading it fails with
/// EIO every time, while its intact neighbours, pushed, read as their source.
#[test]
fn a_damaged_small_file_is_not_pushed_and_reads_as_eio() {
    if !can_mount() {
        return;
    }
    const N: usize = 100;
    let (dir, ctl, identity, b1) = small_files_backed_up(N, 30_000);
    let mnt = dir.path().join("mnt");
    let m = mount(&ctl, &identity, &mnt);
    let base = mnt.join(&b1).join("ca");
    // load the listings first (no file read yet: nothing pushed): the damage is then only in
    // file data
    assert_eq!(fs::read_dir(base.join("many")).unwrap().count(), N);
    assert_eq!(m.requests().pushed, 0);
    // flip a bit in one group of the files' chunks
    flip_a_bit_of_file_data(&ctl, &dir.path().join("repo"));

    let mut damaged = Vec::new();
    for i in 0..N {
        let path = base.join(format!("many/f{i:04}"));
        match fs::read(&path) {
            Ok(got) => assert!(
                got == bytes(i as u64 + 7, 30_000 + i),
                "f{i:04}: wrong bytes instead of EIO"
            ),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EIO), "f{i:04}: {e}");
                damaged.push(path);
            }
        }
        if i == 0 {
            // the first read pushes the next files; let the pushes land
            wait_for("siblings are pushed", || m.requests().pushed >= 32);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert!(!damaged.is_empty(), "the damage hit no file");
    for path in &damaged {
        let e = fs::read(path).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO), "{}: {e}", path.display());
    }
    let r = m.requests();
    assert!(r.read < N as u64 / 2, "few files were pushed: {r:?}");
}

//! Mount an in-memory tree through the real kernel FUSE and check what processes see.
#![allow(clippy::unwrap_used)] // a test or bench: a panic is the failure report

mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use cairn_fuse::{check_mountpoint, MountError, MountHandle, MountOptions, ROOT_INO};
use common::{is_mount_point, pseudo_random, require_fuse, MemTree, MountDir, Rng, MTIME};

const BIG: usize = 48 << 20;

/// Inode numbers of the interesting entries of [`sample_tree`].
struct Sample {
    tree: Arc<MemTree>,
    big_data: Arc<Vec<u8>>,
    big: u64,
    secret: u64,
}

/// The tree of the tests:
/// ```text
/// /
/// ├── b1/
/// │   └── svc/
/// │       ├── big.bin        48 MiB pseudo-random
/// │       ├── empty          0 bytes
/// │       ├── secret.key     mode 0600
/// │       ├── link -> big.bin
/// │       ├── broken.bin     reads fail with EIO
/// │       ├── panics.bin     reads panic in the tree
/// │       ├── sub/deeper/    empty directory
/// │       └── many/          5000 files f00000..f04999
/// ├── evil/                  entries named "", ".", "..", "a/b", "x\0y", 300 x 'n'; plus "fine"
/// └── latest -> b1
/// ```
fn sample_tree() -> Sample {
    let mut t = MemTree::new();
    let b1 = t.dir(ROOT_INO, "b1");
    let svc = t.dir(b1, "svc");
    let data = pseudo_random(BIG, 42);
    let big = t.file(svc, "big.bin", data.clone());
    t.file(svc, "empty", Vec::new());
    let secret = t.file(svc, "secret.key", b"PLAINTEXT\n".to_vec());
    t.set_perm(secret, 0o600);
    t.symlink(svc, "link", "big.bin");
    t.broken_file(svc, "broken.bin", 4096);
    t.panicking_file(svc, "panics.bin", 4096);
    let sub = t.dir(svc, "sub");
    t.dir(sub, "deeper");
    let many = t.dir(svc, "many");
    for i in 0..5000 {
        t.file(many, &format!("f{i:05}"), i.to_string().into_bytes());
    }
    let evil = t.dir(ROOT_INO, "evil");
    for name in [&b""[..], b".", b"..", b"a/b", b"x\0y", &[b'n'; 300]] {
        t.raw_entry(evil, name);
    }
    t.file(evil, "fine", b"ok".to_vec());
    t.symlink(ROOT_INO, "latest", "b1");
    Sample {
        tree: Arc::new(t),
        big_data: Arc::new(data),
        big,
        secret,
    }
}

fn mount(md: &MountDir, tree: Arc<MemTree>) -> MountHandle {
    require_fuse();
    cairn_fuse::spawn(tree, &md.path, &MountOptions::default()).expect("mount")
}

fn names(dir: &Path) -> BTreeSet<OsString> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

fn errno_of<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    r.expect_err("operation should fail")
        .raw_os_error()
        .unwrap()
}

#[test]
fn stat_readdir_readlink_show_the_tree() {
    let md = MountDir::new();
    let s = sample_tree();
    let _h = mount(&md, s.tree.clone());
    let m = &md.path;

    assert_eq!(
        names(m),
        ["b1", "evil", "latest"]
            .iter()
            .map(OsString::from)
            .collect()
    );
    let svc = m.join("b1/svc");
    assert_eq!(
        names(&svc),
        [
            "big.bin",
            "empty",
            "secret.key",
            "link",
            "broken.bin",
            "panics.bin",
            "sub",
            "many"
        ]
        .iter()
        .map(OsString::from)
        .collect()
    );
    assert!(names(&svc.join("sub/deeper")).is_empty());

    let big = fs::metadata(svc.join("big.bin")).unwrap();
    let want = s.tree.attr_of(s.big);
    assert!(big.is_file());
    assert_eq!(big.len(), BIG as u64);
    assert_eq!(big.ino(), s.big);
    assert_eq!(big.uid(), want.uid);
    assert_eq!(big.gid(), want.gid);
    assert_eq!(big.mode() & 0o7777, 0o644);
    assert_eq!(big.modified().unwrap(), want.mtime);
    assert_eq!(big.nlink(), 1);

    let secret = fs::metadata(svc.join("secret.key")).unwrap();
    assert_eq!(secret.mode() & 0o7777, 0o600);
    assert_eq!(secret.ino(), s.secret);

    let dir = fs::metadata(svc.join("sub")).unwrap();
    assert!(dir.is_dir());
    assert_eq!(dir.mode() & 0o7777, 0o755);

    let root = fs::metadata(m).unwrap();
    assert!(root.is_dir());
    assert_eq!(root.ino(), ROOT_INO);
    assert_eq!(root.modified().unwrap(), SystemTime::UNIX_EPOCH + MTIME);

    let link = fs::symlink_metadata(svc.join("link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(
        fs::read_link(svc.join("link")).unwrap(),
        Path::new("big.bin")
    );
    assert_eq!(fs::read_link(m.join("latest")).unwrap(), Path::new("b1"));
    // following symlinks works: latest/svc/link is big.bin
    assert_eq!(
        fs::metadata(m.join("latest/svc/link")).unwrap().ino(),
        s.big
    );

    assert_eq!(fs::read(svc.join("empty")).unwrap(), b"");
    assert_eq!(fs::read(svc.join("secret.key")).unwrap(), b"PLAINTEXT\n");
    assert_eq!(errno_of(fs::metadata(svc.join("absent"))), libc::ENOENT);
    assert_eq!(
        errno_of(fs::metadata(svc.join("empty/below"))),
        libc::ENOTDIR
    );
    assert_eq!(errno_of(fs::read_link(svc.join("empty"))), libc::EINVAL);
}

#[test]
fn bytes_read_equal_the_source() {
    let md = MountDir::new();
    let s = sample_tree();
    let _h = mount(&md, s.tree.clone());
    let path = md.path.join("b1/svc/big.bin");

    let whole = fs::read(&path).unwrap();
    assert_eq!(whole.len(), BIG);
    assert!(
        whole == *s.big_data,
        "whole-file read differs from the source"
    );

    let mut f = fs::File::open(&path).unwrap();
    let mut rng = Rng(7);
    for _ in 0..300 {
        let off = rng.below(BIG as u64 + 1000);
        let len = 1 + rng.below(3 << 20) as usize;
        f.seek(SeekFrom::Start(off)).unwrap();
        let mut buf = Vec::new();
        f.by_ref().take(len as u64).read_to_end(&mut buf).unwrap();
        let start = (off as usize).min(BIG);
        let end = (start + len).min(BIG);
        assert_eq!(buf.len(), end - start, "length at offset {off}");
        assert!(
            buf == s.big_data[start..end],
            "bytes differ at offset {off} length {len}"
        );
    }
    // mmap works too
    let len = 5 << 20;
    let off = 16 << 20;
    // SAFETY: mapping a read-only range of an open file and reading it as a slice while mapped.
    unsafe {
        use std::os::fd::AsRawFd;
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            off as libc::off_t,
        );
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        let mapped = std::slice::from_raw_parts(p as *const u8, len);
        assert!(mapped == &s.big_data[off..off + len], "mmap bytes differ");
        libc::munmap(p, len);
    }
    // through a symlink and through `latest`
    let via_latest = fs::read(md.path.join("latest/svc/link")).unwrap();
    assert!(via_latest == *s.big_data);
}

#[test]
fn direct_io_mode_reads_the_same_bytes() {
    require_fuse();
    let md = MountDir::new();
    let s = sample_tree();
    let mut o = MountOptions::default();
    o.direct_io = true;
    o.threads = 2;
    let _h = cairn_fuse::spawn(s.tree.clone(), &md.path, &o).unwrap();
    let path = md.path.join("b1/svc/big.bin");
    for _ in 0..2 {
        assert!(fs::read(&path).unwrap() == *s.big_data);
    }
    let mut f = fs::File::open(&path).unwrap();
    let mut rng = Rng(11);
    for _ in 0..100 {
        let off = rng.below(BIG as u64);
        let len = 1 + rng.below(300_000) as usize;
        f.seek(SeekFrom::Start(off)).unwrap();
        let mut buf = Vec::new();
        f.by_ref().take(len as u64).read_to_end(&mut buf).unwrap();
        let end = (off as usize + len).min(BIG);
        assert!(
            buf == s.big_data[off as usize..end],
            "bytes differ at {off}"
        );
    }
    // mmap of a direct-I/O file (FUSE_DIRECT_IO_ALLOW_MMAP)
    let len = 3 << 20;
    // SAFETY: mapping a read-only range of an open file and reading it while mapped.
    unsafe {
        use std::os::fd::AsRawFd;
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        let mapped = std::slice::from_raw_parts(p as *const u8, len);
        assert!(mapped == &s.big_data[..len], "mmap bytes differ");
        libc::munmap(p, len);
    }
}

#[test]
fn every_modification_fails_with_erofs() {
    let md = MountDir::new();
    let s = sample_tree();
    let _h = mount(&md, s.tree);
    let svc = md.path.join("b1/svc");
    let big = svc.join("big.bin");

    assert_eq!(
        errno_of(fs::File::create(svc.join("new"))),
        libc::EROFS,
        "create"
    );
    assert_eq!(
        errno_of(fs::OpenOptions::new().write(true).open(&big)),
        libc::EROFS,
        "open for write"
    );
    assert_eq!(
        errno_of(fs::OpenOptions::new().read(true).write(true).open(&big)),
        libc::EROFS,
        "open read-write"
    );
    assert_eq!(
        errno_of(fs::OpenOptions::new().append(true).open(&big)),
        libc::EROFS,
        "open append"
    );
    assert_eq!(errno_of(fs::remove_file(&big)), libc::EROFS, "unlink");
    assert_eq!(
        errno_of(fs::create_dir(svc.join("d"))),
        libc::EROFS,
        "mkdir"
    );
    assert_eq!(
        errno_of(fs::remove_dir(svc.join("sub/deeper"))),
        libc::EROFS,
        "rmdir"
    );
    assert_eq!(
        errno_of(fs::rename(&big, svc.join("moved"))),
        libc::EROFS,
        "rename"
    );
    assert_eq!(
        errno_of(fs::set_permissions(&big, fs::Permissions::from_mode(0o777))),
        libc::EROFS,
        "chmod"
    );
    assert_eq!(
        errno_of(std::os::unix::fs::symlink("x", svc.join("newlink"))),
        libc::EROFS,
        "symlink"
    );
    assert_eq!(
        errno_of(fs::hard_link(&big, svc.join("hard"))),
        libc::EROFS,
        "link"
    );
    let c = std::ffi::CString::new(big.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C strings and null time pointer (= now).
    unsafe {
        assert_eq!(libc::truncate(c.as_ptr(), 0), -1);
        assert_eq!(*libc::__errno_location(), libc::EROFS, "truncate");
        assert_eq!(libc::chown(c.as_ptr(), 1, 1), -1);
        assert_eq!(*libc::__errno_location(), libc::EROFS, "chown");
        assert_eq!(libc::utimes(c.as_ptr(), std::ptr::null()), -1);
        assert_eq!(*libc::__errno_location(), libc::EROFS, "utimes");
        let name = c"user.x";
        assert_eq!(
            libc::setxattr(c.as_ptr(), name.as_ptr(), b"v".as_ptr().cast(), 1, 0),
            -1
        );
        assert_eq!(*libc::__errno_location(), libc::EROFS, "setxattr");
    }
    let touch = std::process::Command::new("touch")
        .arg(svc.join("x"))
        .output()
        .unwrap();
    assert!(!touch.status.success(), "touch succeeded on the mount");
    // nothing changed
    assert_eq!(fs::metadata(&big).unwrap().len(), BIG as u64);
    assert!(!svc.join("x").exists() && !svc.join("new").exists());
}

#[test]
fn integrity_failures_and_tree_panics_give_eio_and_the_mount_survives() {
    let md = MountDir::new();
    let s = sample_tree();
    let h = mount(&md, s.tree);
    let svc = md.path.join("b1/svc");
    for _ in 0..3 {
        assert_eq!(errno_of(fs::read(svc.join("broken.bin"))), libc::EIO);
        assert_eq!(errno_of(fs::read(svc.join("panics.bin"))), libc::EIO);
    }
    assert_eq!(fs::read(svc.join("secret.key")).unwrap(), b"PLAINTEXT\n");
    assert!(h.is_mounted());
}

#[test]
fn unsafe_names_are_never_shown() {
    let md = MountDir::new();
    let s = sample_tree();
    let _h = mount(&md, s.tree);
    let evil = md.path.join("evil");
    assert_eq!(names(&evil), [OsString::from("fine")].into_iter().collect());
    // `ls -a` style listing shows . and .. once each, from the glue
    let out = std::process::Command::new("ls")
        .arg("-a1")
        .arg(&evil)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), ".\n..\nfine\n");
    assert_eq!(fs::read(evil.join("fine")).unwrap(), b"ok");
    // `..` resolves to the real parent, never to a tree entry
    assert_eq!(fs::metadata(evil.join("..")).unwrap().ino(), ROOT_INO);
    assert_eq!(errno_of(fs::metadata(evil.join("a"))), libc::ENOENT);
}

#[test]
fn large_directory_is_listed_whole_and_in_order() {
    let md = MountDir::new();
    let s = sample_tree();
    let _h = mount(&md, s.tree);
    let many = md.path.join("b1/svc/many");
    for _ in 0..2 {
        let got: Vec<String> = fs::read_dir(&many)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let want: Vec<String> = (0..5000).map(|i| format!("f{i:05}")).collect();
        assert_eq!(got, want);
    }
    assert_eq!(fs::read(many.join("f04321")).unwrap(), b"4321");
}

#[test]
fn proc_mounts_names_the_filesystem_cairn_read_only() {
    let md = MountDir::new();
    let s = sample_tree();
    let _h = mount(&md, s.tree);
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.split(' ').nth(1) == Some(md.path.to_str().unwrap()))
        .expect("mount listed in /proc/self/mounts");
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f[0], "cairn", "{line}");
    assert_eq!(f[2], "fuse.cairn", "{line}");
    assert!(f[3].split(',').any(|o| o == "ro"), "{line}");
}

#[test]
fn unmount_and_drop_take_the_mount_down() {
    let md = MountDir::new();
    let s = sample_tree();
    let h = mount(&md, s.tree.clone());
    assert!(is_mount_point(&md.path));
    assert_eq!(h.mountpoint(), md.path);
    h.unmount().unwrap();
    assert!(!is_mount_point(&md.path));

    let h = mount(&md, s.tree.clone());
    assert!(is_mount_point(&md.path));
    drop(h);
    assert!(!is_mount_point(&md.path));

    // unmount while a file is open: lazy detach, still gone from the namespace
    let h = mount(&md, s.tree);
    let f = fs::File::open(md.path.join("b1/svc/empty")).unwrap();
    h.unmount().unwrap();
    assert!(!is_mount_point(&md.path));
    drop(f);
}

#[test]
fn check_mountpoint_explains_what_is_wrong() {
    let md = MountDir::new();
    assert!(check_mountpoint(&md.path).is_ok());

    let missing = md.path.join("nope");
    let e = check_mountpoint(&missing).unwrap_err();
    assert!(matches!(e, MountError::NotFound(_)), "{e}");
    assert!(
        e.to_string().contains("does not exist") && e.to_string().contains("mkdir"),
        "{e}"
    );

    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("f");
    fs::write(&file, b"x").unwrap();
    let e = check_mountpoint(&file).unwrap_err();
    assert!(matches!(e, MountError::NotADirectory(_)), "{e}");
    let e = check_mountpoint(other.path()).unwrap_err();
    assert!(matches!(e, MountError::NotEmpty(_)), "{e}");
    assert!(e.to_string().contains("not empty"), "{e}");

    let s = sample_tree();
    let _h = mount(&md, s.tree.clone());
    let e = check_mountpoint(&md.path).unwrap_err();
    assert!(matches!(e, MountError::AlreadyMounted(_)), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("umount {}", md.path.display())),
        "{e}"
    );
    // and spawn refuses the same way
    let e = cairn_fuse::spawn(s.tree, &md.path, &MountOptions::default()).unwrap_err();
    assert!(matches!(e, MountError::AlreadyMounted(_)), "{e}");
}

/// Foreground mounts own the process's SIGINT/SIGTERM handling: one at a time.
static FOREGROUND: Mutex<()> = Mutex::new(());

fn foreground_lock() -> std::sync::MutexGuard<'static, ()> {
    FOREGROUND.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `mount_foreground` on a thread, stops it with `stop`, checks it returned unmounted.
/// Callers hold [`foreground_lock`].
fn run_foreground(stop: impl FnOnce(&Path)) {
    require_fuse();
    let md = MountDir::new();
    let s = sample_tree();
    let path = md.path.clone();
    let t = std::thread::spawn(move || {
        cairn_fuse::mount_foreground(s.tree, &path, &MountOptions::default())
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_mount_point(&md.path) {
        assert!(Instant::now() < deadline, "not mounted after 10 s");
        assert!(
            !t.is_finished(),
            "mount_foreground returned early: {:?}",
            t.join()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        fs::read(md.path.join("b1/svc/secret.key")).unwrap(),
        b"PLAINTEXT\n"
    );
    stop(&md.path);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.is_finished() {
        assert!(Instant::now() < deadline, "mount_foreground did not return");
        std::thread::sleep(Duration::from_millis(10));
    }
    t.join().unwrap().expect("mount_foreground result");
    assert!(!is_mount_point(&md.path), "still mounted after return");
}

#[test]
fn foreground_mount_ends_on_sigterm() {
    let _g = foreground_lock();
    // SAFETY: signalling our own process; mount_foreground's handler catches it.
    run_foreground(|_| unsafe {
        libc::kill(libc::getpid(), libc::SIGTERM);
    });
}

#[test]
fn foreground_mount_ends_on_sigint_even_if_inherited_as_ignored() {
    // A background job of a non-interactive shell (`cairn mount ... &` in a script) starts with
    // SIGINT ignored; `kill -INT` must still unmount.
    let _g = foreground_lock();
    // SAFETY: changing this test process's SIGINT disposition, restored below.
    let old = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    // SAFETY: as above.
    run_foreground(|_| unsafe {
        libc::kill(libc::getpid(), libc::SIGINT);
    });
    // SAFETY: mount_foreground restored SIG_IGN; put back what the harness had.
    unsafe {
        assert_eq!(libc::signal(libc::SIGINT, old), libc::SIG_IGN);
    }
}

#[test]
fn foreground_mount_ends_on_external_umount() {
    let _g = foreground_lock();
    run_foreground(|p| {
        let st = std::process::Command::new("umount")
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success(), "umount failed");
    });
}

/// Not a test on its own: mounts on `$CAIRN_FUSE_STALE_AT` and waits to be killed by
/// [`check_mountpoint_reports_a_stale_mount`].
#[test]
#[ignore]
fn helper_mount_and_wait_to_be_killed() {
    let Ok(p) = std::env::var("CAIRN_FUSE_STALE_AT") else {
        return;
    };
    let s = sample_tree();
    let _h = cairn_fuse::spawn(s.tree, Path::new(&p), &MountOptions::default()).unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

/// Kills the child on drop, so a failing test leaves no process behind.
struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn check_mountpoint_reports_a_stale_mount() {
    require_fuse();
    let md = MountDir::new();
    let mut child = KillOnDrop(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "helper_mount_and_wait_to_be_killed"])
            .env("CAIRN_FUSE_STALE_AT", &md.path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_mount_point(&md.path) {
        assert!(Instant::now() < deadline, "helper did not mount");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SIGKILL: the serving process dies without unmounting
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let e = check_mountpoint(&md.path).unwrap_err();
    assert!(matches!(e, MountError::Stale(_)), "{e}");
    assert!(e.to_string().contains("umount"), "{e}");
}

/// A tree whose root gains an entry (`b2`, a second name for nothing below) when `grown` is set:
/// what a new backup looks like while mounted.
struct Growing {
    inner: MemTree,
    b2: u64,
    grown: std::sync::atomic::AtomicBool,
}

impl Growing {
    fn visible(&self, ino: u64) -> bool {
        ino != self.b2 || self.grown.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl cairn_fuse::ReadOnlyTree for Growing {
    fn lookup(
        &self,
        parent: u64,
        name: &std::ffi::OsStr,
    ) -> Result<cairn_fuse::Attr, cairn_fuse::Errno> {
        let a = self.inner.lookup(parent, name)?;
        if self.visible(a.ino) {
            Ok(a)
        } else {
            Err(cairn_fuse::Errno::ENOENT)
        }
    }
    fn getattr(&self, ino: u64) -> Result<cairn_fuse::Attr, cairn_fuse::Errno> {
        let mut a = self.inner.getattr(ino)?;
        if ino == ROOT_INO && self.grown.load(std::sync::atomic::Ordering::SeqCst) {
            // the root's mtime moves with its entries (the kernel caches its listing)
            a.mtime += std::time::Duration::from_secs(1);
        }
        Ok(a)
    }
    fn readdir(
        &self,
        ino: u64,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<cairn_fuse::DirEntry>, cairn_fuse::Errno> {
        let mut v = self.inner.readdir(ino, offset, limit)?;
        v.retain(|e| self.visible(e.ino));
        Ok(v)
    }
    fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>, cairn_fuse::Errno> {
        self.inner.read(ino, offset, size)
    }
    fn readlink(&self, ino: u64) -> Result<Vec<u8>, cairn_fuse::Errno> {
        self.inner.readlink(ino)
    }
}

#[test]
fn new_entries_in_the_root_show_up_while_mounted() {
    require_fuse();
    let md = MountDir::new();
    let mut t = MemTree::new();
    let b1 = t.dir(ROOT_INO, "b1");
    t.file(b1, "f", b"one".to_vec());
    let b2 = t.dir(ROOT_INO, "b2");
    t.file(b2, "f", b"two".to_vec());
    let tree = Arc::new(Growing {
        inner: t,
        b2,
        grown: false.into(),
    });
    let _h = cairn_fuse::spawn(tree.clone(), &md.path, &MountOptions::default()).unwrap();
    assert_eq!(
        names(&md.path),
        [OsString::from("b1")].into_iter().collect()
    );
    assert_eq!(errno_of(fs::metadata(md.path.join("b2"))), libc::ENOENT);
    tree.grown.store(true, std::sync::atomic::Ordering::SeqCst);
    // within the root's TTL (1 s) and a margin
    let want: BTreeSet<OsString> = ["b1", "b2"].iter().map(OsString::from).collect();
    let t0 = std::time::Instant::now();
    while names(&md.path) != want {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(5),
            "b2 not listed after 5 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(fs::read(md.path.join("b2/f")).unwrap(), b"two");
}

#[test]
fn concurrent_readers_get_the_right_bytes() {
    let md = MountDir::new();
    let s = sample_tree();
    let _h = mount(&md, s.tree.clone());
    let path = md.path.join("b1/svc/big.bin");
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let path = path.clone();
            let data = s.big_data.clone();
            std::thread::spawn(move || {
                let mut f = fs::File::open(&path).unwrap();
                let mut rng = Rng(100 + w);
                for _ in 0..50 {
                    let off = rng.below(BIG as u64);
                    let len = 1 + rng.below(2 << 20) as usize;
                    f.seek(SeekFrom::Start(off)).unwrap();
                    let mut buf = Vec::new();
                    f.by_ref().take(len as u64).read_to_end(&mut buf).unwrap();
                    let end = (off as usize + len).min(BIG);
                    assert!(
                        buf == data[off as usize..end],
                        "worker {w}: bytes differ at {off}"
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn listing_with_attributes_needs_no_lookup_per_entry() {
    // READDIRPLUS: `ls -l` gets every entry's attributes with the listing itself.
    let md = MountDir::new();
    let s = sample_tree();
    let tree = s.tree.clone();
    let _h = mount(&md, s.tree);
    let many = md.path.join("b1/svc/many");
    fs::metadata(&many).unwrap();
    let before = tree.lookups.load(std::sync::atomic::Ordering::Relaxed);
    let mut sizes = 0;
    for e in fs::read_dir(&many).unwrap() {
        sizes += fs::symlink_metadata(e.unwrap().path()).unwrap().len();
    }
    assert_eq!(
        sizes,
        (0..5000u64).map(|i| i.to_string().len() as u64).sum()
    );
    let after = tree.lookups.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "lookups while listing 5000 entries with attributes"
    );
}

#[test]
fn reading_many_files_sends_no_open_flush_or_release_per_file() {
    // OPEN answered "not needed" and FLUSH "not implemented": the kernel stops sending them
    // (and RELEASE), so reading a small file costs one READ; a second pass comes from the page
    // cache, kept across opens.
    let md = MountDir::new();
    let s = sample_tree();
    let h = mount(&md, s.tree);
    let many = md.path.join("b1/svc/many");
    let files: Vec<_> = (0..500).map(|i| many.join(format!("f{i:05}"))).collect();
    for pass in 0..2 {
        for (i, f) in files.iter().enumerate() {
            assert_eq!(
                fs::read(f).unwrap(),
                i.to_string().into_bytes(),
                "pass {pass}"
            );
        }
    }
    let r = h.requests();
    assert!(r.open <= 1, "OPEN requests for 1000 opens: {r:?}");
    assert!(r.flush <= 1, "FLUSH requests for 1000 closes: {r:?}");
    assert_eq!(r.release, 0, "RELEASE requests for 1000 closes: {r:?}");
    assert_eq!(
        r.read, 500,
        "READ requests for 500 small files read twice: {r:?}"
    );
}

#[test]
fn a_symlink_target_is_read_once() {
    // FUSE_CACHE_SYMLINKS: paths through `latest` do not ask the tree for its target again.
    let md = MountDir::new();
    let s = sample_tree();
    let h = mount(&md, s.tree);
    for _ in 0..200 {
        fs::metadata(md.path.join("latest/svc/big.bin")).unwrap();
    }
    let r = h.requests();
    assert_eq!(
        r.readlink, 1,
        "READLINK requests for 200 paths through latest: {r:?}"
    );
}

#[test]
fn listing_directories_sends_no_opendir_or_releasedir_per_directory() {
    // OPENDIR answered "not needed": the kernel stops sending OPENDIR and RELEASEDIR and keeps
    // the listings cached, so listing 200 directories twice costs READDIRs only the first time.
    let md = MountDir::new();
    let mut t = MemTree::new();
    let b1 = t.dir(ROOT_INO, "b1");
    let dirs: Vec<String> = (0..200).map(|i| format!("d{i:03}")).collect();
    for d in &dirs {
        let ino = t.dir(b1, d);
        t.file(ino, "f", b"x".to_vec());
    }
    let h = mount(&md, Arc::new(t));
    let base = md.path.join("b1");
    for pass in 0..2 {
        for d in &dirs {
            assert_eq!(names(&base.join(d)).len(), 1, "pass {pass}");
        }
    }
    let r = h.requests();
    assert!(r.opendir <= 1, "OPENDIR requests for 400 listings: {r:?}");
    assert_eq!(
        r.releasedir, 0,
        "RELEASEDIR requests for 400 listings: {r:?}"
    );
    assert!(
        r.readdir <= 2 * 200 + 4,
        "READDIR requests for 200 directories listed twice: {r:?}"
    );
}

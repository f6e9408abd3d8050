//! Opening what the walker listed, and nothing else.
//!
//! Whoever can write a service directory can swap an entry between the moment the walker lists
//! it and the moment a reader opens it: a symbolic link to `/etc/shadow` for a file, a link to
//! `/` for a directory, a FIFO that would block a reader forever. So every entry is stat'ed
//! relative to its directory's handle without following links ([`stat_entry`]), and opened
//! relative to the same handle with `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC` ([`open_file`],
//! [`open_dir`]); the open handle is `fstat`ed and must be the same kind of object with the same
//! device and inode as listed. Anything else is [`Opened::Changed`]: left out with a warning,
//! never read. FIFOs, sockets and devices are never opened at all (the walker skips them by
//! their listed kind).

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The kind of a listed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (stored as a link, never followed).
    Symlink,
    /// A FIFO, socket or device: never opened.
    Special(&'static str),
}

/// An entry's metadata as listed (`fstatat(AT_SYMLINK_NOFOLLOW)`) or as opened (`fstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Listed {
    pub kind: Kind,
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
}

impl Listed {
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    fn of(st: &rfs::Stat) -> Self {
        let kind = match FileType::from_raw_mode(st.st_mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Special("a FIFO"),
            FileType::Socket => Kind::Special("a socket"),
            FileType::CharacterDevice => Kind::Special("a character device"),
            FileType::BlockDevice => Kind::Special("a block device"),
            _ => Kind::Special("of an unknown kind"),
        };
        let ns = |n: i64| n.clamp(0, 999_999_999) as u32;
        Listed {
            kind,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32 & 0o7777,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            size: (st.st_size as i64).max(0) as u64,
            mtime: (st.st_mtime as i64, ns(st.st_mtime_nsec as i64)),
            ctime: (st.st_ctime as i64, ns(st.st_ctime_nsec as i64)),
        }
    }

    /// Whether `other` is the very object this was listed as: same kind, device and inode.
    pub fn same_object(&self, other: &Listed) -> bool {
        self.kind == other.kind && self.dev == other.dev && self.ino == other.ino
    }
}

/// What opening a listed entry found.
#[derive(Debug)]
pub(super) enum Opened<T> {
    /// The object that was listed.
    Same(T),
    /// Something else stands under that name now (why, for the warning).
    Changed(&'static str),
    /// Nothing stands under that name now.
    Vanished,
}

impl<T> Opened<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Opened<U> {
        match self {
            Opened::Same(t) => Opened::Same(f(t)),
            Opened::Changed(why) => Opened::Changed(why),
            Opened::Vanished => Opened::Vanished,
        }
    }

    /// The listed object, or why it is left out (`vanished`, `was replaced by …`).
    pub fn listed(self) -> Result<T, &'static str> {
        match self {
            Opened::Same(t) => Ok(t),
            Opened::Changed(why) => Err(why),
            Opened::Vanished => Err("vanished"),
        }
    }
}

/// Open a service's root directory (the configured path; links in it are the operator's and
/// are followed) and describe it.
pub(super) fn open_root(path: &Path) -> std::io::Result<(OwnedFd, Listed)> {
    let fd = rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rfs::fstat(&fd)?;
    Ok((fd, Listed::of(&st)))
}

/// Describe an open file as it is now.
pub(super) fn fstat(f: &File) -> std::io::Result<Listed> {
    Ok(Listed::of(&rfs::fstat(f)?))
}

/// Describe the entry `name` of directory `dir` without following a link.
pub(super) fn stat_entry(dir: BorrowedFd<'_>, name: &CStr) -> std::io::Result<Option<Listed>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(Listed::of(&st))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Open `name` in `dir` as it was listed, without following a link and without blocking on a
/// FIFO: the handle comes back only if it is the listed object.
fn open_listed(
    dir: BorrowedFd<'_>,
    name: &CStr,
    listed: &Listed,
    extra: OFlags,
) -> std::io::Result<Opened<(OwnedFd, Listed)>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | extra;
    let fd = match rfs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(Opened::Vanished),
        // O_NOFOLLOW met a link; O_DIRECTORY met a non-directory; a socket cannot be opened.
        Err(Errno::LOOP) => return Ok(Opened::Changed("was replaced by a symbolic link")),
        // (with O_DIRECTORY, Linux reports a symbolic link as ENOTDIR rather than ELOOP)
        Err(Errno::NOTDIR) => {
            return Ok(Opened::Changed("was replaced by a symbolic link or a file"))
        }
        Err(Errno::NXIO) => return Ok(Opened::Changed("is no longer a regular file")),
        Err(e) => return Err(e.into()),
    };
    let now = Listed::of(&rfs::fstat(&fd)?);
    if now.kind != listed.kind {
        return Ok(Opened::Changed(match listed.kind {
            Kind::Dir => "is no longer a directory",
            _ => "is no longer a regular file",
        }));
    }
    if !listed.same_object(&now) {
        return Ok(Opened::Changed("was replaced by another file"));
    }
    Ok(Opened::Same((fd, now)))
}

/// Open the regular file `name` of `dir` that was listed as `listed`; with its metadata now.
pub(super) fn open_file(
    dir: BorrowedFd<'_>,
    name: &CStr,
    listed: &Listed,
) -> std::io::Result<Opened<(File, Listed)>> {
    if listed.kind != Kind::File {
        return Ok(Opened::Changed("is not a regular file"));
    }
    // O_NONBLOCK stays set: it has no effect on reading a regular file.
    Ok(open_listed(dir, name, listed, OFlags::empty())?.map(|(fd, now)| (File::from(fd), now)))
}

/// Open the directory `name` of `dir` that was listed as `listed`.
pub(super) fn open_dir(
    dir: BorrowedFd<'_>,
    name: &CStr,
    listed: &Listed,
) -> std::io::Result<Opened<OwnedFd>> {
    if listed.kind != Kind::Dir {
        return Ok(Opened::Changed("is not a directory"));
    }
    Ok(open_listed(dir, name, listed, OFlags::DIRECTORY)?.map(|(fd, _)| fd))
}

/// A regular file read up to the end, without the last `read` that returns nothing when the
/// file is as large as its `fstat` said: a read that returns fewer bytes than asked for once that
/// many have come is taken as the end. (If the file grew meanwhile, the `fstat` after reading
/// sees another size, and the file is recorded as changed while read.)
pub(super) struct Sized<'f> {
    file: &'f File,
    expected: u64,
    got: u64,
    ended: bool,
}

impl<'f> Sized<'f> {
    /// `file`, whose `fstat` gave `size` bytes.
    pub fn new(file: &'f File, size: u64) -> Self {
        Sized {
            file,
            expected: size,
            got: 0,
            ended: false,
        }
    }
}

impl std::io::Read for Sized<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        #[cfg(test)]
        tests::READS.with(|r| r.set(r.get() + 1));
        let n = std::io::Read::read(&mut self.file, buf)?;
        self.got += n as u64;
        self.ended = n == 0 || (n < buf.len() && self.got == self.expected);
        Ok(n)
    }
}

/// Bytes of directory entries fetched per `getdents64` call.
const LISTING_BUF: usize = 32 << 10;

/// The names in directory `dir` (without `.` and `..`), sorted bytewise.
///
/// Read from `dir` itself (its offset is at the start: a handle just opened), through a buffer
/// kept by the calling thread: no second handle on the directory (`Dir::read_from` opens `.`
/// again, with an `fcntl` and a `close`) and no buffer allocated per directory.
pub(super) fn list_dir(dir: &impl AsFd) -> std::io::Result<Vec<std::ffi::CString>> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| {
        let (mut held, mut fresh) = (cell.try_borrow_mut(), Vec::new());
        let buf = held.as_deref_mut().unwrap_or(&mut fresh);
        buf.clear();
        buf.reserve(LISTING_BUF);
        let mut names = Vec::new();
        let mut raw = rfs::RawDir::new(dir.as_fd(), buf.spare_capacity_mut());
        while let Some(ent) = raw.next() {
            let ent = ent?;
            let n = ent.file_name();
            if n != c"." && n != c".." {
                names.push(n.to_owned());
            }
        }
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::Read;

    thread_local! {
        /// `read` calls made by [`Sized`] readers in this thread.
        pub(super) static READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// The bytes `Sized` gives of `path` (told `size`), and the `read` calls it made.
    fn read_sized(path: &Path, size: u64) -> (Vec<u8>, usize) {
        let f = File::open(path).unwrap();
        READS.with(|r| r.set(0));
        let mut out = Vec::new();
        Sized::new(&f, size).read_to_end(&mut out).unwrap();
        (out, READS.with(|r| r.get()))
    }

    /// A file as large as its `fstat` said takes one `read` (none more to find its end); an
    /// empty one one; a file larger than said (grown since) is read to its real end.
    #[test]
    fn a_file_of_the_size_stated_is_read_without_a_last_empty_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"twelve bytes").unwrap();
        assert_eq!(read_sized(&p, 12), (b"twelve bytes".to_vec(), 1));
        std::fs::write(&p, b"").unwrap();
        assert_eq!(read_sized(&p, 0), (Vec::new(), 1));
        let big = vec![7u8; 100_000];
        std::fs::write(&p, &big).unwrap();
        let (got, reads) = read_sized(&p, 10);
        assert_eq!(got, big, "a file grown since its fstat is read whole");
        assert!(reads >= 2, "{reads}");
    }

    fn c(s: &str) -> std::ffi::CString {
        std::ffi::CString::new(s).unwrap()
    }

    struct Fixture {
        dir: tempfile::TempDir,
        fd: OwnedFd,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data"), b"listed bytes").unwrap();
        std::fs::write(dir.path().join("secret"), b"SECRET bytes of another file").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let (fd, root) = open_root(dir.path()).unwrap();
        assert_eq!(root.kind, Kind::Dir);
        Fixture { dir, fd }
    }

    fn listed(f: &Fixture, name: &str) -> Listed {
        stat_entry(f.fd.as_fd(), &c(name)).unwrap().unwrap()
    }

    #[test]
    fn the_listed_file_opens_and_reads() {
        let f = fixture();
        let l = listed(&f, "data");
        assert_eq!((l.kind, l.size), (Kind::File, 12));
        let Opened::Same((mut file, now)) = open_file(f.fd.as_fd(), &c("data"), &l).unwrap() else {
            panic!("the listed file did not open")
        };
        assert!(l.same_object(&now));
        let mut s = String::new();
        file.read_to_string(&mut s).unwrap();
        assert_eq!(s, "listed bytes");
        assert_eq!(list_dir(&f.fd).unwrap(), [c("data"), c("secret"), c("sub")]);
    }

    /// A directory whose entries take many `getdents64` calls (more than the listing buffer
    /// holds) is listed whole, sorted, from the very handle that is then used for the entries.
    #[test]
    fn a_large_directory_is_listed_whole_from_its_own_handle() {
        let d = tempfile::tempdir().unwrap();
        let mut want: Vec<_> = (0..3000)
            .map(|i| c(&format!("{i:05}-{}", "n".repeat(40))))
            .collect();
        for n in want.iter().rev() {
            std::fs::write(d.path().join(n.to_str().unwrap()), b"x").unwrap();
        }
        want.sort();
        let (fd, _) = open_root(d.path()).unwrap();
        let got = list_dir(&fd).unwrap();
        assert_eq!(got, want);
        assert_eq!(stat_entry(fd.as_fd(), &got[7]).unwrap().unwrap().size, 1);
    }

    #[test]
    fn a_symlink_swapped_in_after_listing_is_not_followed() {
        let f = fixture();
        let l = listed(&f, "data");
        std::fs::remove_file(f.dir.path().join("data")).unwrap();
        std::os::unix::fs::symlink(f.dir.path().join("secret"), f.dir.path().join("data")).unwrap();
        match open_file(f.dir_fd(), &c("data"), &l).unwrap() {
            Opened::Changed(why) => assert!(why.contains("symbolic link"), "{why}"),
            other => panic!("a swapped-in symlink was {other:?}"),
        }
    }

    #[test]
    fn another_file_renamed_over_the_listed_one_is_refused() {
        let f = fixture();
        let l = listed(&f, "data");
        // same name, same kind, other inode: what a `mv secret data` race looks like
        std::fs::rename(f.dir.path().join("secret"), f.dir.path().join("data")).unwrap();
        match open_file(f.dir_fd(), &c("data"), &l).unwrap() {
            Opened::Changed(why) => assert!(why.contains("another file"), "{why}"),
            other => panic!("a file renamed over the listed one was {other:?}"),
        }
        std::fs::remove_file(f.dir.path().join("data")).unwrap();
        assert!(matches!(
            open_file(f.dir_fd(), &c("data"), &l).unwrap(),
            Opened::Vanished
        ));
    }

    #[test]
    fn a_fifo_swapped_in_is_opened_without_blocking_and_refused() {
        let f = fixture();
        let l = listed(&f, "data");
        std::fs::remove_file(f.dir.path().join("data")).unwrap();
        rfs::mkfifoat(f.fd.as_fd(), c"data", Mode::from_raw_mode(0o600)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let fd = f.fd.try_clone().unwrap();
        std::thread::spawn(move || {
            let r = open_file(fd.as_fd(), c"data", &l).map(|o| format!("{o:?}"));
            let _ = tx.send(r);
        });
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("opening a FIFO blocked")
            .unwrap();
        assert!(r.contains("no longer a regular file"), "{r}");
        // listed as a FIFO, it is never opened at all
        let fifo = listed(&f, "data");
        assert_eq!(fifo.kind, Kind::Special("a FIFO"));
        assert!(matches!(
            open_file(f.dir_fd(), c"data", &fifo).unwrap(),
            Opened::Changed(_)
        ));
    }

    #[test]
    fn a_directory_replaced_by_a_symlink_is_not_descended() {
        let f = fixture();
        let l = listed(&f, "sub");
        // made while `sub` exists, so it cannot reuse its inode number
        std::fs::create_dir(f.dir.path().join("other")).unwrap();
        assert!(matches!(
            open_dir(f.dir_fd(), &c("sub"), &l).unwrap(),
            Opened::Same(_)
        ));
        std::fs::remove_dir(f.dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc", f.dir.path().join("sub")).unwrap();
        match open_dir(f.dir_fd(), &c("sub"), &l).unwrap() {
            Opened::Changed(why) => assert!(why.contains("symbolic link"), "{why}"),
            other => panic!("a symlink to /etc was {other:?}"),
        }
        // another directory moved in under the same name is refused too
        std::fs::remove_file(f.dir.path().join("sub")).unwrap();
        std::fs::rename(f.dir.path().join("other"), f.dir.path().join("sub")).unwrap();
        assert!(matches!(
            open_dir(f.dir_fd(), &c("sub"), &l).unwrap(),
            Opened::Changed(_)
        ));
        // and a file listed as a file is not opened as a directory
        let data = listed(&f, "data");
        assert!(matches!(
            open_dir(f.dir_fd(), &c("data"), &data).unwrap(),
            Opened::Changed(_)
        ));
    }

    impl Fixture {
        fn dir_fd(&self) -> BorrowedFd<'_> {
            self.fd.as_fd()
        }
    }
}

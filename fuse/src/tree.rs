//! The read-only tree the mount shows: the trait the root crate implements, and its value types.
//!
//! Nothing here depends on `fuser`: an implementation only deals with inode numbers, names,
//! attributes and bytes.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::SystemTime;

/// The inode number of the mount's root directory.
pub const ROOT_INO: u64 = 1;

/// An error a tree reports for one operation, as a POSIX errno value.
///
/// The glue passes it to the kernel unchanged, so the process that made the call sees exactly
/// this errno. [`Errno::EIO`] is the one to use for an integrity failure (a chunk whose bytes do
/// not match its hash, an object that cannot be decrypted): the glue logs it naming the file.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(i32);

impl Errno {
    /// No such file or directory.
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// Input/output error; also what an integrity failure must be reported as.
    pub const EIO: Errno = Errno(libc::EIO);
    /// Not a directory (readdir or lookup on a file).
    pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);
    /// Is a directory (read on a directory).
    pub const EISDIR: Errno = Errno(libc::EISDIR);
    /// Invalid argument (for example readlink on something that is not a symlink).
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// Permission denied (for example the identity cannot decrypt this backup).
    pub const EACCES: Errno = Errno(libc::EACCES);
    /// Read-only file system: what every modifying operation gets.
    pub const EROFS: Errno = Errno(libc::EROFS);
    /// File name too long.
    pub const ENAMETOOLONG: Errno = Errno(libc::ENAMETOOLONG);
    /// Out of memory.
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);

    /// An errno from its raw value; zero or negative values become `EIO`.
    pub fn from_raw(code: i32) -> Errno {
        if code > 0 {
            Errno(code)
        } else {
            Errno::EIO
        }
    }

    /// The raw (positive) errno value.
    pub fn raw(self) -> i32 {
        self.0
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, self)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&std::io::Error::from_raw_os_error(self.0), f)
    }
}

impl From<std::io::Error> for Errno {
    /// The OS error code of `e`, or `EIO` when it has none.
    fn from(e: std::io::Error) -> Errno {
        Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl std::error::Error for Errno {}

/// The kind of an entry. Backups hold only these three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link; its target comes from [`ReadOnlyTree::readlink`].
    Symlink,
}

/// The attributes of one inode, as `stat` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Inode number: unique and stable for the life of the mount; the root is [`ROOT_INO`].
    pub ino: u64,
    /// File, directory or symlink.
    pub kind: Kind,
    /// Size in bytes (for a symlink, the length of its target).
    pub size: u64,
    /// Permission bits (`0o7777` at most; the file type bits are derived from `kind`).
    pub perm: u16,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Modification time (also shown as access and change time).
    pub mtime: SystemTime,
    /// Number of hard links: 1 for files and symlinks; for a directory 2 + its number of
    /// subdirectories, or 1 meaning "unknown" (tools then never skip subdirectories).
    pub nlink: u32,
}

impl Attr {
    /// Attributes with common defaults: owned by root, mtime at the epoch, `nlink` 1,
    /// permissions `0o755` for a directory or symlink and `0o644`
    /// for a file.
    pub fn new(ino: u64, kind: Kind, size: u64) -> Attr {
        let perm = match kind {
            Kind::Dir => 0o755,
            Kind::Symlink => 0o777,
            Kind::File => 0o644,
        };
        Attr {
            ino,
            kind,
            size,
            perm,
            uid: 0,
            gid: 0,
            mtime: SystemTime::UNIX_EPOCH,
            nlink: 1,
        }
    }
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's inode number (the one `lookup(dir, name)` returns).
    pub ino: u64,
    /// The entry's kind.
    pub kind: Kind,
    /// The entry's name. Unsafe names (see [`is_safe_name`]) are dropped by the glue.
    pub name: OsString,
    /// Where the listing continues after this entry: an opaque, strictly positive cookie
    /// below 2^62 that [`ReadOnlyTree::readdir`] accepts as `offset` to resume right after this
    /// entry. The position of the entry in a sorted listing plus one is the simplest choice.
    pub next: u64,
}

/// The largest cookie a [`DirEntry::next`] may carry.
pub const MAX_DIR_COOKIE: u64 = (1 << 62) - 1;

/// A read-only tree of directories, files and symlinks addressed by inode number.
///
/// The root crate implements it over a repository (`/<backup-id>/<service>/...`); the glue
/// turns kernel requests into these calls. Calls come from several threads at once.
///
/// Inode numbers belong to the tree: they must be stable for the mount's life and unique, and
/// the root directory is [`ROOT_INO`] (1). Everything except the root directory's contents is
/// treated as immutable (the kernel caches it for a long time); entries directly in the root
/// may appear or change (new backups, `latest`): the kernel re-asks about those after a
/// second, and lists the root again once its mtime has changed, so the root's mtime must move
/// whenever its entries do (unless [`crate::MountOptions::opendir`] is set). A directory must have exactly one name (one parent): show `latest` as a symlink
/// (`latest -> <backup-id>`), not as a second name of the backup's directory inode. The kernel
/// keeps a symlink's target for as long as it keeps the inode (`FUSE_CACHE_SYMLINKS`), so a
/// symlink in the root that comes to point elsewhere must be given a new inode number: the
/// kernel's next lookup of the name then sees another inode and asks for the new target.
pub trait ReadOnlyTree: Send + Sync + 'static {
    /// The entry called `name` in directory `parent`.
    ///
    /// `ENOENT` if absent, `ENOTDIR` if `parent` is not a directory. `name` is never unsafe
    /// (the glue refuses those before asking).
    fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr, Errno>;

    /// The attributes of inode `ino`; `ENOENT` if the tree has no such inode.
    fn getattr(&self, ino: u64) -> Result<Attr, Errno>;

    /// Up to `limit` entries of directory `ino`, starting right after cookie `offset`
    /// (0 = from the first entry), in a stable order; an empty vector ends the listing.
    ///
    /// The kernel lists a directory in several calls, each resuming from the
    /// [`DirEntry::next`] cookie of the last entry it kept, so a large directory never needs to
    /// be materialized whole per call. Returning fewer than `limit` entries is fine. `.` and
    /// `..` must not be returned (the glue adds them). `ENOTDIR` if `ino` is not a directory.
    fn readdir(&self, ino: u64, offset: u64, limit: usize) -> Result<Vec<DirEntry>, Errno>;

    /// Up to `size` bytes of file `ino` from byte `offset`. Fewer bytes only at end of file
    /// (an empty vector past it). Report damaged or undecryptable data as `EIO`, never as
    /// wrong bytes.
    fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno>;

    /// The target of symlink `ino`; `EINVAL` if `ino` is not a symlink.
    fn readlink(&self, ino: u64) -> Result<Vec<u8>, Errno>;

    /// A human-readable name for `ino` (its path in the mount if known), used in log lines
    /// such as the one written when a read fails with `EIO`. Defaults to `inode N`.
    fn describe(&self, ino: u64) -> String {
        format!("inode {ino}")
    }

    /// Hands the tree the means to put file contents into the kernel's page cache before they
    /// are read (see [`Pusher`]). Called once, before the first request, when
    /// [`crate::MountOptions::push`] is on; a tree that never pushes ignores it.
    fn set_pusher(&self, _pusher: Arc<dyn Pusher>) {}

    /// A reader of directory `dir` took a READDIRPLUS reply that held the regular files
    /// `files` and asks for more (a listing goes on until an empty reply): the kernel holds
    /// their inodes now, so a [`Pusher`] can store their contents. Called only when
    /// [`crate::MountOptions::push`] is on, in the thread serving that next request, before it
    /// is answered. What to push, if anything, is the tree's choice, but the pushes must be
    /// made on another thread (see [`Pusher::push`]).
    fn listed(&self, _dir: u64, _files: &[u64]) {}
}

/// Puts file contents into the kernel's page cache (`FUSE_NOTIFY_STORE`), so that reading them
/// later costs no READ request: each READ is a round trip between the reader and the serving
/// thread, which for a tree of many small files costs more than the data. The kernel keeps
/// those pages across opens (the glue answers no OPEN).
///
/// Push only bytes that passed the checks a read makes: the kernel serves them as the file's
/// contents for as long as it keeps the pages.
pub trait Pusher: Send + Sync {
    /// Stores `data` as the whole contents of file `ino`. `data.len()` must be the size the
    /// kernel was given for `ino`: it grows the file to the end of what is stored, and marks
    /// the last partial page valid only when the data ends at the file's size.
    ///
    /// Quietly stores nothing when the kernel holds no inode `ino` (not looked up or listed
    /// yet, or forgotten since): a later read asks the tree as usual.
    ///
    /// Never call it from a tree method (a thread serving requests): the kernel keeps a
    /// file's pages locked while their READ waits in its queue, a store into them waits for
    /// that READ, and with the serving thread waiting too no one answers it. From a thread of
    /// the tree's own, the store waits until the READ is served.
    fn push(&self, ino: u64, data: &[u8]) -> Result<(), Errno>;
}

impl<T: ReadOnlyTree + ?Sized> ReadOnlyTree for std::sync::Arc<T> {
    fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr, Errno> {
        (**self).lookup(parent, name)
    }
    fn getattr(&self, ino: u64) -> Result<Attr, Errno> {
        (**self).getattr(ino)
    }
    fn readdir(&self, ino: u64, offset: u64, limit: usize) -> Result<Vec<DirEntry>, Errno> {
        (**self).readdir(ino, offset, limit)
    }
    fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        (**self).read(ino, offset, size)
    }
    fn readlink(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        (**self).readlink(ino)
    }
    fn describe(&self, ino: u64) -> String {
        (**self).describe(ino)
    }
    fn set_pusher(&self, pusher: Arc<dyn Pusher>) {
        (**self).set_pusher(pusher)
    }
    fn listed(&self, dir: u64, files: &[u64]) {
        (**self).listed(dir, files)
    }
}

/// The longest name shown (`NAME_MAX`); the kernel rejects longer ones.
pub const MAX_NAME_LEN: usize = 255;

/// Whether `name` may be shown or resolved in the mount: not empty, not `.` or `..`, free of
/// `/` and NUL bytes, and at most [`MAX_NAME_LEN`] bytes. Entries of a (possibly hostile)
/// repository that fail this are hidden.
pub fn is_safe_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b != b"."
        && b != b".."
        && !b.contains(&b'/')
        && !b.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"a/b",
            b"/",
            b"x\0y",
            b"\0",
            b"../etc",
        ] {
            assert!(!is_safe_name(OsStr::from_bytes(bad)), "{bad:?}");
        }
        assert!(!is_safe_name(OsStr::from_bytes(&[b'a'; 256])));
        assert!(is_safe_name(OsStr::from_bytes(&[b'a'; 255])));
        for good in [&b"a"[..], b"...", b".hidden", b"na\xefve", b"a b", b"..x"] {
            assert!(is_safe_name(OsStr::from_bytes(good)), "{good:?}");
        }
    }

    #[test]
    fn errno_round_trips() {
        assert_eq!(Errno::from_raw(libc::ENOENT), Errno::ENOENT);
        assert_eq!(Errno::from_raw(0), Errno::EIO);
        assert_eq!(Errno::from_raw(-3), Errno::EIO);
        let e: Errno = std::io::Error::from_raw_os_error(libc::ENOTDIR).into();
        assert_eq!(e.raw(), libc::ENOTDIR);
        let e: Errno = std::io::Error::other("no code").into();
        assert_eq!(e, Errno::EIO);
        assert!(Errno::EROFS.to_string().contains("Read-only"));
    }
}

//! The confined file-system layer of restore: every entry is made relative to an open directory
//! handle, by one plain name, and nothing is ever reached through a symlink.
//!
//! - Directories are opened with `O_DIRECTORY | O_NOFOLLOW`: a symlink where the backup has a
//!   directory is never followed. With `--overwrite` it is unlinked (the link itself, not what
//!   it points to) and a real directory is made in its place; without it, the restore fails.
//! - Into an empty target (no `--overwrite`), files and symlinks are made under their own name,
//!   which must not exist (`O_CREAT | O_EXCL | O_NOFOLLOW` for files): there is no live copy to
//!   keep, and a file whose data does not check out is removed.
//! - With `--overwrite` they are made under a temporary name and renamed over their name only
//!   when complete: `rename` replaces a symlink, never what it points to, and a failed file
//!   never touches the live one.
//! - Owner, mode and times are set on the open handle of the entry just made (`fchown`,
//!   `fchmod`, `futimens`); for a symlink, relative to its directory's handle with
//!   `AT_SYMLINK_NOFOLLOW`. setuid and setgid bits are kept only when root restores.
//!
//! Every name is checked again here ([`safe_name`]): this layer cannot be made to leave its
//! directory even by a caller that forgot to check.

use crate::format::tree::{safe_name, Node};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, Timespec, Timestamps};
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// An open directory that entries are created in.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

/// The prefix of the temporary names restore writes under (a dot file, removed on failure).
const TEMP_PREFIX: &str = ".cairn-restore-";

fn checked(name: &[u8]) -> io::Result<&[u8]> {
    if safe_name(name) {
        Ok(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing the unsafe name {:?} (empty, `.`, `..`, or with `/` or NUL)",
                String::from_utf8_lossy(name)
            ),
        ))
    }
}

/// `EEXIST` from making `name` where the target should be empty, with the remedy; other errors
/// as they are.
fn exists_or(e: Errno, name: &[u8]) -> io::Error {
    if e == Errno::EXIST {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} appeared in the target during the restore; it was left as it is. \
                 Restore into an empty directory, or pass --overwrite to replace it",
                String::from_utf8_lossy(name)
            ),
        )
    } else {
        e.into()
    }
}

fn not_a_dir(name: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} exists and is not a directory (a symlink or a file); it was not followed. \
             Remove it, or pass --overwrite to replace it",
            String::from_utf8_lossy(name)
        ),
    )
}

impl Dir {
    /// Open (creating it and its parents if needed) the directory the operator named. This is
    /// the one path that is resolved as given: the operator chose it.
    pub(crate) fn open_target(path: &Path) -> io::Result<Dir> {
        std::fs::create_dir_all(path)?;
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir { fd })
    }

    /// The handle.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn open_dir(&self, name: &[u8]) -> Result<OwnedFd, Errno> {
        rfs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    /// The directory `name` in this one, made (mode 0700 until its own mode is set) if missing.
    /// Something else there (a symlink, a file) is never followed: with `replace` it is
    /// unlinked and a directory made instead, otherwise this fails.
    ///
    /// With `replace`, a directory that was already there is swept of the temporaries a killed
    /// restore left in it.
    pub(crate) fn subdir(&self, name: &[u8], replace: bool) -> io::Result<Dir> {
        let name = checked(name)?;
        let existed = match rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => false,
            Err(Errno::EXIST) => true,
            Err(e) => return Err(e.into()),
        };
        match self.open_dir(name) {
            Ok(fd) => {
                let d = Dir { fd };
                if existed && replace {
                    d.sweep_temps()?;
                }
                Ok(d)
            }
            Err(Errno::LOOP | Errno::NOTDIR) if replace => {
                rfs::unlinkat(&self.fd, name, AtFlags::empty())?;
                rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700))?;
                Ok(Dir {
                    fd: self.open_dir(name)?,
                })
            }
            Err(Errno::LOOP | Errno::NOTDIR) => Err(not_a_dir(name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove the files and symlinks named like restore's temporaries (debris of a killed
    /// restore); never a directory, never through a link.
    fn sweep_temps(&self) -> io::Result<()> {
        let mut entries = rfs::Dir::read_from(&self.fd)?;
        while let Some(e) = entries.read() {
            let e = e?;
            let name = e.file_name().to_bytes();
            if is_temp_name(name) && e.file_type() != rfs::FileType::Directory {
                let _ = rfs::unlinkat(&self.fd, name, AtFlags::empty());
            }
        }
        Ok(())
    }

    /// A new, empty file named `name` in this directory, made with the permission bits
    /// `mode` (less the umask), which must not exist (nothing there is followed or replaced).
    pub(crate) fn create_new(&self, name: &[u8], mode: u32) -> io::Result<File> {
        let name = checked(name)?;
        rfs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode & 0o777),
        )
        .map(File::from)
        .map_err(|e| exists_or(e, name))
    }

    /// A new symlink `name` to `target` in this directory, where nothing may be.
    pub(crate) fn symlink_new(&self, target: &[u8], name: &[u8]) -> io::Result<()> {
        let name = checked(name)?;
        rfs::symlinkat(target, &self.fd, name).map_err(|e| exists_or(e, name))
    }

    /// A new, empty file (mode 0600) under a fresh temporary name in this directory.
    pub(crate) fn create_temp(&self) -> io::Result<(File, Vec<u8>)> {
        let mut tries = 0;
        loop {
            let tmp = temp_name();
            match rfs::openat(
                &self.fd,
                &tmp[..],
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => return Ok((File::from(fd), tmp)),
                Err(Errno::EXIST) if tries < 8 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A new symlink to `target` under a fresh temporary name in this directory.
    pub(crate) fn symlink_temp(&self, target: &[u8]) -> io::Result<Vec<u8>> {
        let mut tries = 0;
        loop {
            let tmp = temp_name();
            match rfs::symlinkat(target, &self.fd, &tmp[..]) {
                Ok(()) => return Ok(tmp),
                Err(Errno::EXIST) if tries < 8 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Rename the temporary entry `tmp` over `name` (replacing a file or symlink there, never
    /// following it).
    pub(crate) fn commit(&self, tmp: &[u8], name: &[u8]) -> io::Result<()> {
        let name = checked(name)?;
        rfs::renameat(&self.fd, tmp, &self.fd, name).map_err(|e| match e {
            Errno::ISDIR | Errno::NOTEMPTY | Errno::EXIST => io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a directory is in its place in the target; remove it to restore this entry",
            ),
            e => e.into(),
        })
    }

    /// Remove an entry this restore made and could not complete: a temporary, or a file made
    /// under its own name by [`Dir::create_new`] (best effort: it is only debris).
    pub(crate) fn discard(&self, made: &[u8]) {
        if let Ok(made) = checked(made) {
            let _ = rfs::unlinkat(&self.fd, made, AtFlags::empty());
        }
    }

    /// Set the owner (as root) and times of the symlink `name` in this directory, without
    /// following it. (Linux has no modes on symlinks.)
    pub(crate) fn set_link_meta(&self, name: &[u8], node: &Node, is_root: bool) {
        let Ok(name) = checked(name) else { return };
        if is_root {
            let _ = rfs::chownat(
                &self.fd,
                name,
                uid(node.uid),
                gid(node.gid),
                AtFlags::SYMLINK_NOFOLLOW,
            );
        }
        let _ = rfs::utimensat(&self.fd, name, &times(node), AtFlags::SYMLINK_NOFOLLOW);
    }
}

/// Set owner (as root), mode and times on an open file or directory; best effort, as `tar`
/// does. The owner first: `chown` clears setuid/setgid. Those bits are kept only for root.
pub(crate) fn set_meta(fd: BorrowedFd<'_>, node: &Node, is_root: bool) {
    set_meta_over(fd, node, is_root, None);
}

/// The owner and permission bits a file was made with, where they are known for sure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Made {
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Permission bits.
    pub(crate) mode: u32,
}

/// As [`set_meta`], on a file made as `made` says: an owner or mode it already has is not set
/// again (two system calls fewer per file in a restore of many small files).
pub(crate) fn set_meta_over(fd: BorrowedFd<'_>, node: &Node, is_root: bool, made: Option<Made>) {
    let bits = mode_bits(node.mode, is_root);
    if is_root && made.is_none_or(|m| (m.uid, m.gid) != (node.uid, node.gid)) {
        let _ = rfs::fchown(fd, uid(node.uid), gid(node.gid));
    }
    if made.is_none_or(|m| m.mode != bits) {
        let _ = rfs::fchmod(fd, Mode::from_raw_mode(bits));
    }
    let _ = rfs::futimens(fd, &times(node));
}

/// What a file made in a restore's target gets by itself: this process's owner and group,
/// and the bits it is made with less the umask. Known only when the target directory passes
/// nothing on to what is made in it (no setgid bit, no default ACL), and asked only for a
/// restore into an empty target, where every directory below it is made by the restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inherit {
    uid: u32,
    gid: u32,
    umask: u32,
}

impl Inherit {
    /// What files made below `target` get, if it is known for sure.
    pub(crate) fn of(target: &Dir) -> Option<Inherit> {
        let st = rfs::fstat(&target.fd).ok()?;
        if st.st_mode & 0o2000 != 0 {
            return None; // setgid: what is made below takes the directory's group
        }
        let mut acl = [0u8; 256];
        match rfs::fgetxattr(&target.fd, "system.posix_acl_default", &mut acl[..]) {
            Err(Errno::NODATA | Errno::NOTSUP) => {}
            _ => return None, // a default ACL (or no answer): it decides the modes
        }
        Some(Inherit {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            umask: umask()?,
        })
    }

    /// The owner and bits of a file made with `bits`.
    pub(crate) fn made(&self, bits: u32) -> Made {
        Made {
            uid: self.uid,
            gid: self.gid,
            mode: bits & 0o777 & !self.umask,
        }
    }
}

/// This process's umask, read without changing it (`umask(2)` sets it, racing other threads).
fn umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// The permission bits to set: setuid/setgid only for root.
pub(crate) fn mode_bits(mode: u32, is_root: bool) -> u32 {
    if is_root {
        mode & 0o7777
    } else {
        mode & 0o1777
    }
}

fn uid(raw: u32) -> Option<rustix::fs::Uid> {
    (raw != u32::MAX).then(|| rustix::fs::Uid::from_raw(raw))
}

fn gid(raw: u32) -> Option<rustix::fs::Gid> {
    (raw != u32::MAX).then(|| rustix::fs::Gid::from_raw(raw))
}

fn times(node: &Node) -> Timestamps {
    let t = Timespec {
        tv_sec: node.mtime_s,
        tv_nsec: i64::from(node.mtime_ns.min(999_999_999)),
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Whether `name` is one of restore's temporary names.
pub(crate) fn is_temp_name(name: &[u8]) -> bool {
    name.len() == TEMP_PREFIX.len() + 16 + 4
        && name.starts_with(TEMP_PREFIX.as_bytes())
        && name.ends_with(b".tmp")
        && name[TEMP_PREFIX.len()..TEMP_PREFIX.len() + 16]
            .iter()
            .all(|b| b.is_ascii_hexdigit())
}

fn temp_name() -> Vec<u8> {
    format!("{TEMP_PREFIX}{:016x}.tmp", rand::random::<u64>()).into_bytes()
}

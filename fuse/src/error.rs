//! Why a mount could not be made or undone, with the remedy.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure to mount or unmount. `Display` gives the cause and what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum MountError {
    /// The mount point does not exist.
    NotFound(PathBuf),
    /// The mount point is not a directory.
    NotADirectory(PathBuf),
    /// The mount point has entries in it.
    NotEmpty(PathBuf),
    /// Something is already mounted there.
    AlreadyMounted(PathBuf),
    /// A FUSE filesystem whose process died is still mounted there.
    Stale(PathBuf),
    /// The mount point cannot be examined (permissions, I/O error).
    Inaccessible(PathBuf, io::Error),
    /// `/dev/fuse` is missing or cannot be opened.
    NoFuseDevice(io::Error),
    /// The kernel refused the mount.
    Mount(PathBuf, io::Error),
    /// The mount could not be taken down.
    Unmount(PathBuf, io::Error),
    /// Signal handling could not be set up (or another foreground mount runs in this process).
    Signals(io::Error),
}

impl MountError {
    /// What the operator should do about it.
    pub fn remedy(&self) -> String {
        match self {
            MountError::NotFound(p) => format!("create it first: `mkdir -p {}`", p.display()),
            MountError::NotADirectory(_) => "choose a directory as the mount point".into(),
            MountError::NotEmpty(_) => {
                "choose an empty directory (mounting would hide what is in it)".into()
            }
            MountError::AlreadyMounted(p) | MountError::Stale(p) => {
                format!(
                    "unmount it with `umount {}` (or `umount -l` if busy)",
                    p.display()
                )
            }
            MountError::Inaccessible(_, _) => "check the path and its permissions".into(),
            MountError::NoFuseDevice(_) => {
                "load the FUSE module (`modprobe fuse`) or give the container `--device /dev/fuse`"
                    .into()
            }
            MountError::Mount(_, _) => {
                "mounting needs root (or CAP_SYS_ADMIN) and a usable /dev/fuse; run as root".into()
            }
            MountError::Unmount(p, _) => format!(
                "a process may still use it: close it, then `umount -l {}`",
                p.display()
            ),
            MountError::Signals(_) => "run one foreground mount per process".into(),
        }
    }
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountError::NotFound(p) => write!(f, "mountpoint {} does not exist", p.display()),
            MountError::NotADirectory(p) => {
                write!(f, "mountpoint {} is not a directory", p.display())
            }
            MountError::NotEmpty(p) => write!(f, "mountpoint {} is not empty", p.display()),
            MountError::AlreadyMounted(p) => {
                write!(f, "mountpoint {} is already mounted", p.display())
            }
            MountError::Stale(p) => write!(
                f,
                "mountpoint {} holds a stale FUSE mount (transport endpoint is not connected)",
                p.display()
            ),
            MountError::Inaccessible(p, e) => {
                write!(f, "cannot examine mountpoint {}: {e}", p.display())
            }
            MountError::NoFuseDevice(e) => write!(f, "cannot open /dev/fuse: {e}"),
            MountError::Mount(p, e) => write!(f, "cannot mount at {}: {e}", p.display()),
            MountError::Unmount(p, e) => write!(f, "cannot unmount {}: {e}", p.display()),
            MountError::Signals(e) => write!(f, "cannot set up signal handling: {e}"),
        }?;
        write!(f, ": {}", self.remedy())
    }
}

impl std::error::Error for MountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MountError::Inaccessible(_, e)
            | MountError::NoFuseDevice(e)
            | MountError::Mount(_, e)
            | MountError::Unmount(_, e)
            | MountError::Signals(e) => Some(e),
            _ => None,
        }
    }
}

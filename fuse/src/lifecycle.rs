//! Mounting and unmounting: checks on the mount point, a background mount with a handle, and
//! a foreground mount that lasts until `umount` or SIGINT/SIGTERM.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fuser::{Config, MountOption, Session, SessionACL, SessionUnmounter};
use rustix::mount::UnmountFlags;

use crate::error::MountError;
use crate::glue::Glue;
use crate::mountinfo;
use crate::options::MountOptions;
use crate::push::KernelPusher;
use crate::signals::{self, SignalPipe};
use crate::stats::{Counters, RequestCounts};
use crate::tree::ReadOnlyTree;

/// The name of the filesystem in `/proc/mounts` (source `cairn`, type `fuse.cairn`).
pub const FS_NAME: &str = "cairn";

/// How long an unmount waits for the session to wind down before leaving it detached.
const UNMOUNT_WAIT: Duration = Duration::from_secs(3);

/// Checks that `path` can be mounted on: it exists, is a directory, is empty and is not already
/// a mount point.
pub fn check_mountpoint(path: &Path) -> Result<(), MountError> {
    let p = path.to_path_buf();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(MountError::NotFound(p)),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return Err(MountError::Stale(p)),
        Err(e) => return Err(MountError::Inaccessible(p, e)),
    };
    if !meta.is_dir() {
        return Err(MountError::NotADirectory(p));
    }
    let canon = path
        .canonicalize()
        .map_err(|e| MountError::Inaccessible(p.clone(), e))?;
    if mountinfo::mount_at(&canon).is_some() {
        return Err(MountError::AlreadyMounted(p));
    }
    let mut entries =
        std::fs::read_dir(path).map_err(|e| MountError::Inaccessible(p.clone(), e))?;
    if entries.next().is_some() {
        return Err(MountError::NotEmpty(p));
    }
    Ok(())
}

/// A mounted tree served by a background thread. Unmounts when dropped.
#[derive(Debug)]
pub struct MountHandle {
    mountpoint: PathBuf,
    unmounter: Option<SessionUnmounter>,
    thread: Option<JoinHandle<io::Result<()>>>,
    ended: mpsc::Receiver<()>,
    counters: Arc<Counters>,
}

impl MountHandle {
    /// Where the tree is mounted (canonical path).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Whether the session still runs (false once unmounted from outside, e.g. `umount`).
    pub fn is_mounted(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// How many requests of each kind the kernel has sent so far.
    pub fn requests(&self) -> RequestCounts {
        self.counters.snapshot()
    }

    /// Unmounts (lazily if the mount is busy) and waits for the serving threads to finish.
    pub fn unmount(mut self) -> Result<(), MountError> {
        self.unmount_inner()
    }

    /// Blocks until the mount is taken down from outside (`umount`).
    fn wait_ended(&mut self) {
        let _ = self.ended.recv();
    }

    fn unmount_inner(&mut self) -> Result<(), MountError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let mut result = Ok(());
        if !thread.is_finished() {
            if let Some(mut u) = self.unmounter.take() {
                if let Err(e) = u.unmount() {
                    tracing::warn!(
                        "umount {}: {e}; detaching it lazily",
                        self.mountpoint.display()
                    );
                    if let Err(e) = umount_lazy(&self.mountpoint) {
                        result = Err(MountError::Unmount(self.mountpoint.clone(), e));
                    }
                }
            }
        }
        match self.ended.recv_timeout(UNMOUNT_WAIT) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Ok(Err(e)) = thread.join() {
                    tracing::debug!("fuse session ended with: {e}");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => tracing::warn!(
                "{} is detached but still in use; its session ends when the last user closes it",
                self.mountpoint.display()
            ),
        }
        result
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if let Err(e) = self.unmount_inner() {
            tracing::error!("{e}");
        }
    }
}

fn umount_lazy(path: &Path) -> io::Result<()> {
    Ok(rustix::mount::unmount(path, UnmountFlags::DETACH)?)
}

fn fuser_config(opts: &MountOptions) -> Config {
    let mut c = Config::default();
    c.mount_options = vec![
        MountOption::FSName(FS_NAME.into()),
        MountOption::CUSTOM(format!("subtype={FS_NAME}")),
        MountOption::RO,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoAtime,
        MountOption::DefaultPermissions,
    ];
    c.acl = if opts.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    c.n_threads = Some(opts.threads.max(1));
    c.clone_fd = opts.threads > 1;
    c
}

/// Raises the readahead window of the mount's backing device (best effort).
fn raise_readahead(mountpoint: &Path, kb: u32) {
    if kb == 0 {
        return;
    }
    let Some(m) = mountinfo::mount_at(mountpoint) else {
        return;
    };
    let knob = format!("/sys/class/bdi/{}/read_ahead_kb", m.dev);
    match std::fs::write(&knob, format!("{kb}\n")) {
        Ok(()) => tracing::debug!("{knob} = {kb}"),
        Err(e) => tracing::debug!("cannot raise readahead through {knob}: {e}"),
    }
}

fn start<T: ReadOnlyTree>(
    tree: T,
    mountpoint: &Path,
    opts: &MountOptions,
    waker: Option<OwnedFd>,
) -> Result<MountHandle, MountError> {
    check_mountpoint(mountpoint)?;
    if let Err(e) = std::fs::metadata("/dev/fuse") {
        return Err(MountError::NoFuseDevice(e));
    }
    let canon = mountpoint
        .canonicalize()
        .map_err(|e| MountError::Inaccessible(mountpoint.to_path_buf(), e))?;
    let counters = Arc::new(Counters::default());
    let pusher = opts.pushes().then(|| {
        let p = Arc::new(KernelPusher::new(counters.clone()));
        tree.set_pusher(p.clone());
        p
    });
    let glue = Glue::new(tree, opts.clone(), counters.clone());
    let mut session = Session::new(glue, &canon, &fuser_config(opts)).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound && !Path::new("/dev/fuse").exists() {
            MountError::NoFuseDevice(e)
        } else {
            MountError::Mount(canon.clone(), e)
        }
    })?;
    if let Some(p) = &pusher {
        p.connect(session.notifier());
    }
    let unmounter = session.unmount_callable();
    let (tx, ended) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("cairn-fuse".into())
        .spawn(move || {
            let r = session.run();
            let _ = tx.send(());
            if let Some(w) = waker {
                signals::wake(&w, signals::ENDED);
            }
            r
        })
        .map_err(|e| MountError::Mount(canon.clone(), e))?;
    raise_readahead(&canon, opts.read_ahead_kb);
    tracing::info!("mounted at {}", canon.display());
    Ok(MountHandle {
        mountpoint: canon,
        unmounter: Some(unmounter),
        thread: Some(thread),
        ended,
        counters,
    })
}

/// Mounts `tree` read-only at `mountpoint` and serves it from background threads until the
/// returned handle is unmounted or dropped (or the mount is taken down from outside).
pub fn spawn<T: ReadOnlyTree>(
    tree: T,
    mountpoint: &Path,
    options: &MountOptions,
) -> Result<MountHandle, MountError> {
    start(tree, mountpoint, options, None)
}

/// Mounts `tree` read-only at `mountpoint` and blocks until it is unmounted from outside
/// (`umount MOUNTPOINT`) or SIGINT, SIGTERM or SIGHUP arrives; then unmounts and returns. The
/// mount is gone when this returns (lazily detached if a process still uses it). While it runs
/// these signals do not kill the process, even if they were inherited as ignored; their previous
/// handling is restored on return. One foreground mount per process at a time.
pub fn mount_foreground<T: ReadOnlyTree>(
    tree: T,
    mountpoint: &Path,
    options: &MountOptions,
) -> Result<(), MountError> {
    let sig = SignalPipe::install().map_err(MountError::Signals)?;
    let waker = sig.waker().map_err(MountError::Signals)?;
    let mut handle = start(tree, mountpoint, options, Some(waker))?;
    match sig.wait() {
        Ok(signals::ENDED) => {
            tracing::info!("{} was unmounted", handle.mountpoint.display());
            handle.wait_ended();
        }
        Ok(s) => tracing::info!(
            "{} received; unmounting {}",
            signals::name(s),
            handle.mountpoint.display()
        ),
        Err(e) => tracing::error!("waiting for signals: {e}; unmounting"),
    }
    tracing::info!("requests served: {:?}", handle.requests());
    let r = handle.unmount();
    drop(sig);
    r
}

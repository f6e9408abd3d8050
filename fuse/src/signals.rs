//! SIGINT/SIGTERM/SIGHUP for a foreground mount: a self-pipe the signal handler writes to.
//!
//! The handler only calls `write(2)` (async-signal-safe) on a pipe; the mounting thread waits on
//! the pipe's other end, together with the session's own "ended" notice.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end of the installed pipe, for the handler; -1 when none is installed.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The byte a session writes to the pipe when it ends on its own.
pub(crate) const ENDED: u8 = 0;

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) and errno access are async-signal-safe; the byte lives on our stack.
        unsafe {
            let saved = *libc::__errno_location();
            let b = sig as u8;
            libc::write(fd, (&b as *const u8).cast(), 1);
            *libc::__errno_location() = saved;
        }
    }
}

/// While alive, SIGINT, SIGTERM and SIGHUP write their number to a pipe instead of killing the process.
/// Dropping it restores the previous dispositions.
pub(crate) struct SignalPipe {
    read: OwnedFd,
    write: OwnedFd,
    old: Vec<(libc::c_int, libc::sigaction)>,
}

/// Handled even when inherited as ignored (a background job of a non-interactive shell starts
/// with SIGINT ignored, yet `kill -INT` must still unmount).
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two fresh descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl SignalPipe {
    /// Installs the handlers. Fails if another `SignalPipe` is alive in this process.
    pub(crate) fn install() -> io::Result<SignalPipe> {
        let (read, write) = pipe()?;
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let fl = libc::fcntl(write.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(write.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        if WAKE_FD
            .compare_exchange(-1, write.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "another foreground mount already handles SIGINT/SIGTERM/SIGHUP in this process",
            ));
        }
        let mut me = SignalPipe {
            read,
            write,
            old: Vec::new(),
        };
        for sig in SIGNALS {
            // SAFETY: a zeroed sigaction is valid; we fill handler and mask before use.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut old) != 0 {
                    return Err(io::Error::last_os_error()); // Drop restores what was changed
                }
                me.old.push((sig, old));
            }
        }
        Ok(me)
    }

    /// A second write end (for the session thread to report its end), independent of `self`'s
    /// lifetime.
    pub(crate) fn waker(&self) -> io::Result<OwnedFd> {
        self.write.try_clone()
    }

    /// Blocks until a byte arrives: a signal number, or [`ENDED`].
    pub(crate) fn wait(&self) -> io::Result<u8> {
        loop {
            let mut b = 0u8;
            // SAFETY: reading one byte into a local from a descriptor we own.
            let n = unsafe { libc::read(self.read.as_raw_fd(), (&mut b as *mut u8).cast(), 1) };
            match n {
                1 => return Ok(b),
                0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "pipe closed")),
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// Writes one byte to a pipe end (best effort).
pub(crate) fn wake(fd: &OwnedFd, byte: u8) {
    // SAFETY: writing one byte from a local to a descriptor we own.
    unsafe {
        libc::write(fd.as_raw_fd(), (&byte as *const u8).cast(), 1);
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        for (sig, old) in self.old.drain(..).rev() {
            // SAFETY: restoring a disposition sigaction gave us.
            unsafe {
                libc::sigaction(sig, &old, std::ptr::null_mut());
            }
        }
        WAKE_FD.store(-1, Ordering::SeqCst);
    }
}

/// The name of a signal number, for log lines.
pub(crate) fn name(sig: u8) -> &'static str {
    match sig as libc::c_int {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

//! SIGINT/SIGTERM/SIGHUP for a foreground mount: a self-pipe the signal handler writes to.
//!
//! The handler only calls `write(2)` (async-signal-safe) on a pipe; the mounting thread waits on
//! the pipe's other end, together with the session's own "ended" notice.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::fs::OFlags;
use rustix::pipe::PipeFlags;

use crate::sys;
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end of the installed pipe, for the handler; -1 when none is installed.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The byte a session writes to the pipe when it ends on its own.
pub(crate) const ENDED: u8 = 0;

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        sys::write_from_handler(fd, sig as u8);
    }
}

/// While alive, SIGINT, SIGTERM and SIGHUP write their number to a pipe instead of killing the process.
/// Dropping it restores the previous dispositions.
pub(crate) struct SignalPipe {
    read: OwnedFd,
    write: OwnedFd,
    old: Vec<sys::Saved>,
}

/// Handled even when inherited as ignored (a background job of a non-interactive shell starts
/// with SIGINT ignored, yet `kill -INT` must still unmount).
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// A close-on-exec pipe whose write end never blocks (a full pipe drops the byte: one is enough).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
    let flags = rustix::fs::fcntl_getfl(&write)?;
    rustix::fs::fcntl_setfl(&write, flags | OFlags::NONBLOCK)?;
    Ok((read, write))
}

impl SignalPipe {
    /// Installs the handlers. Fails if another `SignalPipe` is alive in this process.
    pub(crate) fn install() -> io::Result<SignalPipe> {
        let (read, write) = pipe()?;
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
            // on failure, Drop restores what was changed
            me.old.push(sys::install(sig, on_signal)?);
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
            let mut b = [0u8; 1];
            match rustix::io::read(&self.read, &mut b) {
                Ok(1) => return Ok(b[0]),
                Ok(_) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "pipe closed")),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Writes one byte to a pipe end (best effort).
pub(crate) fn wake(fd: &OwnedFd, byte: u8) {
    let _ = rustix::io::write(fd, &[byte]);
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        for saved in self.old.drain(..).rev() {
            sys::restore(saved);
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

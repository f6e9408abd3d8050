//! The crate's one audited module of raw system calls: signal dispositions, which no safe
//! wrapper can restore when inherited as ignored (signal-hook keeps its own handler installed),
//! and the async-signal-safe write the handler makes. Everything else goes through `rustix`.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

/// A disposition saved by [`install`], for [`restore`].
pub(crate) struct Saved {
    sig: libc::c_int,
    old: libc::sigaction,
}

/// Installs `handler` for `sig` (with `SA_RESTART`, empty mask) and returns the disposition it
/// replaced.
pub(crate) fn install(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) -> io::Result<Saved> {
    // SAFETY: a zeroed sigaction is a valid value; handler, flags and mask are set before use, and
    // `handler` is an `extern "C" fn(c_int)`, the signature the kernel calls without SA_SIGINFO.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, &sa, &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Saved { sig, old })
    }
}

/// Puts back a disposition [`install`] replaced.
pub(crate) fn restore(saved: Saved) {
    // SAFETY: `saved.old` is exactly what sigaction(2) returned for `saved.sig`.
    unsafe {
        libc::sigaction(saved.sig, &saved.old, std::ptr::null_mut());
    }
}

/// Writes one byte to `fd` from inside a signal handler. rustix's Linux backend makes the system
/// call directly, so errno is left as the interrupted code had it.
pub(crate) fn write_from_handler(fd: RawFd, byte: u8) {
    // SAFETY: the caller passes a descriptor that stays open while its handler is installed
    // (the pipe's write end is only closed after the dispositions are restored).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let _ = rustix::io::write(fd, &[byte]);
}

//! The audited module: the library's only `unsafe` code (the crate denies it everywhere else).
//!
//! Everything here sets process-wide state through libc calls that have no safe wrapper in
//! `rustix` or `signal-hook`. Each block says why it is sound. Prefer a safe wrapper when one
//! exists: the lease's `flock`, the notifier's process-group kill and the effective ids all use
//! `rustix`.

/// Restore the default disposition of SIGPIPE, like every Unix filter: a closed pipe
/// (`cairn list --json | head`) ends the process quietly instead of panicking in `println!`.
/// Call at start-up, before any thread starts.
pub fn default_sigpipe() {
    // SAFETY: signal(2) with SIG_DFL installs no handler of ours, touches no memory, and is
    // called at start-up before any other thread could be changing signal dispositions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Block SIGPIPE in the calling thread only: a write to a socket whose peer closed then fails with
/// EPIPE instead of ending the process (the object store client's threads write with writev(2),
/// which cannot ask for MSG_NOSIGNAL). Other threads keep the default set by [`default_sigpipe`].
pub fn block_sigpipe_in_this_thread() {
    // SAFETY: the set is a local, initialised by sigemptyset before sigaddset reads it;
    // pthread_sigmask changes only this thread's mask and may be called at any time.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Limit glibc's malloc to `arenas` arenas instead of one per thread: the pipeline's threads hand
/// buffers to each other, and per-thread arenas kept ~25% more memory resident for no speed
/// (measured on backup and mount). A no-op on other C libraries. Call before any thread starts.
pub fn limit_malloc_arenas(arenas: i32) {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only adjusts allocator parameters and returns a status; it is called before
    // any thread starts, so no allocation races with the change.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
    #[cfg(not(target_env = "gnu"))]
    let _ = arenas;
}

/// `sh -c cmd`: how every operator-given command (a service's backup and restore commands, the
/// notifier) is run. The caller sets its standard streams.
pub fn shell(cmd: &str) -> std::process::Command {
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(cmd);
    c
}

/// Make the child that `cmd` spawns the leader of a new session (setsid(2) between fork and
/// exec), detached from our terminal and session: a background mount outlives the shell.
pub fn new_session_on_exec(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2), which
    // is async-signal-safe, allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            let _ = rustix::process::setsid();
            Ok(())
        });
    }
}

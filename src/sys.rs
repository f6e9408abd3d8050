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

/// Blocks at least this large come straight from the kernel (`mmap`) and go back to it when
/// freed, once [`fix_mmap_threshold`] ran. Measured on backups with their export
/// (benches/RESULTS.md, "The allocator's mmap threshold fixed").
pub const MMAP_THRESHOLD: usize = 256 << 10;

/// Fix glibc's mmap threshold at [`MMAP_THRESHOLD`]. glibc's own threshold rises to the size of
/// the largest mapped block freed (up to 32 MiB); past that, the pipeline's chunk-sized and
/// multi-MiB buffers come from the arenas, and their freed pages stay resident between uses
/// (10–15 MB of a backup's peak). Fixed, such a block is mapped for its use and unmapped when
/// freed (unless its arena already holds that much free memory to carve it from). Not for an SMB worker: there, with its SMB reads and writes, it cost a 3 GiB export
/// 2–4 s more system time, and the main process's peak is the same without it. A no-op on other
/// C libraries. Call before any thread starts.
pub fn fix_mmap_threshold() {
    #[cfg(target_env = "gnu")]
    // SAFETY: as in limit_malloc_arenas.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as i32);
    }
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

#[cfg(all(test, target_env = "gnu"))]
mod tests {
    /// Whether glibc's malloc gives a block of `n` bytes a mapping of its own: a mapped chunk
    /// spans whole pages with a 16-byte header, so its usable size plus 16 is a multiple of the
    /// page size; an arena's chunk is a multiple of 16 bytes of which 8 are not usable, so that
    /// sum never is.
    fn mapped(n: usize) -> bool {
        // SAFETY: the block is checked for null, measured and freed here, never dereferenced.
        unsafe {
            let p = libc::malloc(n);
            assert!(!p.is_null());
            let usable = libc::malloc_usable_size(p);
            libc::free(p);
            assert!(usable >= n);
            (usable + 16) % 4096 == 0
        }
    }

    /// Set in the process [`large_blocks_stay_mapped_after_a_larger_one_is_freed`] starts.
    const CHILD: &str = "CAIRN_TEST_MALLOC_CHILD";

    /// glibc maps a large block only when its arena has no free memory to carve it from, and the
    /// other tests of this process leave plenty: the check runs in a new process of this test
    /// binary that runs this test alone, before anything else has used the heap.
    #[test]
    fn large_blocks_stay_mapped_after_a_larger_one_is_freed() {
        let name = "sys::tests::large_blocks_stay_mapped_after_a_larger_one_is_freed";
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--test-threads=1", "--nocapture"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{said}");
            assert!(said.contains("1 passed"), "the check did not run: {said}");
            return;
        }
        super::fix_mmap_threshold();
        // freeing a mapped 8 MiB block raises glibc's own threshold to 8 MiB
        // SAFETY: a block allocated and freed at once, never dereferenced
        unsafe { libc::free(libc::malloc(8 << 20)) };
        assert!(mapped(super::MMAP_THRESHOLD));
        assert!(mapped(4 << 20));
        assert!(!mapped(1 << 10), "a small block from its own mapping");
        assert!(!mapped(super::MMAP_THRESHOLD / 2));
    }
}

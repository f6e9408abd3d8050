//! Tunables of a mount. The defaults are what `cairn mount` uses.

use std::time::Duration;

/// How a tree is mounted. Build it with `MountOptions::default()` and adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountOptions {
    /// Threads serving kernel requests (each with its own cloned `/dev/fuse` descriptor).
    ///
    /// Default: one per CPU the process may run on, at most 4, each pinned to its CPU (see
    /// [`MountOptions::pin`]). A reader sends one request at a time; unpinned, several threads
    /// only add wake-ups on the other core (`tar cf - .` of 53,000 small files took 10.7 s with
    /// two unpinned threads against 3.9–5.4 s with one, 2 shared cores, before files needed no
    /// OPEN), and one thread follows the scheduler from core to core.
    pub threads: usize,
    /// How long the kernel may cache attributes and names of everything below the root's
    /// entries (backups are immutable, so this is long).
    pub ttl: Duration,
    /// How long the kernel may cache the root directory's attributes and entries
    /// (new backups appear, `latest` moves).
    pub root_ttl: Duration,
    /// Open files with `FOPEN_DIRECT_IO` (every read goes to the tree, bypassing the page
    /// cache, in requests as large as the reader's; `mmap` still works through
    /// `FUSE_DIRECT_IO_ALLOW_MMAP`) instead of `FOPEN_KEEP_CACHE` (page cache with readahead,
    /// kept across opens, requests of up to 1 MiB whatever the reader's size).
    ///
    /// Default `false`. Measured with `examples/throughput.rs` (256 MiB in-memory file, 2 shared
    /// cores): `cat` cold ran 1.6-2.5 GB/s through the page cache and 2.3-2.9 GB/s with direct
    /// I/O; with a tree that spends CPU per byte both ran ~1.0-1.3 GB/s, but 16 KiB reads ran
    /// ~1.0-1.5 GB/s through the page cache against ~0.5-0.6 GB/s direct (each small read
    /// becomes a request to the tree), and re-reads come from the cache. Direct I/O only pays
    /// for a tree so cheap that the glue is the limit.
    pub direct_io: bool,
    /// Readahead window set on the mount's backing device (`read_ahead_kb` in sysfs) right
    /// after mounting; the FUSE handshake alone cannot go beyond the kernel's default (128 KiB).
    /// `0` leaves the kernel's value. Best effort: needs root.
    pub read_ahead_kb: u32,
    /// Largest read request the kernel sends (bytes, at most 1 MiB with the default
    /// `fuse.max_pages_limit`).
    pub max_read: u32,
    /// `st_blksize` reported for files: `cat`, `cp` and friends size their reads on it.
    pub blksize: u32,
    /// Answer OPENDIR (listings of the root are then never cached by the kernel) instead of
    /// telling the kernel that opening a directory needs nothing, which saves two requests per
    /// directory listed and lets the kernel cache every listing, the root's included: it lists
    /// the root again only once the root's mtime has changed (checked after `root_ttl`), so the
    /// tree must move the root's mtime whenever its entries change.
    ///
    /// Default `false`.
    pub opendir: bool,
    /// Let users other than the one who mounted (root) in; the kernel then enforces the
    /// tree's permission bits (`default_permissions` is always on).
    pub allow_other: bool,
    /// Give the tree a [`crate::Pusher`] and tell it which files each READDIRPLUS reply made
    /// known to the kernel ([`crate::ReadOnlyTree::listed`]), so that it can put the contents
    /// of files about to be read into the kernel's page cache: a reader of many small files
    /// (`tar`, `cp -r`) then reads them without a READ round trip each.
    ///
    /// Default `true`. `false` gives the tree no pusher: every file's first read is a READ.
    /// Ignored with [`MountOptions::direct_io`] (reads then bypass the page cache).
    pub push: bool,
    /// Pin serving thread `N` to the `N`-th CPU the process may run on (modulo their number),
    /// so that a request from a reader on any of them can be served where it was made. Measured
    /// with `benches/mount-src.sh` on 2 shared cores, alternated pairs: a cold `ls -lR` of
    /// 53,000 files took 1.7–2.0 s with two pinned threads against 2.5–3.0 s with one thread.
    ///
    /// Default `true`. Nothing is pinned with one thread or one CPU.
    pub pin: bool,
}

impl MountOptions {
    /// Whether the tree gets a pusher (see [`MountOptions::push`]).
    pub(crate) fn pushes(&self) -> bool {
        self.push && !self.direct_io
    }
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            threads: crate::affinity::allowed_cpus()
                .len()
                .clamp(1, crate::affinity::MAX_DEFAULT_THREADS),
            ttl: Duration::from_secs(24 * 3600),
            root_ttl: Duration::from_secs(1),
            direct_io: false,
            read_ahead_kb: 1024,
            max_read: 1 << 20,
            blksize: 1 << 20,
            allow_other: false,
            opendir: false,
            push: true,
            pin: true,
        }
    }
}

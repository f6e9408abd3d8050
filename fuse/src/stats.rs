//! Counts of the kernel requests a mount has served, by kind: what a test checks to show that
//! a reader costs the requests it should (none per file for `open`, `flush` and `release` once
//! the kernel knows the tree needs none), and what a benchmark can print.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many requests of each kind reached the tree's glue since the mount started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// `LOOKUP`: a name resolved in a directory.
    pub lookup: u64,
    /// `GETATTR`.
    pub getattr: u64,
    /// `OPEN` of a file.
    pub open: u64,
    /// `READ` of a file.
    pub read: u64,
    /// `FLUSH` (each `close` of a file, until the kernel learns the tree needs none).
    pub flush: u64,
    /// `RELEASE` of a file (the last close of an open file description).
    pub release: u64,
    /// `OPENDIR`.
    pub opendir: u64,
    /// `READDIR` and `READDIRPLUS`.
    pub readdir: u64,
    /// `RELEASEDIR`.
    pub releasedir: u64,
    /// `READLINK`.
    pub readlink: u64,
    /// Files whose contents the tree stored into the kernel's page cache ([`crate::Pusher`];
    /// a notification, not a request). Counts stores the kernel ignored too (an inode it did
    /// not hold).
    pub pushed: u64,
}

/// The live counters, shared by the serving threads and the mount's handle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) lookup: AtomicU64,
    pub(crate) getattr: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) read: AtomicU64,
    pub(crate) flush: AtomicU64,
    pub(crate) release: AtomicU64,
    pub(crate) opendir: AtomicU64,
    pub(crate) readdir: AtomicU64,
    pub(crate) releasedir: AtomicU64,
    pub(crate) readlink: AtomicU64,
    pub(crate) pushed: AtomicU64,
}

/// Count one request.
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// The counts now.
    pub(crate) fn snapshot(&self) -> RequestCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestCounts {
            lookup: g(&self.lookup),
            getattr: g(&self.getattr),
            open: g(&self.open),
            read: g(&self.read),
            flush: g(&self.flush),
            release: g(&self.release),
            opendir: g(&self.opendir),
            readdir: g(&self.readdir),
            releasedir: g(&self.releasedir),
            readlink: g(&self.readlink),
            pushed: g(&self.pushed),
        }
    }
}

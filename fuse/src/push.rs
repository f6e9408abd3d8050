//! The [`Pusher`] a mount gives its tree: file contents stored into the kernel's page cache
//! through the session's notification channel (`FUSE_NOTIFY_STORE`).

use std::sync::{Arc, OnceLock};

use fuser::{INodeNo, Notifier};

use crate::stats::{bump, Counters};
use crate::tree::{Errno, Pusher};

/// Stores through the session's [`Notifier`], once the session exists (the tree is given the
/// pusher before the session is built around it; nothing is looked up, so nothing is pushed,
/// before then).
pub(crate) struct KernelPusher {
    notifier: OnceLock<Notifier>,
    counters: Arc<Counters>,
}

impl KernelPusher {
    pub(crate) fn new(counters: Arc<Counters>) -> Self {
        KernelPusher {
            notifier: OnceLock::new(),
            counters,
        }
    }

    /// Connects the pusher to the mounted session.
    pub(crate) fn connect(&self, notifier: Notifier) {
        let _ = self.notifier.set(notifier);
    }
}

impl Pusher for KernelPusher {
    fn push(&self, ino: u64, data: &[u8]) -> Result<(), Errno> {
        let Some(n) = self.notifier.get() else {
            return Ok(());
        };
        if data.is_empty() {
            return Ok(());
        }
        bump(&self.counters.pushed);
        // An inode the kernel does not hold (ENOENT) is reported as success by fuser.
        n.store(INodeNo(ino), 0, data).map_err(|e| {
            tracing::debug!("storing inode {ino} into the page cache: {e}");
            Errno::from(e)
        })
    }
}

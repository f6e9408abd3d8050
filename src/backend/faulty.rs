//! A backend wrapper that injects faults, for tests of export, resume and error handling.
//!
//! Operations (every trait call except `describe`) are numbered from 1 in the order they start.

use super::Backend;
use crate::error::{StorageError, StorageErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A planned fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Operation `op` fails with `kind` (and does nothing).
    FailAt {
        /// Operation number (1-based).
        op: u64,
        /// The error to return.
        kind: StorageErrorKind,
    },
    /// If operation `op` is a write, only its first `keep` bytes are stored under the final name;
    /// then it fails with `kind`, or succeeds silently when `kind` is `None`.
    TruncateWriteAt {
        /// Operation number (1-based).
        op: u64,
        /// Bytes kept.
        keep: usize,
        /// The error returned after the partial write (`None`: report success).
        kind: Option<StorageErrorKind>,
    },
    /// Every operation after the first `after` fails with `Disconnected` until [`FaultyBackend::heal`].
    DisconnectAfter {
        /// Operations that still succeed.
        after: u64,
    },
}

/// Wraps a backend and injects [`Fault`]s.
pub struct FaultyBackend<B: Backend> {
    inner: B,
    ops: AtomicU64,
    faults: Mutex<Vec<Fault>>,
}

enum Verdict {
    Pass,
    Fail(StorageErrorKind),
    Truncate(usize, Option<StorageErrorKind>),
}

impl<B: Backend> FaultyBackend<B> {
    /// Wrap `inner`, with no fault planned.
    pub fn new(inner: B) -> Self {
        FaultyBackend {
            inner,
            ops: AtomicU64::new(0),
            faults: Mutex::new(Vec::new()),
        }
    }

    /// Plan a fault (builder form).
    pub fn with(self, fault: Fault) -> Self {
        self.plan(fault);
        self
    }

    /// Plan a fault.
    pub fn plan(&self, fault: Fault) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fault);
    }

    /// Fail operation `op` (1-based, counted from creation) with `kind`.
    pub fn fail_op(&self, op: u64, kind: StorageErrorKind) {
        self.plan(Fault::FailAt { op, kind });
    }

    /// Store only `keep` bytes of write operation `op`, then fail with `Disconnected`.
    pub fn truncate_write(&self, op: u64, keep: usize) {
        self.plan(Fault::TruncateWriteAt {
            op,
            keep,
            kind: Some(StorageErrorKind::Disconnected),
        });
    }

    /// Drop the connection: every operation after the next `after` ones fails with `Disconnected`.
    pub fn disconnect_after(&self, after: u64) {
        let now = self.ops();
        self.plan(Fault::DisconnectAfter { after: now + after });
    }

    /// Remove every planned fault (the connection is back).
    pub fn heal(&self) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// How many operations have started so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn next(&self) -> Verdict {
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        let faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        for f in faults.iter() {
            match *f {
                Fault::FailAt { op, kind } if op == n => return Verdict::Fail(kind),
                Fault::DisconnectAfter { after } if n > after => {
                    return Verdict::Fail(StorageErrorKind::Disconnected)
                }
                Fault::TruncateWriteAt { op, keep, kind } if op == n => {
                    return Verdict::Truncate(keep, kind)
                }
                _ => {}
            }
        }
        Verdict::Pass
    }

    fn error(&self, kind: StorageErrorKind, what: &str) -> StorageError {
        StorageError::new(
            kind,
            format!("{}/{what}", self.inner.describe()),
            "injected fault",
        )
    }

    fn gate(&self, what: &str) -> Result<(), StorageError> {
        match self.next() {
            Verdict::Fail(kind) => Err(self.error(kind, what)),
            Verdict::Pass | Verdict::Truncate(..) => Ok(()),
        }
    }
}

impl<B: Backend> Backend for FaultyBackend<B> {
    fn describe(&self) -> String {
        format!("faulty {}", self.inner.describe())
    }

    super::guarded_calls!(gate);

    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        match self.next() {
            Verdict::Pass => self.inner.write(name, data),
            Verdict::Fail(kind) => Err(self.error(kind, name)),
            Verdict::Truncate(keep, kind) => {
                self.inner.write(name, &data[..keep.min(data.len())])?;
                match kind {
                    Some(kind) => Err(self.error(kind, name)),
                    None => Ok(()),
                }
            }
        }
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        self.gate(name)?;
        self.inner.delete(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    #[test]
    fn without_faults_it_meets_the_contract() {
        crate::backend::contract::check(&FaultyBackend::new(MemoryBackend::new()));
    }

    #[test]
    fn faults_happen_where_planned() {
        let b = FaultyBackend::new(MemoryBackend::new());
        b.fail_op(2, StorageErrorKind::NoSpace);
        b.write("a", b"1").unwrap();
        assert_eq!(
            b.write("b", b"2").unwrap_err().kind,
            StorageErrorKind::NoSpace
        );
        assert_eq!(b.inner().stat("b").unwrap(), None);
        b.truncate_write(3, 2);
        assert_eq!(
            b.write("c", b"12345").unwrap_err().kind,
            StorageErrorKind::Disconnected
        );
        assert_eq!(b.inner().read("c").unwrap(), b"12");
        b.disconnect_after(1);
        b.stat("a").unwrap();
        assert_eq!(
            b.stat("a").unwrap_err().kind,
            StorageErrorKind::Disconnected
        );
        assert_eq!(b.list("").unwrap_err().kind, StorageErrorKind::Disconnected);
        b.heal();
        assert_eq!(b.read("a").unwrap(), b"1");
    }
}

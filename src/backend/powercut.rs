//! A backend wrapper that loses power at the Nth sync point, for deterministic crash tests
//! (in the manner of redb's crash-consistency tests).
//!
//! A *sync point* is a call that changes what the store durably holds: every [`Backend::write`]
//! and every [`Backend::delete`], numbered from 1 in the order they start. With a cut planned at
//! point `n`:
//! - points `1..n` happen as usual (durable and complete when they return);
//! - point `n` dies half-way, as the process would when the power goes, leaving what a real crash
//!   at that moment leaves (see [`Landing`]) and returning an error;
//! - from then on the store is dead: every call (reads and lists included) fails with an I/O
//!   error, so the operation cannot go on as if nothing happened.
//!
//! Run an operation once with [`PowerCut::counting`] to learn how many sync points it has, then
//! once per point with [`PowerCut::at`], and "reboot" (drop everything, reopen from the inner
//! store) to check what the crash left.

use super::{Backend, TEMP_PREFIX};
use crate::error::{StorageError, StorageErrorKind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// What the sync point the power goes at leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// Power lost after the temporary file was written, before the rename: the object is not
    /// there (or still holds its old bytes), a temporary file holds part of the new bytes. A
    /// delete at this point does not happen.
    BeforeRename,
    /// Power lost after the rename reached the disk but before the call returned (the directory
    /// fsync made it durable, the caller never heard): the object is complete under its name,
    /// yet the caller sees an error. A delete at this point happens.
    AfterRename,
}

/// One sync point as recorded: its number, the call and the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPoint {
    /// 1-based number.
    pub n: u64,
    /// `write` or `delete`.
    pub call: &'static str,
    /// The object's name.
    pub name: String,
}

/// Wraps a backend and loses power at a planned sync point.
pub struct PowerCut<B: Backend> {
    inner: B,
    cut_at: Option<u64>,
    landing: Landing,
    points: AtomicU64,
    dead: AtomicBool,
    calls_after_cut: AtomicU64,
    log: Mutex<Vec<SyncPoint>>,
}

impl<B: Backend> PowerCut<B> {
    /// Never lose power; count (and log) the sync points.
    pub fn counting(inner: B) -> Self {
        Self::build(inner, None, Landing::BeforeRename)
    }

    /// Lose power at sync point `n` (1-based), leaving what `landing` says.
    pub fn at(inner: B, n: u64, landing: Landing) -> Self {
        Self::build(inner, Some(n.max(1)), landing)
    }

    fn build(inner: B, cut_at: Option<u64>, landing: Landing) -> Self {
        PowerCut {
            inner,
            cut_at,
            landing,
            points: AtomicU64::new(0),
            dead: AtomicBool::new(false),
            calls_after_cut: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    /// How many sync points have started (the one the power went at included).
    pub fn sync_points(&self) -> u64 {
        self.points.load(Ordering::SeqCst)
    }

    /// The sync points so far, in order.
    pub fn log(&self) -> Vec<SyncPoint> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the power has gone.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Calls made after the power went (each failed). Many of them mean the operation did not
    /// stop at the first error.
    pub fn calls_after_cut(&self) -> u64 {
        self.calls_after_cut.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn dead_error(&self, what: &str) -> StorageError {
        StorageError::new(
            StorageErrorKind::Io,
            format!("{}/{what}", self.inner.describe()),
            "power lost (simulated crash): the process is gone",
        )
    }

    /// Fail if the power is gone.
    fn alive(&self, what: &str) -> Result<(), StorageError> {
        if self.is_dead() {
            self.calls_after_cut.fetch_add(1, Ordering::SeqCst);
            return Err(self.dead_error(what));
        }
        Ok(())
    }

    /// Number the sync point; true if the power goes at it.
    fn point(&self, call: &'static str, name: &str) -> Result<bool, StorageError> {
        self.alive(name)?;
        let n = self.points.fetch_add(1, Ordering::SeqCst) + 1;
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(SyncPoint {
                n,
                call,
                name: name.to_string(),
            });
        match self.cut_at {
            Some(at) if n == at => {
                self.dead.store(true, Ordering::SeqCst);
                Ok(true)
            }
            // Another thread started a later point before this one's number was compared: the
            // power is already gone for it.
            Some(at) if n > at => {
                self.dead.store(true, Ordering::SeqCst);
                self.calls_after_cut.fetch_add(1, Ordering::SeqCst);
                Err(self.dead_error(name))
            }
            _ => Ok(false),
        }
    }

    /// Where a temporary file for `name` goes: its directory, under a temporary name.
    fn temp_name(name: &str, n: u64) -> String {
        match name.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{TEMP_PREFIX}powercut-{n}"),
            None => format!("{TEMP_PREFIX}powercut-{n}"),
        }
    }
}

impl<B: Backend> Backend for PowerCut<B> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    super::guarded_calls!(alive);

    fn write(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        if !self.point("write", name)? {
            return self.inner.write(name, data);
        }
        match self.landing {
            Landing::BeforeRename => {
                // Half of the bytes reached the temporary file; the rename never happened.
                let n = self.sync_points();
                self.inner
                    .write(&Self::temp_name(name, n), &data[..data.len() / 2])?;
            }
            Landing::AfterRename => self.inner.write(name, data)?,
        }
        Err(self.dead_error(name))
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        if !self.point("delete", name)? {
            return self.inner.delete(name);
        }
        if self.landing == Landing::AfterRename {
            self.inner.delete(name)?;
        }
        Err(self.dead_error(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LocalBackend;

    #[test]
    fn counting_meets_the_contract_and_counts_writes_and_deletes() {
        let d = tempfile::tempdir().unwrap();
        let b = PowerCut::counting(LocalBackend::new(d.path()));
        crate::backend::contract::check(&b);
        // contract::check: 4 writes, 2 deletes
        assert_eq!(b.sync_points(), 6);
        let log = b.log();
        assert_eq!(
            (log[0].call, log[0].name.as_str()),
            ("write", "data/ab/ab01")
        );
        assert_eq!(log[5].call, "delete");
        assert!(!b.is_dead());
    }

    #[test]
    fn before_rename_leaves_only_a_hidden_temporary_file_and_kills_every_later_call() {
        let d = tempfile::tempdir().unwrap();
        let b = PowerCut::at(LocalBackend::new(d.path()), 2, Landing::BeforeRename);
        b.write("data/ab/one", b"first").unwrap();
        let err = b.write("data/ab/two", b"second!!").unwrap_err();
        assert!(err.detail.contains("power lost"), "{err}");
        assert!(b.is_dead());
        assert!(b.read("data/ab/one").is_err());
        assert!(b.list("").is_err());
        assert!(b.delete("data/ab/one").is_err());
        assert_eq!(b.calls_after_cut(), 3);
        // what the disk holds after the "reboot"
        let disk = LocalBackend::new(d.path());
        let names: Vec<String> = disk.list("").unwrap().into_iter().map(|o| o.name).collect();
        assert_eq!(names, ["data/ab/one"]);
        let temp = d.path().join("data/ab/.tmp-powercut-2");
        assert_eq!(std::fs::read(&temp).unwrap(), b"seco");
        assert_eq!(disk.clean_temp().unwrap(), 1);
    }

    #[test]
    fn after_rename_lands_the_object_but_reports_the_crash() {
        let d = tempfile::tempdir().unwrap();
        let b = PowerCut::at(LocalBackend::new(d.path()), 2, Landing::AfterRename);
        b.write("keys/k", b"key").unwrap();
        assert!(b.delete("keys/k").is_err());
        assert!(b.write("keys/other", b"x").is_err());
        let disk = LocalBackend::new(d.path());
        assert_eq!(disk.stat("keys/k").unwrap(), None);
        assert_eq!(disk.stat("keys/other").unwrap(), None);

        let d = tempfile::tempdir().unwrap();
        let b = PowerCut::at(LocalBackend::new(d.path()), 1, Landing::AfterRename);
        assert!(b.write("config", b"cfg").is_err());
        assert_eq!(LocalBackend::new(d.path()).read("config").unwrap(), b"cfg");
    }

    #[test]
    fn a_delete_before_the_cut_does_not_happen() {
        let d = tempfile::tempdir().unwrap();
        LocalBackend::new(d.path()).write("keys/k", b"key").unwrap();
        let b = PowerCut::at(LocalBackend::new(d.path()), 1, Landing::BeforeRename);
        assert!(b.delete("keys/k").is_err());
        assert_eq!(LocalBackend::new(d.path()).stat("keys/k").unwrap(), Some(3));
    }
}

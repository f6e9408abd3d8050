//! Progress counters shared between a job's threads and whoever displays them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of a long job; updated lock-free, read by a progress bar or the job record.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files done.
    pub files: AtomicU64,
    /// Bytes read (backup) or written (restore) or checked (verify).
    pub bytes: AtomicU64,
    /// Bytes expected in all, if known (0 = unknown).
    pub total: AtomicU64,
    /// Set to ask the job to stop early (shutdown of `cairn serve`).
    pub cancel: std::sync::atomic::AtomicBool,
    /// What the job worked around (a file left out, ...), for the job record under
    /// `REPO/local` only: these texts name files and never go into a repository object.
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl Progress {
    /// Count a file of `bytes`.
    pub fn file(&self, bytes: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Count bytes.
    pub fn add(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Record a warning for the job.
    pub fn warn(&self, w: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(w);
    }

    /// Take the warnings recorded so far (a long-lived `Progress` serves one job after another).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Fail with an error if the job was asked to stop.
    pub fn check_cancel(&self) -> crate::Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(crate::Error::failed(
                "the job was interrupted by a shutdown request",
                "it runs again at its next scheduled time; nothing half-done was committed",
            ));
        }
        Ok(())
    }

    /// (files, bytes, total)
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.files.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

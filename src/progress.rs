//! Progress counters shared between a job's threads and whoever displays them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A cancellation token: cheap to clone, every clone sees the same request. Operations check it
/// between steps ([`Cancel::check`]); `cairn serve` sets it from SIGTERM/SIGINT.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token nobody has cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask every holder of this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself (for a loop that waits on an `AtomicBool`, or a signal handler).
    pub fn flag(&self) -> &Arc<AtomicBool> {
        &self.0
    }

    /// Set this token when any of `signals` arrives (the handler only sets the flag; the
    /// operations see it at their next check). `cairn serve` passes [`SHUTDOWN_SIGNALS`].
    pub fn on_signals(&self, signals: &[i32]) -> crate::Result<()> {
        for &sig in signals {
            signal_hook::flag::register(sig, self.0.clone())
                .map_err(|e| crate::Error::io("installing the signal handlers", e))?;
        }
        Ok(())
    }

    /// Like [`Cancel::on_signals`], for a command run by hand: the first signal asks the job to
    /// stop (so `cairn backup` releases the services it prepared), a second one ends the
    /// process at once (exit 130).
    pub fn on_signals_twice_to_exit(&self, signals: &[i32]) -> crate::Result<()> {
        for &sig in signals {
            signal_hook::flag::register_conditional_shutdown(sig, 130, self.0.clone())
                .map_err(|e| crate::Error::io("installing the signal handlers", e))?;
        }
        self.on_signals(signals)
    }

    /// Fail with an error if stopping was asked for.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            return Err(crate::Error::failed(
                "the job was interrupted by a shutdown request",
                "it runs again at its next scheduled time; nothing half-done was committed",
            ));
        }
        Ok(())
    }
}

/// The signals that ask a long-running front end (`cairn serve`) to stop: SIGTERM and SIGINT.
pub const SHUTDOWN_SIGNALS: [i32; 2] = [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT];

/// Counters of a long job; updated lock-free, read by a progress bar or the job record.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files done.
    pub files: AtomicU64,
    /// Bytes read (backup) or written (restore) or checked (verify).
    pub bytes: AtomicU64,
    /// Bytes expected in all, if known (0 = unknown).
    pub total: AtomicU64,
    /// Set to ask the job to stop early (shutdown of `cairn serve`); shared with the operation's context.
    pub cancel: Cancel,
    /// What the job worked around (a file left out, ...), for the job record under
    /// `REPO/local` only: these texts name files and never go into a repository object.
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl Progress {
    /// Counters for a job that stops when `cancel` is set.
    pub fn with_cancel(cancel: Cancel) -> Self {
        Progress {
            cancel,
            ..Default::default()
        }
    }

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

    /// How many warnings are recorded (and not taken yet).
    pub fn warning_count(&self) -> usize {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Take the warnings recorded so far (a long-lived `Progress` serves one job after another).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Fail with an error if the job was asked to stop.
    pub fn check_cancel(&self) -> crate::Result<()> {
        self.cancel.check()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sets_the_cancel_token() {
        let cancel = Cancel::new();
        cancel.on_signals(&[signal_hook::consts::SIGUSR2]).unwrap();
        assert!(cancel.check().is_ok());
        signal_hook::low_level::raise(signal_hook::consts::SIGUSR2).unwrap();
        assert!(cancel.is_cancelled());
        assert!(cancel.check().is_err());
    }
}

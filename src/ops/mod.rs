//! The operations: one function per thing an operator (or the scheduler) asks of cairn. Every
//! front end (the CLI, `cairn serve`, the management API) calls these and only prints or serves
//! the typed reports they return.
//!
//! Each operation takes one [`Context`] (the repository, who asked, a [`Sink`] for progress,
//! notes and warnings, a [`Cancel`] token) and runs as a recorded [`Job`]: writers (backup,
//! export, prune, key rotation, recovery) hold the repository lease exclusively; readers (verify,
//! restore) hold it shared ([`Job::begin_shared`]): together, but never beside a writer.
//!
//! ```no_run
//! use cairn::ops::{self, Context};
//! # fn main() -> cairn::Result<()> {
//! let cx = Context::new("/var/lib/cairn");
//! let b = ops::backup(&cx)?; // and its export, when a target is set
//! let v = ops::verify(&cx, &ops::VerifyOptions::default())?;
//! assert!(v.report.clean());
//! # let _ = b; Ok(()) }
//! ```

mod backup;
pub mod chunk_choice;
mod doctor;
mod export;
mod keys;
mod leftovers;
mod listing;
mod prune;
mod recipients;
mod recover;
mod restore;
mod services;
mod target;
mod tick;
mod verify;

pub use crate::progress::{Cancel, SHUTDOWN_SIGNALS};
pub use backup::{backup, BackupReport};
pub use chunk_choice::ChunkChoice;
pub use doctor::doctor;
pub use export::{export, ExportOutcome};
pub use keys::{generate_key, key_list, rotate_keys, BackupKeys, EpochKeys, KeyList, RotateReport};
pub use listing::{backup_json, list_backups, show_backup, BackupDetail, BackupEntry, BackupList};
pub use prune::{prune, PruneOutcome};
pub use recipients::recipients;
pub use recover::recover;
pub use restore::{restore, RestoreOutcome};
pub use services::{add_service, remove_service, services, set_service};
pub use target::{clear_target, set_target, target};
pub use tick::{on_target, serve, tick};
pub use verify::{verify, VerifyOptions, VerifyOutcome};

use crate::controller::Controller;
use crate::jobs::{Job, JobKind, JobRecord, Trigger};
use crate::progress::Progress;
use crate::{Error, Result};
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Where an operation reports as it goes. Every method has a silent default; texts may hold
/// names from outside (files, services, the share), so a printer escapes them.
///
/// `Send + Sync`: one [`Context`] (and its sink) may be shared by the tasks of a server, and an
/// operation may report from its worker threads.
pub trait Sink: Send + Sync {
    /// A phase of the operation (`backup`, `export`, `verify`, ...) starts counting on
    /// `progress`; whatever is returned (a progress bar) is dropped when the phase ends.
    fn phase(&self, _name: &str, _progress: &Arc<Progress>) -> Option<PhaseGuard> {
        None
    }
    /// Something the operator may want to know (an earlier job was interrupted, ...).
    fn note(&self, _text: &str) {}
    /// Something the operation worked around, or bookkeeping that failed.
    fn warn(&self, _text: &str) {}
    /// A job was recorded as running.
    fn started(&self, _job: &JobRecord) {}
    /// A job ended (`error` is its failure).
    fn finished(&self, _job: &JobRecord, _error: Option<&Error>) {}
}

/// What a sink keeps for the length of a phase (a progress bar), dropped when it ends; `Send`,
/// so an operation may end its phase on another thread than it began.
pub type PhaseGuard = Box<dyn Any + Send>;

/// A sink that says nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Sink for Silent {}

/// What every operation runs with. `Send + Sync`: a server shares one context across its tasks
/// (the repository is opened once, by whichever uses it first).
pub struct Context<'a> {
    root: PathBuf,
    ctl: OnceLock<Controller>,
    /// Who asked: `manual` (a command) or `schedule` (`cairn serve`).
    pub trigger: Trigger,
    /// Where progress, notes and warnings go.
    pub sink: &'a dyn Sink,
    /// Set to stop the operation early.
    pub cancel: Cancel,
}

impl<'a> Context<'a> {
    /// A manual, silent context for the repository at `root` (opened on first use).
    pub fn new(root: impl AsRef<Path>) -> Context<'static> {
        Context {
            root: root.as_ref().to_path_buf(),
            ctl: OnceLock::new(),
            trigger: Trigger::Manual,
            sink: &Silent,
            cancel: Cancel::new(),
        }
    }

    /// The same, reporting to `sink`.
    pub fn with_sink<'b>(self, sink: &'b dyn Sink) -> Context<'b> {
        Context {
            root: self.root,
            ctl: self.ctl,
            trigger: self.trigger,
            sink,
            cancel: self.cancel,
        }
    }

    /// The same, for jobs started by `trigger`.
    pub fn with_trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// The same, stopping when `cancel` is set.
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    /// The repository directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The controller's private state directory (`REPO/local`).
    pub fn local(&self) -> PathBuf {
        self.root.join("local")
    }

    /// The internal repository, opened once.
    pub fn controller(&self) -> Result<&Controller> {
        if let Some(c) = self.ctl.get() {
            return Ok(c);
        }
        let c = Controller::open(&self.root)?;
        Ok(self.ctl.get_or_init(|| c))
    }

    /// Fresh counters for a phase named `name`, tied to the cancel token, and the sink's guard
    /// for it (drop it when the phase ends).
    pub fn phase(&self, name: &str) -> (Arc<Progress>, Option<PhaseGuard>) {
        let p = Arc::new(Progress::with_cancel(self.cancel.clone()));
        let guard = self.sink.phase(name, &p);
        (p, guard)
    }

    /// Start a job of `kind`, holding the lease exclusive (a writer) or shared (a reader).
    fn begin(&self, kind: JobKind, exclusive: bool) -> Result<Job> {
        let local = self.local();
        let job = if exclusive {
            Job::begin(&local, kind, self.trigger)?
        } else {
            Job::begin_shared(&local, kind, self.trigger)?
        };
        if let Some(j) = job.interrupted() {
            self.sink.note(&format!(
                "{} job {} was interrupted (its process died); its leftovers are reclaimed",
                j.kind, j.id
            ));
        }
        if exclusive {
            self.release_leftovers();
        }
        self.sink.started(job.record());
        Ok(job)
    }

    /// End `job` with `outcome`: record it, raise or clear alerts, tell the sink.
    fn finish<T>(&self, job: Job, outcome: &Result<T>) {
        let done = job.finish(outcome);
        self.finished(done, outcome.as_ref().err());
    }

    fn finished(&self, done: crate::jobs::Finished, err: Option<&Error>) {
        for w in &done.warnings {
            self.sink.warn(w);
        }
        self.sink.finished(&done.record, err);
    }

    /// Record progress or figures on `job` ([`Job::progress`]); a failure to write the record
    /// only warns (the job's own outcome stands).
    fn record(&self, job: &mut Job, f: impl FnOnce(&mut JobRecord)) {
        if let Err(e) = job.progress(f) {
            self.sink.warn(&format!("job record not updated: {e}"));
        }
    }

    /// Run `work` as a job of `kind` (see [`Context::begin`]).
    fn run_job<T>(
        &self,
        kind: JobKind,
        exclusive: bool,
        work: impl FnOnce(&mut Job) -> Result<T>,
    ) -> Result<T> {
        let mut job = self.begin(kind, exclusive)?;
        let out = self.cancel.check().and_then(|()| work(&mut job));
        self.finish(job, &out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync>(_: &T) {}

    #[test]
    fn a_context_is_shared_across_threads_and_opens_the_repository_once() {
        let dir = tempfile::tempdir().unwrap();
        let cx = Context::new(dir.path());
        shareable(&cx);
        // two threads ask at once: both see the same failure (no repository), neither panics
        std::thread::scope(|s| {
            let a = s.spawn(|| cx.controller().map(|_| ()).is_err());
            let b = s.spawn(|| cx.controller().map(|_| ()).is_err());
            assert!(a.join().unwrap() && b.join().unwrap());
        });
        assert_eq!(cx.local(), dir.path().join("local"));
        // a phase may end on another thread than it began
        let (_progress, guard) = cx.phase("verify");
        std::thread::spawn(move || drop(guard)).join().unwrap();
    }
}

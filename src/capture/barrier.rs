//! The barrier: every service's prepare hook runs at once; capture begins only when all of them
//! succeeded; each service is released once, as soon as its capture ends, and always once its
//! prepare succeeded (also when the backup fails or is cancelled).

use super::hooks::{Failure, Hook, Phase};
use super::pending::Pending;
use crate::backup::now_ms;
use crate::error::{Error, Result, ServiceCause};
use crate::format::manifest::{Phases, Span};
use crate::progress::Progress;
use crate::service::ServiceDef;
use std::path::Path;
use std::sync::Mutex;

/// Where one service stands.
#[derive(Debug, Default, Clone)]
struct Slot {
    prepared: bool,
    released: bool,
    capture_path: Option<String>,
    phases: Phases,
}

/// The hooks of one backup's services (index = the service's position in `services`).
pub struct Barrier<'a> {
    services: &'a [ServiceDef],
    backup_id: &'a str,
    progress: &'a Progress,
    pending: Pending,
    slots: Mutex<Vec<Slot>>,
    errors: Mutex<Vec<Error>>,
}

impl<'a> Barrier<'a> {
    /// Record (under `local`) the services that will need a release, before any hook runs.
    pub fn new(
        local: &Path,
        services: &'a [ServiceDef],
        backup_id: &'a str,
        progress: &'a Progress,
    ) -> Result<Self> {
        Ok(Barrier {
            services,
            backup_id,
            progress,
            pending: Pending::begin(local, backup_id, services)?,
            slots: Mutex::new(vec![Slot::default(); services.len()]),
            errors: Mutex::new(Vec::new()),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run every prepare hook at once and wait for all. If any failed, timed out or the backup
    /// was cancelled, release the services that were prepared and return the error of the
    /// first failing service (in the configured order).
    pub fn prepare_all(&self) -> Result<()> {
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let running: Vec<_> = (0..self.services.len())
                .map(|i| scope.spawn(move || self.prepare(i)))
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::failed(
                            "a prepare hook's thread panicked",
                            "report a bug",
                        ))
                    })
                })
                .collect()
        });
        if let Some(e) = results.into_iter().find_map(Result::err) {
            self.release_all();
            return Err(e);
        }
        self.progress.check_cancel()
    }

    fn prepare(&self, i: usize) -> Result<()> {
        let s = &self.services[i];
        let Some(cmd) = &s.prepare else {
            let mut slots = self.slots();
            slots[i].prepared = true;
            slots[i].capture_path = s.capture_path.clone();
            return Ok(());
        };
        let start_ms = now_ms();
        let stop = || self.progress.check_cancel().is_err();
        let outcome = self.hook(s, cmd, Phase::Prepare, None).run(&stop);
        let mut slots = self.slots();
        slots[i].phases.prepare = Some(Span {
            start_ms,
            end_ms: now_ms(),
        });
        match outcome {
            Ok(done) => {
                slots[i].prepared = true;
                slots[i].capture_path = done.capture_path.or_else(|| s.capture_path.clone());
                Ok(())
            }
            Err(Failure::Cancelled) => self.progress.check_cancel(),
            Err(f) => Err(self.failed(s, Phase::Prepare, f)),
        }
    }

    fn hook(
        &self,
        s: &'a ServiceDef,
        cmd: &'a str,
        phase: Phase,
        captured: Option<&'a str>,
    ) -> Hook<'a> {
        Hook {
            cmd,
            service: s,
            backup_id: self.backup_id,
            phase,
            captured,
            limit: super::limit(s),
        }
    }

    /// The error for service `s`'s failed hook; the end of its error output goes to the job
    /// record (as a warning), never into the error.
    fn failed(&self, s: &ServiceDef, phase: Phase, f: Failure) -> Error {
        if let Failure::Exit(_, excerpt) = &f {
            if !excerpt.is_empty() {
                self.progress.warn(format!(
                    "{}: the end of its {} hook's error output: {excerpt}",
                    s.name,
                    phase.as_str()
                ));
            }
        }
        let cause = match (phase, &f) {
            (Phase::Release, _) => ServiceCause::ReleaseFailed,
            (Phase::Prepare, Failure::TimedOut(_)) => ServiceCause::PrepareTimedOut,
            (Phase::Prepare, _) => ServiceCause::PrepareFailed,
        };
        Error::service(&s.name, cause, f.describe(phase))
    }

    /// The directory to capture for service `i` instead of its configured path, if any.
    pub fn capture_path(&self, i: usize) -> Option<String> {
        self.slots()[i].capture_path.clone()
    }

    /// Record when service `i`'s capture ran.
    pub fn captured(&self, i: usize, span: Span) {
        self.slots()[i].phases.capture = Some(span);
    }

    /// Release service `i` now if it was prepared and not yet released (its release hook, if
    /// it has one, runs once). A failure is kept for [`Barrier::finish`].
    pub fn release(&self, i: usize) {
        let s = &self.services[i];
        let captured = {
            let mut slots = self.slots();
            if !slots[i].prepared || slots[i].released {
                return;
            }
            slots[i].released = true;
            slots[i].capture_path.clone()
        };
        let Some(cmd) = &s.release else { return };
        let start_ms = now_ms();
        let live = s.path.as_deref();
        let outcome = self
            .hook(s, cmd, Phase::Release, captured.as_deref().or(live))
            .run(&|| false);
        self.slots()[i].phases.release = Some(Span {
            start_ms,
            end_ms: now_ms(),
        });
        if let Err(e) = self.pending.released(&s.name) {
            self.progress.warn(format!("{}: released, but {e}", s.name));
        }
        if let Err(f) = outcome {
            let e = self.failed(s, Phase::Release, f);
            self.errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e);
        }
    }

    fn release_all(&self) {
        for i in 0..self.services.len() {
            self.release(i);
        }
    }

    /// Release every service still prepared and clear the "prepared" record; the phases of
    /// each service, and the first release that failed (the others become warnings).
    pub fn finish(self) -> (Vec<Phases>, Result<()>) {
        self.release_all();
        let cleared = self.pending.clear();
        let phases = self.slots().iter().map(|s| s.phases).collect();
        let errors = std::mem::take(&mut *self.errors.lock().unwrap_or_else(|p| p.into_inner()));
        let mut errors = errors.into_iter();
        let outcome = match errors.next() {
            Some(e) => Err(e),
            None => cleared,
        };
        for e in errors {
            self.progress.warn(e.to_string());
        }
        (phases, outcome)
    }
}

/// A barrier dropped without [`Barrier::finish`] (a panic) still releases what it prepared.
impl Drop for Barrier<'_> {
    fn drop(&mut self) {
        self.release_all();
    }
}

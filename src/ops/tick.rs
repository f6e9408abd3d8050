//! The scheduler's tick: one planned action run as a scheduled job, and the loop of `cairn serve`.

use super::Context;
use crate::jobs::{raise_alert, Diagnosis, History, Trigger};
use crate::schedule::{self, Action, Done, Runner, ScheduleConfig, ScheduleState};
use crate::Result;
use std::sync::atomic::AtomicBool;

/// Run one scheduled `action` as a job (trigger `schedule`, under the lease: a busy repository
/// fails the run, which the planner retries with backoff) through the same operations the
/// commands use. A backup exports only when the planner runs the export.
pub fn tick(cx: &Context, cfg: &ScheduleConfig, action: &Action) -> Result<Done> {
    cx.cancel.check()?;
    cx.controller()?;
    match action {
        Action::Backup => {
            cx.run_job(action.kind(), true, |job| {
                super::backup::backup_job(cx, job).0
            })?;
            let ctl = cx.controller()?;
            Ok(Done {
                export_needed: crate::target::TargetConfig::load(&ctl.root)?.is_some(),
            })
        }
        Action::Export => cx.run_job(action.kind(), true, |job| {
            super::backup::export_work(cx, job).map(|_| Done::default())
        }),
        Action::Prune => {
            let o = super::prune(cx, &cfg.retention(), false)?;
            match o.target_error {
                Some(e) => Err(e),
                None => Ok(Done::default()),
            }
        }
        // A reader: the lease shared, like a manual verify (a restore may run beside it).
        Action::Verify { slice, slices } => cx.run_job(action.kind(), false, |_| {
            let (progress, _bar) = cx.phase("verify");
            schedule::verify_both(cx.controller()?, &progress, *slice, *slices)?;
            Ok(Done::default())
        }),
    }
}

/// The scheduler's [`Runner`]: each action through [`tick`], the stale-backup alert raised.
struct Scheduler<'c, 'a> {
    cx: &'c Context<'a>,
    cfg: ScheduleConfig,
}

impl<'c, 'a> Scheduler<'c, 'a> {
    /// A runner for `cx` (whose trigger should be `schedule`) keeping `cfg`.
    fn new(cx: &'c Context<'a>, cfg: ScheduleConfig) -> Self {
        Scheduler { cx, cfg }
    }
}

impl Runner for Scheduler<'_, '_> {
    fn run(&mut self, action: &Action, _shutdown: &AtomicBool) -> Result<Done> {
        tick(self.cx, &self.cfg, action)
    }

    fn stale(&mut self, diagnosis: &Diagnosis) {
        match raise_alert(&self.cx.local(), diagnosis, false) {
            Ok((_, warnings)) => warnings.iter().for_each(|w| self.cx.sink.warn(w)),
            Err(e) => self
                .cx
                .sink
                .warn(&format!("stale-backup alert not raised: {e}")),
        }
    }
}

/// Whether a target is set and some backup is not on it yet.
fn export_pending(ctl: &crate::controller::Controller) -> bool {
    if crate::target::TargetConfig::load(&ctl.root)
        .ok()
        .flatten()
        .is_none()
    {
        return false;
    }
    let exported = crate::remote::exported(&ctl.root).unwrap_or_default();
    ctl.repo
        .manifests()
        .map(|(m, _)| m.iter().any(|m| !exported.contains(&m.id)))
        .unwrap_or(true)
}

/// Where each backup is stored on the target: a function of the backup id giving `None` when
/// no target is set, else whether the target held it at the last export.
pub fn on_target(ctl: &crate::controller::Controller) -> impl Fn(&str) -> Option<bool> {
    let set = crate::target::TargetConfig::load(&ctl.root)
        .ok()
        .flatten()
        .is_some();
    let exported = crate::remote::exported(&ctl.root).unwrap_or_default();
    move |id: &str| set.then(|| exported.contains(id))
}

/// Keep the schedule `cfg` until the context's cancel token is set: one job at a time, each
/// through [`tick`] as a scheduled job. Returns once the running job (if any) has stopped.
pub fn serve(cx: &Context, cfg: &ScheduleConfig) -> Result<()> {
    let cx_sched;
    let cx = if cx.trigger == Trigger::Schedule {
        cx
    } else {
        cx_sched = Context {
            root: cx.root.clone(),
            ctl: std::sync::OnceLock::new(),
            trigger: Trigger::Schedule,
            sink: cx.sink,
            cancel: cx.cancel.clone(),
        };
        &cx_sched
    };
    let ctl = cx.controller()?;
    let jobs = History::new(&cx.local()).list(10_000)?;
    let mut state = ScheduleState::from_history(&jobs, chrono::Utc::now());
    state.export_pending = export_pending(ctl);
    let mut runner = Scheduler::new(cx, *cfg);
    schedule::serve(
        cfg,
        &mut state,
        &mut runner,
        &schedule::SystemClock,
        cx.cancel.flag(),
    );
    Ok(())
}

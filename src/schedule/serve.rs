//! The scheduler loop behind `cairn serve`: one job at a time, on the plan, until shut down.

use super::{plan, stale, stale_at, Action, Done, ScheduleConfig, ScheduleState};
use crate::jobs::Diagnosis;
use crate::Result;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs the jobs the scheduler asks for. `cairn serve` ([`crate::ops::serve`]) runs each through
/// [`crate::ops::tick`] as a recorded job (trigger `schedule`).
pub trait Runner {
    /// Run one job. A long job should check `shutdown` now and then and stop early (returning an
    /// error) once it is set.
    fn run(&mut self, action: &Action, shutdown: &AtomicBool) -> Result<Done>;

    /// Backups have gone stale: raise the alert (e.g. [`Alerts::raise_diagnosis`](crate::jobs::Alerts::raise_diagnosis)
    /// and notify). Called once each time backups go stale; a successful backup clears it.
    fn stale(&mut self, diagnosis: &Diagnosis);
}

/// Time, for the loop: the system's, or a fake one in tests.
pub trait Clock {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Sleep until `t`, or less: return early once `shutdown` is set.
    fn sleep_until(&self, t: DateTime<Utc>, shutdown: &AtomicBool);
}

/// The system clock; sleeps in short steps to notice a shutdown quickly.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>, shutdown: &AtomicBool) {
        while !shutdown.load(Ordering::SeqCst) {
            let Ok(left) = (t - Utc::now()).to_std() else {
                return;
            };
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(Duration::from_millis(200)));
        }
    }
}

/// Longest sleep between two looks at the plan (so a changed clock or state is noticed).
const MAX_NAP: Duration = Duration::from_secs(300);

/// Run the schedule until `shutdown` is set: plan, sleep until the next job is due, run it,
/// record its outcome in `state`, again. One job at a time; a job's failure does not stop the
/// loop (the job's own bookkeeping records and alerts it). Returns when `shutdown` is set,
/// between jobs or after the running job stopped.
pub fn serve(
    config: &ScheduleConfig,
    state: &mut ScheduleState,
    runner: &mut dyn Runner,
    clock: &dyn Clock,
    shutdown: &AtomicBool,
) {
    let mut stale_raised = false;
    while !shutdown.load(Ordering::SeqCst) {
        let now = clock.now();
        match stale(config, state, now) {
            Some(d) if !stale_raised => {
                runner.stale(&d);
                stale_raised = true;
            }
            Some(_) => {}
            None => stale_raised = false,
        }
        let next = plan(config, state, now);
        if next.at > now {
            let mut wake = next.at.min(now + MAX_NAP);
            let stale_time = stale_at(config, state);
            if !stale_raised && stale_time > now {
                wake = wake.min(stale_time + Duration::from_secs(1));
            }
            clock.sleep_until(wake, shutdown);
            continue;
        }
        let outcome = runner.run(&next.action, shutdown);
        if shutdown.load(Ordering::SeqCst) {
            break; // cut short: not a failure to back off from; the next start re-plans
        }
        state.record(&next.action, now, &outcome);
    }
}

//! [`JobRunner`]: the scheduler's [`Runner`] that runs each action as a recorded job.

use super::{Action, Done, Runner};
use crate::jobs::{raise_alert, Diagnosis, Job, Trigger};
use crate::Result;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Runs each scheduled action as a [`Job`] (trigger `schedule`): takes the lease (a busy
/// repository fails the run, which the planner retries with backoff), records it, lets `work` do
/// the job, finishes it (alerts, notifications), and raises the stale-backup alert when asked.
/// `work` gets the action, the running job (for [`Job::progress`]) and the shutdown flag.
pub struct JobRunner<F> {
    local: PathBuf,
    work: F,
}

impl<F> JobRunner<F>
where
    F: FnMut(&Action, &mut Job, &AtomicBool) -> Result<Done>,
{
    /// A runner for the repository whose private state directory is `local_dir` (`REPO/local`).
    pub fn new(local_dir: &Path, work: F) -> Self {
        JobRunner {
            local: local_dir.to_path_buf(),
            work,
        }
    }
}

impl<F> Runner for JobRunner<F>
where
    F: FnMut(&Action, &mut Job, &AtomicBool) -> Result<Done>,
{
    fn run(&mut self, action: &Action, shutdown: &AtomicBool) -> Result<Done> {
        let mut job = Job::begin(&self.local, action.kind(), Trigger::Schedule)?;
        let outcome = (self.work)(action, &mut job, shutdown);
        let done = job.finish(&outcome);
        for w in &done.warnings {
            tracing::warn!("{} job {}: {w}", done.record.kind, done.record.id);
        }
        outcome
    }

    fn stale(&mut self, diagnosis: &Diagnosis) {
        match raise_alert(&self.local, diagnosis, false) {
            Ok((_, warnings)) => warnings.iter().for_each(|w| tracing::warn!("{w}")),
            Err(e) => tracing::warn!("stale-backup alert not raised: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{StorageError, StorageErrorKind};
    use crate::jobs::{Alerts, History, JobKind, JobState};
    use crate::Error;
    use std::sync::atomic::Ordering;

    #[test]
    fn scheduled_jobs_are_recorded_and_raise_and_clear_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let mut exports = 0;
        let mut runner = JobRunner::new(local, |action: &Action, job: &mut Job, _: &AtomicBool| {
            job.progress(|r| r.bytes_read += 1)?;
            match action {
                Action::Export => {
                    exports += 1;
                    if exports == 1 {
                        return Err(Error::Storage(StorageError::new(
                            StorageErrorKind::LogonFailure,
                            "smb://nas/b",
                            "STATUS_LOGON_FAILURE",
                        )));
                    }
                    Ok(Done::default())
                }
                _ => Ok(Done {
                    export_needed: true,
                }),
            }
        });
        let stop = AtomicBool::new(false);
        runner.run(&Action::Backup, &stop).unwrap();
        assert!(runner.run(&Action::Export, &stop).is_err());
        let active = Alerts::new(local).active().unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(
            (active[0].subject.as_str(), active[0].cause.as_str()),
            ("target", "logon_failure")
        );
        runner.run(&Action::Export, &stop).unwrap();
        assert!(Alerts::new(local).active().unwrap().is_empty());
        let jobs = History::new(local).list(10).unwrap();
        let seen: Vec<_> = jobs
            .iter()
            .map(|j| (j.kind, j.state, j.trigger, j.bytes_read))
            .collect();
        assert_eq!(
            seen,
            [
                (JobKind::Export, JobState::Succeeded, Trigger::Schedule, 1),
                (JobKind::Export, JobState::Failed, Trigger::Schedule, 1),
                (JobKind::Backup, JobState::Succeeded, Trigger::Schedule, 1),
            ]
        );
        // A manual job holding the lease makes the scheduled run fail as busy, unrecorded.
        let manual = Job::begin(local, JobKind::Prune, Trigger::Manual).unwrap();
        let e = runner.run(&Action::Backup, &stop).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        drop(manual);
        assert!(!stop.load(Ordering::SeqCst));
    }
}

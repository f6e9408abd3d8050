//! [`Job`]: the whole bookkeeping around one job, in the right order.

use super::alerts::{Alert, Alerts};
use super::catalogue::Diagnosis;
use super::history::{History, JobId, JobRecord, Trigger};
use super::lease::Lease;
use super::notify::{EventKind, Notifier};
use super::state::with_state;
use super::JobKind;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// A running job: its lease (exclusive for writing jobs, shared for reading ones), its history record, and on [`Job::finish`] its
/// alerts and notifications.
#[derive(Debug)]
pub struct Job {
    local: PathBuf,
    record: JobRecord,
    interrupted: Option<JobRecord>,
    clears: Option<Vec<String>>,
    finished: bool,
    // Dropped last, after the record is final.
    lease: Option<Lease>,
}

/// What [`Job::finish`] did.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The job's final record.
    pub record: JobRecord,
    /// The alert the failure raised (or updated).
    pub raised: Option<Alert>,
    /// The alerts the success cleared.
    pub cleared: Vec<Alert>,
    /// Bookkeeping that went wrong (history, alerts, notifier): to print as warnings; never a
    /// reason to change the job's own outcome.
    pub warnings: Vec<String>,
}

impl Job {
    /// Start a writing job (backup, export, prune, recover, ...): take the repository lease
    /// (fails at once with [`Error::Busy`] if another job holds it), mark the job of a holder
    /// that died `interrupted`, and record this one as `running`.
    pub fn begin(local_dir: &Path, kind: JobKind, trigger: Trigger) -> Result<Job> {
        let id = JobId::new();
        let lease = Lease::acquire(local_dir, kind, &id)?;
        let history = History::new(local_dir);
        let interrupted = match lease.previous() {
            Some(prev) => history.mark_interrupted(&prev.job_id)?,
            None => None,
        };
        let record = history.start(&id, kind, trigger)?;
        Ok(Job {
            local: local_dir.to_path_buf(),
            record,
            interrupted,
            clears: None,
            finished: false,
            lease: Some(lease),
        })
    }

    /// Start a reading job (a verify or a restore, which write nothing to the repository;
    /// `cairn::ops` starts them so): take the lease shared (fails at once with [`Error::Busy`]
    /// if a writing job holds it; other readers may hold it too) and record the job as
    /// `running`. While it runs no writer can start, so a prune cannot delete what it reads.
    pub fn begin_shared(local_dir: &Path, kind: JobKind, trigger: Trigger) -> Result<Job> {
        let id = JobId::new();
        let lease = Lease::acquire_shared(local_dir, kind, &id)?;
        let record = History::new(local_dir).start(&id, kind, trigger)?;
        Ok(Job {
            local: local_dir.to_path_buf(),
            record,
            interrupted: None,
            clears: None,
            finished: false,
            lease: Some(lease),
        })
    }

    /// The job's id.
    pub fn id(&self) -> &JobId {
        &self.record.id
    }

    /// The job's record as last written.
    pub fn record(&self) -> &JobRecord {
        &self.record
    }

    /// The earlier job whose process died holding the lease, now marked `interrupted`; the
    /// caller may tell the operator and reclaim its debris.
    pub fn interrupted(&self) -> Option<&JobRecord> {
        self.interrupted.as_ref()
    }

    /// Record progress or figures (bytes, per-service figures, warnings, backup id). Each call
    /// opens the state database briefly: call it per service or every few seconds, not per file.
    pub fn progress(&mut self, f: impl FnOnce(&mut JobRecord)) -> Result<()> {
        self.record = History::new(&self.local).update(&self.record.id, f)?;
        Ok(())
    }

    /// On success, clear only the alerts about these subjects (e.g. the one service restored)
    /// instead of every alert of this kind of job (the default: a backup covers all services).
    pub fn clear_only(&mut self, subjects: Vec<String>) {
        self.clears = Some(subjects);
    }

    /// End the job with its outcome: record it, raise an alert for a failure (not for bad usage)
    /// or clear this kind's alerts on success, send each alert to the notifier, then release the
    /// lease. Never fails: bookkeeping problems come back in [`Finished::warnings`].
    pub fn finish<T>(mut self, outcome: &Result<T>) -> Finished {
        let done = self.close(outcome);
        drop(self.lease.take());
        done
    }

    /// End this job like [`Job::finish`], then start the next job of kind `kind` under the same
    /// lease, so no other job can slip in between (`cairn backup` then its export).
    pub fn then<T>(mut self, outcome: &Result<T>, kind: JobKind) -> (Finished, Result<Job>) {
        let done = self.close(outcome);
        let next = (|| {
            let id = JobId::new();
            if let Some(lease) = self.lease.as_mut() {
                lease.hand_over(kind, &id)?;
            }
            let record = History::new(&self.local).start(&id, kind, done.record.trigger)?;
            Ok(Job {
                local: self.local.clone(),
                record,
                interrupted: None,
                clears: None,
                finished: false,
                lease: self.lease.take(),
            })
        })();
        (done, next)
    }

    fn close<T>(&mut self, outcome: &Result<T>) -> Finished {
        self.finished = true;
        let history = History::new(&self.local);
        let mut warnings = Vec::new();
        let err = outcome.as_ref().err();
        let (mut raised, mut cleared) = (None, Vec::new());
        // the outcome and the alerts in one opening of the state database (each opening is a
        // sled open and flush); each part's failure is its own warning
        let closed = with_state(&self.local, |db| {
            match History::finish_in(db, &self.record.id, err.map_or(Ok(()), Err)) {
                Ok(r) => self.record = r,
                Err(e) => warnings.push(format!("job {} not recorded: {e}", self.record.id)),
            }
            match err {
                Some(Error::Usage { .. } | Error::Busy { .. }) => {}
                Some(e) => match Alerts::raise_in(db, &self.record, e) {
                    Ok(a) => raised = Some(a),
                    Err(e) => warnings.push(format!("alert not raised: {e}")),
                },
                None => match Alerts::clear_for_in(
                    db,
                    self.record.kind,
                    self.clears.as_deref(),
                    Some(&self.record.id),
                ) {
                    Ok(c) => cleared = c,
                    Err(e) => warnings.push(format!("alerts not cleared: {e}")),
                },
            }
            Ok(())
        });
        if let Err(e) = closed {
            warnings.push(format!(
                "job {} not recorded, and its alerts not raised or cleared: {e}",
                self.record.id
            ));
        }
        if raised.is_some() || !cleared.is_empty() {
            match Notifier::load(&self.local) {
                Ok(n) => {
                    let events: Vec<_> = raised
                        .iter()
                        .map(|a| (EventKind::Raised, a))
                        .chain(cleared.iter().map(|a| (EventKind::Cleared, a)))
                        .collect();
                    warnings.extend(n.send_all(&events));
                }
                Err(e) => warnings.push(format!("notifier not run: {e}")),
            }
        }
        if !warnings.is_empty() {
            let w = warnings.clone();
            if let Ok(r) = history.update(&self.record.id, |r| r.warnings.extend(w)) {
                self.record = r;
            }
        }
        Finished {
            record: self.record.clone(),
            raised,
            cleared,
            warnings,
        }
    }
}

impl Drop for Job {
    /// A job dropped without [`Job::finish`] (an early `?`, a panic) is recorded `interrupted`
    /// at once rather than left `running` until its process ends.
    fn drop(&mut self) {
        if !self.finished {
            if let Err(e) = History::new(&self.local).mark_interrupted(&self.record.id) {
                tracing::warn!("job {} not marked interrupted: {e}", self.record.id);
            }
        }
    }
}

/// Raise an alert that no job raised (the scheduler's stale-backup check) and send it to the
/// notifier. Returns the alert and any notifier warning. An alert already active is updated, and
/// sent again only if `notify_again`.
pub fn raise_alert(
    local_dir: &Path,
    d: &Diagnosis,
    notify_again: bool,
) -> Result<(Alert, Vec<String>)> {
    let alert = Alerts::new(local_dir).raise_diagnosis(d, None)?;
    let mut warnings = Vec::new();
    if alert.count == 1 || notify_again {
        match Notifier::load(local_dir) {
            Ok(n) => warnings.extend(n.send(EventKind::Raised, &alert)),
            Err(e) => warnings.push(format!("notifier not run: {e}")),
        }
    }
    Ok((alert, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{AlertState, JobState};

    /// A job's end records its outcome and raises or clears its alerts in one opening of the
    /// state database (each a sled open and flush); its start is one more.
    #[test]
    fn a_job_ends_in_one_opening_of_the_state_database() {
        use crate::jobs::state::tests::opens_of;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let job = Job::begin(local, JobKind::Backup, Trigger::Manual).unwrap();
        let started = opens_of(local);
        let failed: Result<()> = Err(Error::failed("the disk is full", "free space"));
        let done = job.finish(&failed);
        assert!(done.raised.is_some() && done.warnings.is_empty());
        assert_eq!(opens_of(local) - started, 1, "a failed job's end");
        let job = Job::begin(local, JobKind::Backup, Trigger::Manual).unwrap();
        let started = opens_of(local);
        let done = job.finish(&Ok(()));
        assert_eq!(
            (done.cleared.len(), done.record.state),
            (1, JobState::Succeeded)
        );
        assert_eq!(opens_of(local) - started, 1, "a successful job's end");
        let jobs = History::new(local).list(10).unwrap();
        assert_eq!(jobs[0].state, JobState::Succeeded);
        assert_eq!(jobs[1].state, JobState::Failed);
    }

    #[test]
    fn a_failed_job_raises_and_the_next_success_clears_and_notifies() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let log = local.join("events");
        Notifier::set(
            local,
            &format!("cat >> '{}'; echo >> '{}'", log.display(), log.display()),
        )
        .unwrap();

        let job = Job::begin(local, JobKind::Backup, Trigger::Manual).unwrap();
        let busy = Job::begin(local, JobKind::Prune, Trigger::Manual).unwrap_err();
        assert!(
            busy.to_string()
                .contains(&format!("backup job {}", job.id())),
            "{busy}"
        );
        let err: Result<()> = Err(Error::service(
            "broken",
            crate::error::ServiceCause::PathMissing,
            "path /srv/broken does not exist",
        ));
        let done = job.finish(&err);
        assert!(done.warnings.is_empty(), "{:?}", done.warnings);
        assert_eq!(done.record.state, JobState::Failed);
        let alert = done.raised.unwrap();
        assert_eq!(
            (alert.subject.as_str(), alert.state),
            ("broken", AlertState::Active)
        );

        let mut job = Job::begin(local, JobKind::Backup, Trigger::Schedule).unwrap();
        job.progress(|r| r.backup = Some("20260101T000000.000Z".into()))
            .unwrap();
        let done = job.finish(&Ok(()));
        assert_eq!(done.record.state, JobState::Succeeded);
        assert_eq!(done.record.backup.as_deref(), Some("20260101T000000.000Z"));
        assert_eq!(done.cleared.len(), 1);
        assert!(Alerts::new(local).active().unwrap().is_empty());

        let events: Vec<serde_json::Value> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[0]["event"].as_str(), events[1]["event"].as_str()),
            (Some("raised"), Some("cleared"))
        );
        assert_eq!(events[1]["alert"]["subject"], "broken");

        let jobs = History::new(local).list(10).unwrap();
        assert_eq!(
            jobs.iter().map(|j| j.state).collect::<Vec<_>>(),
            [JobState::Succeeded, JobState::Failed]
        );
    }

    #[test]
    fn then_hands_the_lease_to_the_next_job_without_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let backup = Job::begin(local, JobKind::Backup, Trigger::Manual).unwrap();
        let (done, export) = backup.then(&Ok(()), JobKind::Export);
        assert_eq!(done.record.state, JobState::Succeeded);
        let export = export.unwrap();
        let busy = Job::begin(local, JobKind::Prune, Trigger::Manual).unwrap_err();
        assert!(
            busy.to_string()
                .contains(&format!("export job {}", export.id())),
            "{busy}"
        );
        assert_eq!(export.record().state, JobState::Running);
        export.finish(&Ok(()));
        let prune = Job::begin(local, JobKind::Prune, Trigger::Manual).unwrap();
        let id = prune.id().clone();
        drop(prune); // no finish: an early return
        let rec = History::new(local).get(&id).unwrap().unwrap();
        assert_eq!(rec.state, JobState::Interrupted);
    }

    #[test]
    fn a_stale_alert_is_notified_once() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let log = local.join("events");
        Notifier::set(
            local,
            &format!("cat >> '{}'; echo >> '{}'", log.display(), log.display()),
        )
        .unwrap();
        let d = crate::jobs::catalogue::stale_backup(
            None,
            chrono::Utc::now(),
            std::time::Duration::from_secs(3600),
        );
        let (a, w) = raise_alert(local, &d, false).unwrap();
        assert!(w.is_empty(), "{w:?}");
        let (b, _) = raise_alert(local, &d, false).unwrap();
        assert_eq!((a.id.clone(), b.count), (b.id.clone(), 2));
        assert_eq!(
            std::fs::read_to_string(&log)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .count(),
            1
        );
        // The next successful backup clears it.
        Job::begin(local, JobKind::Backup, Trigger::Schedule)
            .unwrap()
            .finish(&Ok(()));
        assert!(Alerts::new(local).active().unwrap().is_empty());
    }

    #[test]
    fn a_hanging_notifier_neither_blocks_nor_fails_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        std::fs::write(
            local.join(crate::jobs::notify::NOTIFY_FILE),
            "command = \"sleep 100\"\ntimeout_secs = 1\n",
        )
        .unwrap();
        let job = Job::begin(local, JobKind::Export, Trigger::Manual).unwrap();
        let err: Result<()> = Err(Error::failed("share gone", "check it"));
        let t = std::time::Instant::now();
        let done = job.finish(&err);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(4),
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(
            done.record.state,
            JobState::Failed,
            "the job's own outcome stands"
        );
        assert!(done.raised.is_some());
        assert_eq!(done.warnings.len(), 1, "{:?}", done.warnings);
        assert!(done.record.warnings[0].contains("did not finish within 1s"));
        // The lease is free again.
        Job::begin(local, JobKind::Export, Trigger::Manual)
            .unwrap()
            .finish(&Ok(()));
    }

    #[test]
    fn usage_errors_raise_no_alert() {
        let dir = tempfile::tempdir().unwrap();
        let job = Job::begin_shared(dir.path(), JobKind::Restore, Trigger::Manual).unwrap();
        let done = job.finish::<()>(&Err(Error::usage("unknown backup id", "see `cairn list`")));
        assert_eq!(done.record.state, JobState::Failed);
        assert!(done.raised.is_none());
    }
}

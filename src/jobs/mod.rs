//! Jobs: the lease that lets one writing job run at a time (or readers together), the job
//! history, alerts with remediation, and notifications.
//!
//! Around every job the operations layer does, in this order (see [`Job`]):
//!
//! 1. [`Job::begin`]: take the repository lease ([`Lease::acquire`], fails at once with
//!    [`Error::Busy`](crate::Error::Busy); a reading job takes it shared with
//!    [`Job::begin_shared`]), mark a job whose process died `interrupted`, and
//!    record the new job as `running` ([`History::start`]).
//! 2. [`Job::progress`] now and then (it opens the state database briefly each time).
//! 3. [`Job::finish`] with the job's result: the record becomes `succeeded` or `failed`, a failure
//!    raises an alert ([`Alerts::raise`]), a success clears the alerts of that kind of job
//!    ([`Alerts::clear_for`]), and every alert raised or cleared goes to the notifier
//!    ([`Notifier`]). The lease is released last.
//!
//! ```
//! use cairn::jobs::{History, Job, JobKind, JobState, Trigger};
//! let repo = tempfile::tempdir()?;
//! let local = repo.path().join("local");
//! let mut job = Job::begin(&local, JobKind::Backup, Trigger::Manual)?;
//! // A second writing job meanwhile fails at once, exit code 3.
//! assert_eq!(Job::begin(&local, JobKind::Prune, Trigger::Manual).unwrap_err().exit_code(), 3);
//! // So does a reading job: it would read what the writer is changing.
//! assert_eq!(Job::begin_shared(&local, JobKind::Verify, Trigger::Manual).unwrap_err().exit_code(), 3);
//! job.progress(|r| r.bytes_read += 1024)?;
//! let outcome: cairn::Result<()> = Ok(()); // the backup's own result
//! let done = job.finish(&outcome);
//! assert!(done.warnings.is_empty());
//! let jobs = History::new(&local).list(10)?;
//! assert_eq!((jobs[0].id.clone(), jobs[0].state), (done.record.id, JobState::Succeeded));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! All state lives under `REPO/local/`: the lease file `lease` (and `readers/`), the sled database `state` (job
//! history and alerts; opened only briefly by every process, see [`state`]) and `notify.toml`.

pub mod alerts;
pub mod catalogue;
pub mod history;
mod job;
pub mod lease;
pub mod notify;
pub mod process;
pub mod state;
pub mod time;

pub use alerts::{Alert, AlertState, Alerts};
pub use catalogue::{Diagnosis, Severity};
pub use history::{History, JobId, JobRecord, JobState, ServiceFigures, Trigger};
pub use job::{raise_alert, Finished, Job};
pub use lease::{HolderRecord, Lease};
pub use notify::{AlertEvent, Notifier};

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A coordinated full backup of all services.
    Backup,
    /// Export of backups to the target.
    Export,
    /// Verification of a repository copy.
    Verify,
    /// Retention and garbage collection.
    Prune,
    /// Restore of a backup into a directory.
    Restore,
    /// Cloud recovery from the share.
    Recover,
    /// A key rotation: new backups encrypt to new recipients.
    KeyRotate,
}

impl JobKind {
    /// The lower-case name used in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Export => "export",
            JobKind::Verify => "verify",
            JobKind::Prune => "prune",
            JobKind::Restore => "restore",
            JobKind::Recover => "recover",
            JobKind::KeyRotate => "key_rotate",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! The schedule: its settings (`REPO/local/schedule.toml`), a pure planner that says which job
//! runs next and when, the stale-backup check, and the [`serve`] loop that runs the plan.
//!
//! Planning rules:
//! - backup every `backup_every` after the last successful one; after downtime, ONE catch-up
//!   run, not one per missed interval; a failed backup is retried with backoff (from
//!   `retry_min`, doubling, capped at `backup_every`);
//! - export whenever a backup is not yet on the target; a failed export is retried with
//!   exponential backoff capped at `export_retry_max` (1h);
//! - prune after each successful backup;
//! - verify one of `verify_slices` rotating subsets of the packs every
//!   `verify_every / verify_slices`, so every pack is checked once per `verify_every`, on the
//!   internal repository and on the target's own copy ([`verify_both`]);
//! - when several jobs are due, they run one at a time in that order: backup, export, prune,
//!   verify.

mod serve;
mod settings;
mod verify;

pub use serve::{serve, Clock, Runner, SystemClock};
pub use settings::{retention_policy, ScheduleChange, ScheduleSummary};
pub use verify::verify_both;

use crate::jobs::catalogue::{stale_backup, Diagnosis};
use crate::jobs::{JobKind, JobRecord, JobState, Trigger};
use crate::retention::{format_duration, parse_duration, Policy};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// File name of the schedule settings under `REPO/local`.
pub const SCHEDULE_FILE: &str = "schedule.toml";

/// The schedule's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Time between backups (default 12h).
    pub backup_every: Duration,
    /// Time in which every pack is verified once (default 7d).
    pub verify_every: Duration,
    /// How many rotating subsets of the packs that is split into (default 7: one a day).
    pub verify_slices: u32,
    /// Retention: keep backups younger than this (default 7d).
    pub keep_within: Duration,
    /// Retention: keep this many newest backups whatever their age (default none).
    pub keep_last: Option<usize>,
    /// First retry delay after a failed job (default 1m); doubles with each failure.
    pub retry_min: Duration,
    /// Longest delay between export retries (default 1h).
    pub export_retry_max: Duration,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            backup_every: Duration::from_secs(12 * 3600),
            verify_every: Duration::from_secs(7 * 86_400),
            verify_slices: 7,
            keep_within: Duration::from_secs(7 * 86_400),
            keep_last: None,
            retry_min: Duration::from_secs(60),
            export_retry_max: Duration::from_secs(3600),
        }
    }
}

/// `schedule.toml` as written: durations as text (`12h`), every field optional.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ScheduleFile {
    backup_every: Option<String>,
    verify_every: Option<String>,
    verify_slices: Option<u32>,
    keep_within: Option<String>,
    keep_last: Option<usize>,
    retry_min: Option<String>,
    export_retry_max: Option<String>,
}

impl ScheduleConfig {
    /// Load `REPO/local/schedule.toml`; defaults for what it does not say (or if it is absent).
    pub fn load(local_dir: &Path) -> Result<ScheduleConfig> {
        let path = local_dir.join(SCHEDULE_FILE);
        let Some(text) = crate::fsutil::read_if_present(&path)? else {
            return Ok(ScheduleConfig::default());
        };
        let bad = |what: String| {
            Error::failed(
                format!("{}: {what}", path.display()),
                "fix the file (durations like 12h, 7d; keep_last a number) or delete it to use the defaults (backup every 12h, keep 7d)",
            )
        };
        let f: ScheduleFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let d = ScheduleConfig::default();
        let dur = |v: &Option<String>, default: Duration| -> Result<Duration> {
            v.as_deref().map_or(Ok(default), |s| {
                parse_duration(s).map_err(|e| bad(e.to_string()))
            })
        };
        let c = ScheduleConfig {
            backup_every: dur(&f.backup_every, d.backup_every)?,
            verify_every: dur(&f.verify_every, d.verify_every)?,
            verify_slices: f.verify_slices.unwrap_or(d.verify_slices),
            keep_within: dur(&f.keep_within, d.keep_within)?,
            keep_last: f.keep_last,
            retry_min: dur(&f.retry_min, d.retry_min)?,
            export_retry_max: dur(&f.export_retry_max, d.export_retry_max)?,
        };
        if c.backup_every.is_zero()
            || c.verify_every.is_zero()
            || c.verify_slices == 0
            || c.retry_min.is_zero()
        {
            return Err(bad(
                "intervals, verify_slices and retry_min must be above zero".into(),
            ));
        }
        Ok(c)
    }

    /// Write `REPO/local/schedule.toml`.
    pub fn save(&self, local_dir: &Path) -> Result<()> {
        let f = ScheduleFile {
            backup_every: Some(format_duration(self.backup_every)),
            verify_every: Some(format_duration(self.verify_every)),
            verify_slices: Some(self.verify_slices),
            keep_within: Some(format_duration(self.keep_within)),
            keep_last: self.keep_last,
            retry_min: Some(format_duration(self.retry_min)),
            export_retry_max: Some(format_duration(self.export_retry_max)),
        };
        let text = toml::to_string(&f).map_err(|e| {
            Error::failed(
                format!("cannot encode {SCHEDULE_FILE}: {e}"),
                "report this as a bug",
            )
        })?;
        std::fs::create_dir_all(local_dir)
            .map_err(|e| Error::io(local_dir.display().to_string(), e))?;
        crate::fsutil::write_atomic(&local_dir.join(SCHEDULE_FILE), text.as_bytes(), 0o600)
    }

    /// The retention policy the scheduled prune applies.
    pub fn retention(&self) -> Policy {
        Policy {
            keep_within: Some(self.keep_within),
            keep_last: self.keep_last,
        }
    }
}

/// A job the scheduler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A coordinated full backup (without export: the export is its own job).
    Backup,
    /// Export every backup not yet on the target.
    Export,
    /// Apply the retention policy and reclaim space on both copies.
    Prune,
    /// Verify the packs of subset `slice` (of `slices`): e.g. the packs whose id's first byte
    /// modulo `slices` equals `slice`.
    Verify {
        /// Which subset.
        slice: u32,
        /// Into how many subsets the packs are split.
        slices: u32,
    },
}

impl Action {
    /// The kind of job it is.
    pub fn kind(&self) -> JobKind {
        match self {
            Action::Backup => JobKind::Backup,
            Action::Export => JobKind::Export,
            Action::Prune => JobKind::Prune,
            Action::Verify { .. } => JobKind::Verify,
        }
    }
}

/// What a successful scheduled job tells the planner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    /// After a backup: a target is set and the backup is not yet on it.
    pub export_needed: bool,
}

/// Past runs of one kind of job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindState {
    /// When the last successful run started.
    pub last_success: Option<DateTime<Utc>>,
    /// When the last run started, whatever its outcome.
    pub last_attempt: Option<DateTime<Utc>>,
    /// Failed runs since the last success.
    pub failures: u32,
}

impl KindState {
    fn record(&mut self, at: DateTime<Utc>, ok: bool) {
        self.last_attempt = Some(at);
        if ok {
            self.last_success = Some(at);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
        }
    }

    /// When a retry is due after failures: `retry_min` doubled per failure, capped at `cap`.
    fn retry_at(&self, retry_min: Duration, cap: Duration) -> Option<DateTime<Utc>> {
        if self.failures == 0 {
            return None;
        }
        let factor = 1u32.checked_shl(self.failures - 1).unwrap_or(u32::MAX);
        let delay = retry_min.saturating_mul(factor).min(cap);
        self.last_attempt.map(|t| t + delay)
    }
}

/// What the planner knows of the past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleState {
    /// Since when backups are expected (the scheduler's first start): the stale check's origin
    /// while no backup ever succeeded.
    pub since: DateTime<Utc>,
    /// Backups.
    pub backup: KindState,
    /// Exports.
    pub export: KindState,
    /// Prunes.
    pub prune: KindState,
    /// Verifies.
    pub verify: KindState,
    /// A backup is not yet on the target (and a target is set).
    pub export_pending: bool,
    /// A backup succeeded since the last successful prune.
    pub prune_pending: bool,
    /// The next verify subset.
    pub verify_next_slice: u32,
}

/// The next job and when to run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// What to run.
    pub action: Action,
    /// When (never before the `now` it was planned at).
    pub at: DateTime<Utc>,
}

impl ScheduleState {
    /// Nothing run yet; backups expected from `since`.
    pub fn new(since: DateTime<Utc>) -> Self {
        ScheduleState {
            since,
            backup: KindState::default(),
            export: KindState::default(),
            prune: KindState::default(),
            verify: KindState::default(),
            export_pending: false,
            prune_pending: false,
            verify_next_slice: 0,
        }
    }

    /// Rebuild the state from the job history (any order). `export_pending` cannot be known
    /// from it: set it from the repository (a backup not yet on the target).
    pub fn from_history(jobs: &[JobRecord], since: DateTime<Utc>) -> Self {
        let mut s = ScheduleState::new(since);
        let mut jobs: Vec<&JobRecord> = jobs
            .iter()
            .filter(|j| j.state != JobState::Running)
            .collect();
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
        for j in jobs {
            let ok = j.state == JobState::Succeeded;
            match j.kind {
                JobKind::Backup => {
                    s.backup.record(j.started, ok);
                    s.prune_pending |= ok;
                }
                JobKind::Export => s.export.record(j.started, ok),
                JobKind::Prune => {
                    s.prune.record(j.started, ok);
                    s.prune_pending &= !ok;
                }
                // a manual verify (all of one copy) does not move the scheduled rotation
                JobKind::Verify if j.trigger == Trigger::Schedule => s.verify.record(j.started, ok),
                JobKind::Verify | JobKind::Restore | JobKind::Recover | JobKind::KeyRotate => {}
            }
        }
        s
    }

    /// Take note of a run of `action` that started at `at` and ended with `outcome`.
    pub fn record(&mut self, action: &Action, at: DateTime<Utc>, outcome: &Result<Done>) {
        let ok = outcome.is_ok();
        match action {
            Action::Backup => {
                self.backup.record(at, ok);
                if let Ok(done) = outcome {
                    self.prune_pending = true;
                    self.export_pending |= done.export_needed;
                }
            }
            Action::Export => {
                self.export.record(at, ok);
                self.export_pending &= !ok;
            }
            Action::Prune => {
                self.prune.record(at, ok);
                self.prune_pending &= !ok;
            }
            Action::Verify { slice, slices } => {
                self.verify.record(at, ok);
                if ok {
                    self.verify_next_slice = (slice + 1) % (*slices).max(1);
                }
            }
        }
    }
}

/// The next job to run and when. Overdue jobs are due at `now`, once: after downtime the
/// planner catches up with one run of each kind, not a burst of every missed run.
pub fn plan(config: &ScheduleConfig, state: &ScheduleState, now: DateTime<Utc>) -> Plan {
    let retry = |k: &KindState, cap: Duration| k.retry_at(config.retry_min, cap);
    let backup_at = retry(&state.backup, config.backup_every)
        .or_else(|| state.backup.last_success.map(|t| t + config.backup_every))
        .unwrap_or(now);
    let slice_every = config.verify_every / config.verify_slices.max(1);
    let verify_at = retry(&state.verify, slice_every)
        .or_else(|| state.verify.last_success.map(|t| t + slice_every))
        .unwrap_or(now);
    let mut candidates = vec![(Action::Backup, backup_at)];
    if state.export_pending {
        candidates.push((
            Action::Export,
            retry(&state.export, config.export_retry_max).unwrap_or(now),
        ));
    }
    if state.prune_pending {
        candidates.push((
            Action::Prune,
            retry(&state.prune, config.backup_every).unwrap_or(now),
        ));
    }
    let slices = config.verify_slices.max(1);
    candidates.push((
        Action::Verify {
            slice: state.verify_next_slice % slices,
            slices,
        },
        verify_at,
    ));
    // Earliest first; among the due ones (all clamped to now), the order above.
    let (action, at) = candidates
        .into_iter()
        .map(|(a, t)| (a, t.max(now)))
        .enumerate()
        .min_by_key(|(i, (_, t))| (*t, *i))
        .map(|(_, c)| c)
        .unwrap_or((Action::Backup, now));
    Plan { action, at }
}

/// When backups go stale: twice `backup_every` after the last success (or after `since`).
pub fn stale_at(config: &ScheduleConfig, state: &ScheduleState) -> DateTime<Utc> {
    state.backup.last_success.unwrap_or(state.since) + config.backup_every.saturating_mul(2)
}

/// The stale-backup alert, if no backup succeeded for longer than twice `backup_every`.
pub fn stale(
    config: &ScheduleConfig,
    state: &ScheduleState,
    now: DateTime<Utc>,
) -> Option<Diagnosis> {
    (now > stale_at(config, state))
        .then(|| stale_backup(state.backup.last_success, state.since, config.backup_every))
}

#[cfg(test)]
mod tests;

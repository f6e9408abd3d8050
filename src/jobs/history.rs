//! Job history: one [`JobRecord`] per job in the state database, newest first.
//!
//! A record is written `running` when the job starts, with the job's pid and process start time.
//! A record still `running` whose process is gone (dead, or its pid reused by another process) is
//! `interrupted`: [`History::list`] marks it so on disk as it reads it.

use super::state::{decode, encode, read_state, with_state};
use super::time::{serde_rfc3339, serde_rfc3339_opt};
use super::{process, JobKind};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

const TREE: &str = "jobs";

/// A job's id: UTC start time to the millisecond plus a random suffix,
/// `YYYYMMDDTHHMMSS.mmmZ-xxxx`; sorts by time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId(String);

impl JobId {
    /// A new id for a job starting now.
    pub fn new() -> Self {
        JobId(super::time::sortable_id())
    }

    /// Parse an id as typed by an operator (`cairn jobs` shows them).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let ok = b.len() == 25
            && s.get(..20).and_then(crate::id::BackupId::parse).is_some()
            && b[20] == b'-'
            && b[21..].iter().all(|c| c.is_ascii_hexdigit());
        ok.then(|| JobId(s.to_string()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What started a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// An operator ran a command.
    Manual,
    /// `cairn serve` ran it on its schedule.
    Schedule,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Its process is still working on it.
    Running,
    /// It finished and did everything it was asked.
    Succeeded,
    /// It finished with an error (see `error` and `remedy`).
    Failed,
    /// Its process died before it finished (kill -9, power loss, crash).
    Interrupted,
}

/// What a backup job did for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFigures {
    /// The service's name.
    pub name: String,
    /// Files read.
    pub files: u64,
    /// Logical bytes read.
    pub bytes: u64,
    /// Bytes newly stored (after deduplication and compression).
    pub bytes_new: u64,
    /// Time spent on it, in milliseconds.
    pub duration_ms: u64,
}

/// One job in the history. `cairn jobs --json` prints an array of these, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's id; sorts by start time.
    pub id: JobId,
    /// What it does.
    pub kind: JobKind,
    /// Who started it.
    pub trigger: Trigger,
    /// Where it stands.
    pub state: JobState,
    /// When it started.
    #[serde(with = "serde_rfc3339")]
    pub started: DateTime<Utc>,
    /// When it ended (null while running; for an interrupted job, when that was noticed).
    #[serde(with = "serde_rfc3339_opt", default)]
    pub ended: Option<DateTime<Utc>>,
    /// Duration in milliseconds, once ended.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Bytes read from services or storage.
    #[serde(default)]
    pub bytes_read: u64,
    /// Bytes newly written to the internal repository.
    #[serde(default)]
    pub bytes_stored: u64,
    /// Bytes sent to the target.
    #[serde(default)]
    pub bytes_exported: u64,
    /// Per-service figures (backup jobs).
    #[serde(default)]
    pub services: Vec<ServiceFigures>,
    /// What went wrong (failed or interrupted jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// Things the job worked around (a file that vanished while read, ...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The backup the job made or worked on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The process that ran it.
    pub pid: u32,
    /// That process's start time (clock ticks since boot), to tell a reused pid.
    pub process_start: u64,
}

impl JobRecord {
    /// Whether the record says `running` but its process is gone.
    pub fn is_orphaned(&self) -> bool {
        self.state == JobState::Running && !process::is_alive(self.pid, self.process_start)
    }

    fn end(&mut self, state: JobState, at: DateTime<Utc>) {
        self.state = state;
        self.ended = Some(at);
        self.duration_ms = Some((at - self.started).num_milliseconds().max(0) as u64);
    }

    fn mark_interrupted(&mut self) {
        self.end(JobState::Interrupted, Utc::now());
        self.error = Some(format!(
            "the job stopped before it finished (its process, pid {}, died or abandoned it)",
            self.pid
        ));
        self.remedy = Some(format!(
            "nothing half-done is ever listed; run the {} again (the next job reclaims any debris)",
            self.kind
        ));
    }
}

/// The job history of one repository (`REPO/local/state`, tree `jobs`).
#[derive(Debug, Clone)]
pub struct History {
    local: PathBuf,
}

impl History {
    /// The history of the repository whose private state directory is `local_dir` (`REPO/local`).
    pub fn new(local_dir: &Path) -> Self {
        History {
            local: local_dir.to_path_buf(),
        }
    }

    /// Record job `id` as `running`, started now by this process.
    pub fn start(&self, id: &JobId, kind: JobKind, trigger: Trigger) -> Result<JobRecord> {
        let (pid, process_start) = process::current();
        let rec = JobRecord {
            id: id.clone(),
            kind,
            trigger,
            state: JobState::Running,
            started: Utc::now(),
            ended: None,
            duration_ms: None,
            bytes_read: 0,
            bytes_stored: 0,
            bytes_exported: 0,
            services: Vec::new(),
            error: None,
            remedy: None,
            warnings: Vec::new(),
            backup: None,
            pid,
            process_start,
        };
        with_state(&self.local, |db| put(&db.open_tree(TREE)?, &rec))?;
        Ok(rec)
    }

    /// Change job `id`'s record (progress, figures, warnings, backup id) and return it.
    pub fn update(&self, id: &JobId, f: impl FnOnce(&mut JobRecord)) -> Result<JobRecord> {
        with_state(&self.local, |db| Self::update_in(db, id, f))
    }

    /// [`History::update`] in the state database `db`, already open.
    fn update_in(db: &sled::Db, id: &JobId, f: impl FnOnce(&mut JobRecord)) -> Result<JobRecord> {
        let tree = db.open_tree(TREE)?;
        let mut rec = get(&tree, id)?.ok_or_else(|| missing(id))?;
        f(&mut rec);
        put(&tree, &rec)?;
        Ok(rec)
    }

    /// End job `id`: `succeeded` on `Ok`, `failed` with the error and its remedy on `Err`.
    pub fn finish(&self, id: &JobId, outcome: Result<(), &Error>) -> Result<JobRecord> {
        with_state(&self.local, |db| Self::finish_in(db, id, outcome))
    }

    /// [`History::finish`] in the state database `db`, already open (a job's end records its
    /// outcome and its alerts in one opening: `Job::finish`).
    pub(super) fn finish_in(
        db: &sled::Db,
        id: &JobId,
        outcome: Result<(), &Error>,
    ) -> Result<JobRecord> {
        Self::update_in(db, id, |rec| match outcome {
            Ok(()) => rec.end(JobState::Succeeded, Utc::now()),
            Err(e) => {
                rec.end(JobState::Failed, Utc::now());
                rec.error = Some(e.to_string());
                rec.remedy = Some(e.remedy());
            }
        })
    }

    /// Mark job `id` `interrupted` if it is still recorded `running` (its process died: see
    /// [`Lease::previous`](super::Lease::previous)). Returns the record as it now is.
    pub fn mark_interrupted(&self, id: &JobId) -> Result<Option<JobRecord>> {
        with_state(&self.local, |db| {
            let tree = db.open_tree(TREE)?;
            let Some(mut rec) = get(&tree, id)? else {
                return Ok(None);
            };
            if rec.state == JobState::Running {
                rec.mark_interrupted();
                put(&tree, &rec)?;
            }
            Ok(Some(rec))
        })
    }

    /// One job's record.
    pub fn get(&self, id: &JobId) -> Result<Option<JobRecord>> {
        read_state(&self.local, |db| get(&db.open_tree(TREE)?, id))
    }

    /// Up to `limit` jobs, newest first. Records left `running` by a dead process are marked
    /// `interrupted` (on disk too).
    pub fn list(&self, limit: usize) -> Result<Vec<JobRecord>> {
        read_state(&self.local, |db| {
            let tree = db.open_tree(TREE)?;
            let mut out = Vec::new();
            for item in tree.iter().rev().take(limit) {
                let (k, v) = item?;
                let mut rec: JobRecord = decode("job", &k, &v)?;
                if rec.is_orphaned() {
                    rec.mark_interrupted();
                    put(&tree, &rec)?;
                }
                out.push(rec);
            }
            Ok(out)
        })
    }
}

fn get(tree: &sled::Tree, id: &JobId) -> Result<Option<JobRecord>> {
    match tree.get(id.as_str())? {
        Some(v) => decode("job", id.as_str().as_bytes(), &v).map(Some),
        None => Ok(None),
    }
}

fn put(tree: &sled::Tree, rec: &JobRecord) -> Result<()> {
    tree.insert(rec.id.as_str(), encode(rec)?)?;
    Ok(())
}

fn missing(id: &JobId) -> Error {
    Error::failed(
        format!("job {id} is not in the job history (REPO/local/state)"),
        "the job history was moved or reset while the job ran; run the job again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_list_newest_first_with_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let a = JobId::new();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let b = JobId::new();
        assert!(a < b);
        h.start(&a, JobKind::Backup, Trigger::Manual).unwrap();
        h.update(&a, |r| {
            r.bytes_read = 10;
            r.services.push(ServiceFigures {
                name: "ad".into(),
                files: 3,
                bytes: 10,
                bytes_new: 4,
                duration_ms: 5,
            });
        })
        .unwrap();
        h.finish(&a, Ok(())).unwrap();
        h.start(&b, JobKind::Export, Trigger::Schedule).unwrap();
        let err = Error::failed("share gone", "check it");
        h.finish(&b, Err(&err)).unwrap();

        let jobs = h.list(10).unwrap();
        assert_eq!(
            jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
            vec![b.clone(), a.clone()]
        );
        assert_eq!(jobs[0].state, JobState::Failed);
        assert_eq!(jobs[0].error.as_deref(), Some("share gone"));
        assert_eq!(jobs[0].remedy.as_deref(), Some("check it"));
        assert_eq!(jobs[1].state, JobState::Succeeded);
        assert_eq!(jobs[1].services[0].bytes_new, 4);
        assert_eq!(h.list(1).unwrap().len(), 1);
        let nothing = History::new(&dir.path().join("never"));
        assert!(nothing.list(10).unwrap().is_empty());
        assert!(nothing.get(&a).unwrap().is_none());

        let json = serde_json::to_value(&jobs).unwrap();
        assert_eq!(json[0]["state"], "failed");
        assert_eq!(json[0]["kind"], "export");
        assert!(json[1]["started"].as_str().unwrap().ends_with('Z'));
        assert!(json[1]["ended"].is_string());
        assert!(json[1].get("error").is_none());
    }

    #[test]
    fn a_running_record_of_a_dead_or_reused_pid_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let live = JobId::new();
        h.start(&live, JobKind::Backup, Trigger::Manual).unwrap();
        let reused = JobId::new();
        h.start(&reused, JobKind::Prune, Trigger::Manual).unwrap();
        // Same pid as this process, but another start time: the pid was reused.
        h.update(&reused, |r| r.process_start += 1).unwrap();
        let dead = JobId::new();
        h.start(&dead, JobKind::Export, Trigger::Manual).unwrap();
        h.update(&dead, |r| r.pid = u32::MAX - 1).unwrap();

        let jobs = h.list(10).unwrap();
        let state = |id: &JobId| jobs.iter().find(|j| &j.id == id).unwrap().state;
        assert_eq!(state(&live), JobState::Running);
        assert_eq!(state(&reused), JobState::Interrupted);
        assert_eq!(state(&dead), JobState::Interrupted);
        assert_eq!(
            h.get(&dead).unwrap().unwrap().state,
            JobState::Interrupted,
            "marked on disk"
        );
        assert!(h.get(&dead).unwrap().unwrap().remedy.is_some());
    }

    #[test]
    fn job_ids_parse_back_and_reject_junk() {
        let id = JobId::new();
        assert_eq!(JobId::parse(id.as_str()), Some(id));
        assert_eq!(JobId::parse("../x"), None);
        assert_eq!(JobId::parse("20260101T000000.000éabcd"), None);
    }
}

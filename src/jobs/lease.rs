//! The repository lease: one writing job at a time, readers beside each other, and no stale locks.
//!
//! The lease is an `flock` on `REPO/local/lease`. A writing job (backup, export, prune, ...)
//! takes it exclusively ([`Lease::acquire`]); a reading job (verify, restore) takes it shared
//! ([`Lease::acquire_shared`]), so readers run together but a prune cannot delete packs a restore
//! is reading, and a reader does not start while a writer runs. Neither waits: a taken lease fails
//! at once with [`Error::Busy`] naming the holder. The kernel drops the lock when its holder's
//! process ends, however it ends (exit, kill -9, power loss), so a lease is never stale and nothing
//! has to be deleted, guessed at or timed out.
//!
//! Who holds it: after locking, a writer writes its [`HolderRecord`] into the lease file; each
//! reader writes its own into `REPO/local/readers/JOB` (removed on release). A job that finds the
//! lease taken reads these records to say who holds it. On a clean release the writer's record is
//! marked `released`. A new writer that finds a record not marked released knows its holder died
//! mid-job and reports it ([`Lease::previous`]) so that job can be marked `interrupted`; it also
//! removes reader records left by killed readers (no reader can hold the lock beside it).

use super::history::JobId;
use super::time::{rfc3339, serde_rfc3339};
use super::{process, JobKind};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the lease under `REPO/local`.
pub const LEASE_FILE: &str = "lease";

/// Directory under `REPO/local` holding one [`HolderRecord`] per reader holding the lease shared.
pub const READERS_DIR: &str = "readers";

/// Who holds (or last held) the lease. Stored as JSON in the lease file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderRecord {
    /// The job's id.
    pub job_id: JobId,
    /// What the job does.
    pub kind: JobKind,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's process start time (clock ticks since boot, `/proc/PID/stat` field 22).
    pub process_start: u64,
    /// The holder's host name.
    pub host: String,
    /// Incremented at each acquisition.
    pub generation: u64,
    /// When the lease was taken.
    #[serde(with = "serde_rfc3339")]
    pub since: DateTime<Utc>,
    /// Set when the holder released the lease cleanly.
    #[serde(default)]
    pub released: bool,
}

impl HolderRecord {
    /// "backup job J running since T (pid P)": the busy message's subject.
    pub fn describe(&self) -> String {
        format!(
            "{} job {} running since {} (pid {})",
            self.kind,
            self.job_id,
            rfc3339(&self.since),
            self.pid
        )
    }
}

/// The held lease, exclusive or shared. Released on drop (a writer's record marked released, a
/// reader's removed).
#[derive(Debug)]
pub struct Lease {
    file: File,
    path: PathBuf,
    record: HolderRecord,
    previous: Option<HolderRecord>,
    /// A reader's own record file; `None` for the writer (its record is in the lease file).
    reader: Option<PathBuf>,
}

impl Lease {
    /// Take the lease of the repository whose private state directory is `local_dir`
    /// (`REPO/local`), for job `job_id` of kind `kind`. Never waits: if another job holds it,
    /// fails at once with [`Error::Busy`] naming that job, its kind, pid and start time.
    pub fn acquire(local_dir: &Path, kind: JobKind, job_id: &JobId) -> Result<Lease> {
        let (mut file, path) = lock(local_dir, FlockOperation::NonBlockingLockExclusive)?;
        // We hold the lock: whatever record is there was left by an earlier holder, and reader
        // records still present were left by killed readers.
        let previous = read_record(&mut file).ok().flatten();
        remove_reader_records(local_dir);
        let record = HolderRecord {
            generation: previous.as_ref().map_or(0, |p| p.generation) + 1,
            ..new_record(kind, job_id)
        };
        write_record(&mut file, &record).map_err(|e| Error::io(path.display().to_string(), e))?;
        let previous = previous.filter(|p| !p.released);
        Ok(Lease {
            file,
            path,
            record,
            previous,
            reader: None,
        })
    }

    /// Take the lease shared, for reading job `job_id` of kind `kind` (a verify or a restore):
    /// other readers may hold it too, but no writer. Never waits: if a writing job holds it,
    /// fails at once with [`Error::Busy`] naming that job. The reader's record goes to
    /// `REPO/local/readers/JOB`, where a writer that finds the lease taken reads who holds it.
    pub fn acquire_shared(local_dir: &Path, kind: JobKind, job_id: &JobId) -> Result<Lease> {
        let (file, path) = lock(local_dir, FlockOperation::NonBlockingLockShared)?;
        let dir = local_dir.join(READERS_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        let reader = dir.join(job_id.as_str());
        let record = new_record(kind, job_id);
        write_reader(&reader, &record)?;
        Ok(Lease {
            file,
            path,
            record,
            previous: None,
            reader: Some(reader),
        })
    }

    /// This holder's record.
    pub fn record(&self) -> &HolderRecord {
        &self.record
    }

    /// The previous holder, if it died while holding the lease (its record was never marked
    /// released): its job should be marked `interrupted`.
    pub fn previous(&self) -> Option<&HolderRecord> {
        self.previous.as_ref()
    }

    /// Hand the held lease to the next job of a chain (`cairn backup`, then its export) without
    /// releasing it: the record names the new job from now on.
    pub fn hand_over(&mut self, kind: JobKind, job_id: &JobId) -> Result<()> {
        self.record.job_id = job_id.clone();
        self.record.kind = kind;
        self.record.since = Utc::now();
        self.record.generation += 1;
        match &self.reader {
            Some(reader) => write_reader(reader, &self.record),
            None => write_record(&mut self.file, &self.record)
                .map_err(|e| Error::io(self.path.display().to_string(), e)),
        }
    }

    /// Read who holds or last held the lease, without taking it (for `cairn jobs` and messages).
    /// `None` if no job ever took it.
    pub fn peek(local_dir: &Path) -> Result<Option<HolderRecord>> {
        let path = local_dir.join(LEASE_FILE);
        match File::open(&path) {
            Ok(mut f) => read_record(&mut f).map_err(|e| Error::io(path.display().to_string(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path.display().to_string(), e)),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(reader) = &self.reader {
            if let Err(e) = std::fs::remove_file(reader) {
                tracing::warn!(
                    "could not remove the reader record {}: {e}",
                    reader.display()
                );
            }
            return; // closing the file releases the shared flock
        }
        let mut done = self.record.clone();
        done.released = true;
        if let Err(e) = write_record(&mut self.file, &done) {
            tracing::warn!(
                "could not mark the lease {} released: {e}",
                self.path.display()
            );
        }
        // Closing the file releases the flock.
    }
}

/// Open `REPO/local/lease` and lock it with `op` (never waiting): [`Error::Busy`] naming the
/// holder if it is taken.
fn lock(local_dir: &Path, op: FlockOperation) -> Result<(File, PathBuf)> {
    std::fs::create_dir_all(local_dir)
        .map_err(|e| Error::io(local_dir.display().to_string(), e))?;
    let path = local_dir.join(LEASE_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(path.display().to_string(), e))?;
    match rustix::fs::flock(&file, op) {
        Ok(()) => Ok((file, path)),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(Error::Busy {
            holder: busy_holder(&mut file, local_dir),
        }),
        Err(e) => Err(Error::io(format!("locking {}", path.display()), e.into())),
    }
}

/// A fresh record naming this process as the holder for job `job_id` (generation 0).
fn new_record(kind: JobKind, job_id: &JobId) -> HolderRecord {
    let (pid, process_start) = process::current();
    HolderRecord {
        job_id: job_id.clone(),
        kind,
        pid,
        process_start,
        host: host_name(),
        generation: 0,
        since: Utc::now(),
        released: false,
    }
}

/// The busy message's subject: the living holder's record, the writer's or else the oldest
/// reader's. A holder writes its record just after locking, so we can catch the file empty or
/// still showing the previous holder; retry briefly.
fn busy_holder(file: &mut File, local_dir: &Path) -> String {
    for _ in 0..10 {
        if let Some(r) = live_holder(file, local_dir) {
            return r.describe();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    match read_record(file) {
        Ok(Some(r)) if !r.released => r.describe(),
        _ => "another job holds the lease (it is just starting or its record is unreadable)".into(),
    }
}

/// The writer holding the lease if its record says so and its process lives, else the living
/// reader that took it first.
fn live_holder(file: &mut File, local_dir: &Path) -> Option<HolderRecord> {
    let alive = |r: &HolderRecord| !r.released && process::is_alive(r.pid, r.process_start);
    if let Ok(Some(r)) = read_record(file) {
        if alive(&r) {
            return Some(r);
        }
    }
    reader_records(local_dir)
        .into_iter()
        .filter(alive)
        .min_by_key(|r| r.since)
}

/// The records under `REPO/local/readers` (unreadable ones skipped).
fn reader_records(local_dir: &Path) -> Vec<HolderRecord> {
    let Ok(entries) = std::fs::read_dir(local_dir.join(READERS_DIR)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect()
}

/// Remove the reader records: called by the exclusive holder, beside which no reader lives.
fn remove_reader_records(local_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(local_dir.join(READERS_DIR)) else {
        return;
    };
    for e in entries.flatten() {
        let _ = std::fs::remove_file(e.path());
    }
}

fn write_reader(path: &Path, record: &HolderRecord) -> Result<()> {
    let bytes = serde_json::to_vec(record)
        .map_err(|e| Error::io(path.display().to_string(), std::io::Error::other(e)))?;
    crate::fsutil::write_atomic(path, &bytes, 0o600)
}

fn read_record(file: &mut File) -> std::io::Result<Option<HolderRecord>> {
    let mut buf = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.take(64 * 1024).read_to_end(&mut buf)?;
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&buf)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn write_record(file: &mut File, record: &HolderRecord) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&bytes)?;
    file.sync_data()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_second_acquirer_is_busy_at_once_and_named_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let j1 = JobId::new();
        let first = Lease::acquire(dir.path(), JobKind::Backup, &j1).unwrap();
        assert_eq!(first.record().generation, 1);
        assert!(first.previous().is_none());
        let t = std::time::Instant::now();
        let err = Lease::acquire(dir.path(), JobKind::Prune, &JobId::new()).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(1), "busy must not wait");
        assert_eq!(err.exit_code(), 3);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("repository busy: backup job {j1} running since ")),
            "{msg}"
        );
        assert!(
            msg.ends_with(&format!("(pid {})", std::process::id())),
            "{msg}"
        );
        drop(first);
        let second = Lease::acquire(dir.path(), JobKind::Prune, &JobId::new()).unwrap();
        assert_eq!(second.record().generation, 2);
        assert!(
            second.previous().is_none(),
            "a cleanly released lease is not reported as interrupted"
        );
    }

    /// Child side of the tests with real processes: take the lease (shared, as a restore, when
    /// `CAIRN_TEST_LEASE_CHILD_SHARED` is set), say so, then wait to be killed.
    #[test]
    fn lease_child_holds_until_killed() {
        let Ok(dir) = std::env::var("CAIRN_TEST_LEASE_CHILD_DIR") else {
            return;
        };
        let id = JobId::parse(&std::env::var("CAIRN_TEST_LEASE_CHILD_JOB").unwrap()).unwrap();
        let _lease = if std::env::var_os("CAIRN_TEST_LEASE_CHILD_SHARED").is_some() {
            Lease::acquire_shared(Path::new(&dir), JobKind::Restore, &id).unwrap()
        } else {
            Lease::acquire(Path::new(&dir), JobKind::Backup, &id).unwrap()
        };
        println!("CHILD-HOLDS-LEASE");
        std::thread::sleep(Duration::from_secs(60));
    }

    /// A child process holding the lease of `dir` for `job` (shared or exclusive), once it holds it.
    fn holder(dir: &Path, job: &JobId, shared: bool) -> std::process::Child {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "jobs::lease::tests::lease_child_holds_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CAIRN_TEST_LEASE_CHILD_DIR", dir)
        .env("CAIRN_TEST_LEASE_CHILD_JOB", job.as_str())
        .stdout(std::process::Stdio::piped());
        if shared {
            cmd.env("CAIRN_TEST_LEASE_CHILD_SHARED", "1");
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut seen = String::new();
        let mut buf = [0u8; 256];
        while !seen.contains("CHILD-HOLDS-LEASE") {
            let n = out.read(&mut buf).unwrap();
            assert!(n > 0, "child ended before taking the lease: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        child
    }

    #[test]
    fn a_lease_left_by_a_killed_process_is_taken_over_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let job = JobId::new();
        let mut child = holder(dir.path(), &job, false);
        let err = Lease::acquire(dir.path(), JobKind::Backup, &JobId::new()).unwrap_err();
        assert!(
            err.to_string().contains(&format!("(pid {})", child.id())),
            "{err}"
        );

        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(
            dir.path().join(LEASE_FILE).metadata().unwrap().len() > 0,
            "the record is kept, not deleted"
        );
        let taken = Lease::acquire(dir.path(), JobKind::Backup, &JobId::new()).unwrap();
        let prev = taken.previous().expect("the dead holder is reported");
        assert_eq!(prev.job_id, job);
        assert_eq!(prev.pid, child.id());
        assert_eq!(taken.record().generation, prev.generation + 1);
    }

    #[test]
    fn readers_share_the_lease_and_keep_writers_out() {
        let dir = tempfile::tempdir().unwrap();
        let job = JobId::new();
        let mut reader = holder(dir.path(), &job, true);
        // Another reader (another process's, or this one's) runs beside it.
        let ours = Lease::acquire_shared(dir.path(), JobKind::Verify, &JobId::new()).unwrap();
        drop(ours);
        // A writer is busy at once, and told which reader holds the lease.
        let t = std::time::Instant::now();
        let err = Lease::acquire(dir.path(), JobKind::Prune, &JobId::new()).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(1), "busy must not wait");
        assert_eq!(err.exit_code(), 3);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "repository busy: restore job {job} running since "
            )),
            "{msg}"
        );
        assert!(msg.ends_with(&format!("(pid {})", reader.id())), "{msg}");
        // A killed reader's lock goes with it, and the writer clears its record.
        reader.kill().unwrap();
        reader.wait().unwrap();
        let writer = Lease::acquire(dir.path(), JobKind::Prune, &JobId::new()).unwrap();
        assert!(
            writer.previous().is_none(),
            "a reader is not an interrupted writer"
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join(READERS_DIR))
                .unwrap()
                .count(),
            0
        );
        drop(writer);
        // A reader releasing cleanly removes its record.
        let r = Lease::acquire_shared(dir.path(), JobKind::Restore, &JobId::new()).unwrap();
        assert_eq!(reader_records(dir.path()).len(), 1);
        drop(r);
        assert!(reader_records(dir.path()).is_empty());
    }

    #[test]
    fn a_writer_keeps_readers_out_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let job = JobId::new();
        let mut writer = holder(dir.path(), &job, false);
        let err = Lease::acquire_shared(dir.path(), JobKind::Restore, &JobId::new()).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("repository busy: backup job {job} running since ")),
            "{msg}"
        );
        assert!(msg.ends_with(&format!("(pid {})", writer.id())), "{msg}");
        writer.kill().unwrap();
        writer.wait().unwrap();
        Lease::acquire_shared(dir.path(), JobKind::Restore, &JobId::new()).unwrap();
    }
}

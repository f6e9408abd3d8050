//! The repository lease: one writing job at a time, and no stale locks.
//!
//! The lease is `flock(LOCK_EX | LOCK_NB)` on `REPO/local/lease`. The kernel drops the lock when
//! its holder's process ends, however it ends (exit, kill -9, power loss), so a lease is never
//! stale and nothing has to be deleted, guessed at or timed out. After locking, the holder writes
//! its [`HolderRecord`] into the file; a job that finds the lease taken reads that record to say
//! who holds it ([`Error::Busy`]). On a clean release the record is marked `released`. A new
//! holder that finds a record not marked released knows its holder died mid-job and reports it
//! ([`Lease::previous`]) so that job can be marked `interrupted`.

use super::history::JobId;
use super::time::{rfc3339, serde_rfc3339};
use super::{process, JobKind};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the lease under `REPO/local`.
pub const LEASE_FILE: &str = "lease";

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

/// The held lease. Released (and the record marked released) on drop.
#[derive(Debug)]
pub struct Lease {
    file: File,
    path: PathBuf,
    record: HolderRecord,
    previous: Option<HolderRecord>,
}

impl Lease {
    /// Take the lease of the repository whose private state directory is `local_dir`
    /// (`REPO/local`), for job `job_id` of kind `kind`. Never waits: if another job holds it,
    /// fails at once with [`Error::Busy`] naming that job, its kind, pid and start time.
    pub fn acquire(local_dir: &Path, kind: JobKind, job_id: &JobId) -> Result<Lease> {
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
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(Error::Busy {
                    holder: busy_holder(&mut file),
                });
            }
            return Err(Error::io(format!("locking {}", path.display()), e));
        }
        // We hold the lock: whatever record is there was left by an earlier holder.
        let previous = read_record(&mut file).ok().flatten();
        let (pid, process_start) = process::current();
        let record = HolderRecord {
            job_id: job_id.clone(),
            kind,
            pid,
            process_start,
            host: host_name(),
            generation: previous.as_ref().map_or(0, |p| p.generation) + 1,
            since: Utc::now(),
            released: false,
        };
        write_record(&mut file, &record).map_err(|e| Error::io(path.display().to_string(), e))?;
        let previous = previous.filter(|p| !p.released);
        Ok(Lease {
            file,
            path,
            record,
            previous,
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
        write_record(&mut self.file, &self.record)
            .map_err(|e| Error::io(self.path.display().to_string(), e))
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

/// The busy message's subject: the holder's record. The holder writes it just after locking, so
/// a reader can catch the file empty or still showing the previous holder; retry briefly.
fn busy_holder(file: &mut File) -> String {
    for _ in 0..10 {
        if let Ok(Some(r)) = read_record(file) {
            if !r.released && process::is_alive(r.pid, r.process_start) {
                return r.describe();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    match read_record(file) {
        Ok(Some(r)) if !r.released => r.describe(),
        _ => "another job holds the lease (it is just starting or its record is unreadable)".into(),
    }
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

    /// Child side of the kill -9 test: take the lease, say so, then wait to be killed.
    #[test]
    fn lease_child_holds_until_killed() {
        let Ok(dir) = std::env::var("CAIRN_TEST_LEASE_CHILD_DIR") else {
            return;
        };
        let id = JobId::parse(&std::env::var("CAIRN_TEST_LEASE_CHILD_JOB").unwrap()).unwrap();
        let _lease = Lease::acquire(Path::new(&dir), JobKind::Backup, &id).unwrap();
        println!("CHILD-HOLDS-LEASE");
        std::thread::sleep(Duration::from_secs(60));
    }

    #[test]
    fn a_lease_left_by_a_killed_process_is_taken_over_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let job = JobId::new();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "jobs::lease::tests::lease_child_holds_until_killed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CAIRN_TEST_LEASE_CHILD_DIR", dir.path())
            .env("CAIRN_TEST_LEASE_CHILD_JOB", job.as_str())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the child holds the lease.
        let mut out = child.stdout.take().unwrap();
        let mut seen = String::new();
        let mut buf = [0u8; 256];
        while !seen.contains("CHILD-HOLDS-LEASE") {
            let n = out.read(&mut buf).unwrap();
            assert!(n > 0, "child ended before taking the lease: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
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
}

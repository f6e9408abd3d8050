//! Opening a sled database (the index, the job state) while another handle may hold its lock.
//!
//! sled locks a database by `flock` on its file `db` and, when that fails, reports an
//! `Error::Io` of kind `Other` whose only trace of the cause is its text. So whether the lock
//! is held is asked of the operating system (a non-blocking `flock` of our own on the same
//! file), never read from sled's message.

use std::path::Path;
use std::time::{Duration, Instant};

/// Why a sled database could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// Another handle (of this process or another) kept the database's lock for longer than
    /// the patience.
    Locked,
    /// Any other failure (damage, I/O, ...).
    Failed(sled::Error),
}

/// Open the sled database at `dir` with `open`, retrying with a growing pause (5 ms doubling to
/// 100 ms) for up to `patience` while another handle holds its lock.
pub(crate) fn open_patiently<T>(
    dir: &Path,
    patience: Duration,
    mut open: impl FnMut() -> sled::Result<T>,
) -> Result<T, OpenError> {
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_millis(5);
    // sled failed although the lock was free: the holder may have let go just before we asked,
    // so it counts as another failure only the second time in a row
    let mut free_failures = 0;
    loop {
        let e = match open() {
            Ok(t) => return Ok(t),
            Err(sled::Error::Io(io)) if io.kind() == std::io::ErrorKind::Other => {
                sled::Error::Io(io)
            }
            Err(e) => return Err(OpenError::Failed(e)),
        };
        let held = lock_held(dir);
        free_failures = if held { 0 } else { free_failures + 1 };
        if free_failures >= 2 {
            return Err(OpenError::Failed(e));
        }
        if Instant::now() >= deadline {
            return Err(if held {
                OpenError::Locked
            } else {
                OpenError::Failed(e)
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The segment size of the sled databases cairn creates. sled writes its log in segments and a
/// database's files never take less than one, so sled's default of 512 KiB was the floor of
/// each of `local/index` and `local/state` while they hold a few kilobytes (measured on `src`:
/// 524 KB each against 65 KB with 64 KiB; benches/RESULTS.md). sled writes a message over a
/// quarter of a segment (16 KiB here) to a file of its own; the index's nodes (leaves of at most
/// 16 entries, inner nodes of at most 256 children, of 32-byte keys) stay under it.
pub(crate) const SEGMENT: usize = 64 << 10;

/// sled's own segment size, which a database created before [`SEGMENT`] keeps: sled refuses to
/// open a database with another size than it was created with, and compaction moves the index
/// to the new size when it copies it.
const SLED_SEGMENT: usize = 512 << 10;

/// Open the database `config` describes (its path set, its segment size not) with [`SEGMENT`]
/// segments, or with sled's default if it was created with those.
pub(crate) fn open(config: impl Fn() -> sled::Config) -> sled::Result<sled::Db> {
    match config().segment_size(SEGMENT).open() {
        Err(sled::Error::Unsupported(_)) => config().segment_size(SLED_SEGMENT).open(),
        r => r,
    }
}

/// Whether another open file holds the lock sled takes on the database at `dir` (`flock` on
/// `dir/db`). Our probe is a separate open file, so it sees this process's own handles too, and
/// closing it leaves their locks alone.
fn lock_held(dir: &Path) -> bool {
    use rustix::fs::{flock, FlockOperation};
    let Ok(file) = std::fs::File::open(dir.join("db")) else {
        return false;
    };
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        // closing the file lets go of the probe's lock
        Ok(()) => false,
        Err(e) => e == rustix::io::Errno::WOULDBLOCK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_other(text: &str) -> sled::Error {
        sled::Error::Io(std::io::Error::other(text.to_string()))
    }

    /// The segment size sled records in a database's `conf` file.
    fn recorded_segment(dir: &Path) -> String {
        let conf = std::fs::read(dir.join("conf")).unwrap();
        let text = String::from_utf8_lossy(&conf).into_owned();
        let line = text.lines().find(|l| l.starts_with("segment_size:"));
        line.unwrap()
            .trim_start_matches("segment_size:")
            .trim()
            .to_string()
    }

    #[test]
    fn new_databases_get_small_segments_and_old_ones_keep_theirs() {
        let d = tempfile::tempdir().unwrap();
        let fresh = d.path().join("fresh");
        let db = open(|| sled::Config::new().path(&fresh)).unwrap();
        db.insert("k", "v").unwrap();
        db.flush().unwrap();
        drop(db);
        assert_eq!(recorded_segment(&fresh), SEGMENT.to_string());
        let size = std::fs::metadata(fresh.join("db")).unwrap().len();
        assert!(size < SLED_SEGMENT as u64, "{size} bytes for one entry");

        // a database sled created with its default size opens, with what it holds
        let old = d.path().join("old");
        let db = sled::Config::new().path(&old).open().unwrap();
        db.insert("k", "v").unwrap();
        db.flush().unwrap();
        drop(db);
        let db = open(|| sled::Config::new().path(&old)).unwrap();
        assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
        drop(db);
        assert_eq!(recorded_segment(&old), SLED_SEGMENT.to_string());
    }

    #[test]
    fn a_held_lock_is_told_by_the_os_not_by_the_message() {
        let d = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(d.path()).open().unwrap();
        // wording that says nothing of a lock: still busy, because the OS says the lock is held
        let r: Result<(), _> = open_patiently(d.path(), Duration::from_millis(50), || {
            Err(io_other("something else went wrong"))
        });
        assert!(matches!(r, Err(OpenError::Locked)), "{r:?}");
        drop(db);
    }

    #[test]
    fn a_message_about_a_lock_is_not_a_held_lock() {
        let d = tempfile::tempdir().unwrap();
        // the file sled locks, with no handle on it (a dropped sled handle may keep its lock for
        // a moment on its flusher thread, which made this test count one more call now and then)
        std::fs::write(d.path().join("db"), b"").unwrap();
        let mut calls = 0;
        let r: Result<(), _> = open_patiently(d.path(), Duration::from_secs(5), || {
            calls += 1;
            Err(io_other("could not acquire lock on \"db\": WouldBlock"))
        });
        assert!(matches!(r, Err(OpenError::Failed(_))), "{r:?}");
        assert_eq!(
            calls, 2,
            "a free lock is asked about twice, then the error is returned"
        );
    }

    #[test]
    fn a_second_handle_waits_until_the_first_lets_go() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("db-dir");
        let first = sled::Config::new().path(&path).open().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(first);
        });
        let second = open_patiently(&path, Duration::from_secs(10), || {
            sled::Config::new().path(&path).open()
        });
        t.join().unwrap();
        assert!(second.is_ok(), "{:?}", second.err());
    }
}

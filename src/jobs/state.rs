//! The controller's state database, `REPO/local/state` (sled): job history and alerts.
//!
//! sled holds an exclusive lock on its database for as long as a process keeps it open, and
//! read-only commands (`cairn jobs`, `cairn alerts`) must never wait on a running job. So every
//! process opens it only for one short read or write ([`with_state`]): open, work, flush, drop.
//! When another process holds it at that moment, opening is retried for up to [`OPEN_PATIENCE`].

use crate::sled_open::OpenError;
use crate::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// How long to keep retrying while another process has the database open.
pub const OPEN_PATIENCE: Duration = Duration::from_secs(3);

/// File name of the database under `REPO/local`.
pub const STATE_DB: &str = "state";

/// Open `local_dir/state`, run `f` on it, flush, close. Retries the open while another process
/// holds the database (for up to [`OPEN_PATIENCE`]).
pub fn with_state<T>(local_dir: &Path, f: impl FnOnce(&sled::Db) -> Result<T>) -> Result<T> {
    let _turn = take_turn();
    #[cfg(test)]
    tests::opened(local_dir);
    std::fs::create_dir_all(local_dir)
        .map_err(|e| Error::io(local_dir.display().to_string(), e))?;
    let path = local_dir.join(STATE_DB);
    let mut discarded = false;
    let db = loop {
        match crate::sled_open::open_patiently(&path, OPEN_PATIENCE, || {
            crate::sled_open::open(|| sled::Config::new().path(&path))
        }) {
            Ok(db) => break db,
            Err(OpenError::Locked) => {
                return Err(Error::failed(
                    format!("the job state database {} stayed locked by another process for {}s", path.display(), OPEN_PATIENCE.as_secs()),
                    "another cairn process keeps REPO/local/state open: check `ps` for a stuck cairn process, then retry",
                ));
            }
            Err(OpenError::Failed(e)) if is_corruption(&e) && !discarded => {
                // sled can be left unreadable by a kill at the wrong moment. The job history and
                // alerts are a record, not the backups: start a new one rather than stop every
                // job (the backups, the index and the target are untouched)
                tracing::warn!(
                    "the job state database {} is damaged ({e}); starting a new job history",
                    path.display()
                );
                crate::fsutil::move_aside_corrupt(&path)?;
                discarded = true;
            }
            Err(OpenError::Failed(e)) => return Err(e.into()),
        }
    };
    let out = f(&db)?;
    db.flush()?;
    Ok(out)
}

/// Threads of one process (the API's requests, the scheduler) take turns on the database in
/// order here, instead of racing for sled's file lock: racing, one of many concurrent readers
/// could lose every retry for [`OPEN_PATIENCE`] and fail although no other process holds it.
/// Not re-entrant: no caller opens the database inside its own turn (sled's file lock would
/// refuse that anyway).
fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // a panic while holding it leaves nothing half-done here: the database is sled's
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Like [`with_state`] for reading: if the database does not exist yet (no job ever ran),
/// returns `T::default()` without creating it.
pub fn read_state<T: Default>(
    local_dir: &Path,
    f: impl FnOnce(&sled::Db) -> Result<T>,
) -> Result<T> {
    if !local_dir.join(STATE_DB).exists() {
        return Ok(T::default());
    }
    with_state(local_dir, f)
}

/// Whether sled found the database's files unreadable (as opposed to busy, or an I/O error of
/// the disk, which must reach the operator).
fn is_corruption(e: &sled::Error) -> bool {
    matches!(
        e,
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)
    )
}

/// Decode a JSON value stored in the database, naming the record if it is damaged.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    key: &[u8],
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::corrupt(
            format!(
                "{what} {} in REPO/local/state",
                String::from_utf8_lossy(key)
            ),
            format!("does not decode: {e}"),
        )
    })
}

/// Encode a value for the database.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| {
        Error::failed(
            format!("cannot encode a job state record: {e}"),
            "report this as a bug",
        )
    })
}

#[cfg(test)]
pub(super) mod tests {
    /// How many times each state directory's database was opened (any test's: use your own).
    static OPENS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

    pub(in crate::jobs) fn opened(local: &std::path::Path) {
        OPENS.lock().unwrap().push(local.to_path_buf());
    }

    /// The openings of `local`'s state database so far.
    pub(in crate::jobs) fn opens_of(local: &std::path::Path) -> usize {
        OPENS
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.as_path() == local)
            .count()
    }

    use super::*;

    #[test]
    fn many_threads_of_one_process_all_get_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().to_path_buf();
        with_state(&local, |db| {
            db.insert("k", "v")?;
            Ok(())
        })
        .unwrap();
        let threads: Vec<_> = (0..128)
            .map(|_| {
                let local = local.clone();
                std::thread::spawn(move || {
                    (0..4)
                        .map(|_| {
                            with_state(&local, |db| Ok(db.get("k")?.map(|v| v.to_vec())))
                                .map_err(|e| e.to_string())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for t in threads {
            for r in t.join().unwrap() {
                assert_eq!(r, Ok(Some(b"v".to_vec())));
            }
        }
    }

    #[test]
    fn a_damaged_state_database_is_replaced_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().to_path_buf();
        with_state(&local, |db| {
            db.insert("k", "v")?;
            Ok(())
        })
        .unwrap();
        // what a kill at the wrong moment can leave: sled rewrites its `conf` file in place
        // when it opens a database, and a cut one reads as corruption
        let conf = local.join(STATE_DB).join("conf");
        let bytes = std::fs::read(&conf).unwrap();
        std::fs::write(&conf, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(
            sled::Config::new().path(local.join(STATE_DB)).open(),
            Err(sled::Error::Corruption { .. })
        ));
        let v = with_state(&local, |db| Ok(db.get("k")?.map(|v| v.to_vec()))).unwrap();
        assert_eq!(v, None, "a new, empty job history");
        with_state(&local, |db| {
            db.insert("k2", "v2")?;
            Ok(())
        })
        .unwrap();
        let names: Vec<String> = std::fs::read_dir(&local)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [STATE_DB],
            "the damaged copy is left behind: {names:?}"
        );
    }

    #[test]
    fn reading_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local");
        let n: Vec<u8> = read_state(&local, |_| Ok(vec![1])).unwrap();
        assert!(n.is_empty());
        assert!(!local.exists());
    }

    #[test]
    fn a_second_opener_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().to_path_buf();
        let l2 = local.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            with_state(&l2, |db| {
                tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
                db.insert("k", "v")?;
                Ok(())
            })
        });
        rx.recv().unwrap();
        let t = std::time::Instant::now();
        let v = with_state(&local, |db| Ok(db.get("k")?.map(|v| v.to_vec()))).unwrap();
        holder.join().unwrap().unwrap();
        assert_eq!(
            v.as_deref(),
            Some(&b"v"[..]),
            "the reader saw the holder's write after waiting"
        );
        assert!(t.elapsed() >= Duration::from_millis(150));
    }
}

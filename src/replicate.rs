//! Copying a repository's objects between two backends: `export` (internal copy → target) and
//! `fetch` (target → a new internal copy, for recovery). The direction does not matter.
//!
//! Rules:
//! - Only objects the destination lacks (missing, or of a different size) are sent, so an
//!   interrupted copy resumes where it stopped.
//! - Commit order: `config`, `keys/`, any other object, `data/`, and `backups/` last, each phase
//!   complete before the next starts: a manifest never reaches the destination before its packs.
//! - Every object is checked at the source (a `data/` or `keys/` object is named by the blake3 of
//!   its bytes: a corrupt source copy is refused, never spread), written atomically, then read back
//!   from the destination and compared (size and blake3).
//! - A few objects are in flight at once: reading and hashing overlap the network.

use crate::backend::{Backend, ObjectInfo};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::time::Instant;

/// How many objects are copied at once.
pub const WORKERS: usize = 4;

/// Progress of a copy, reported after each object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProgress {
    /// The phase: "config", "keys", "other", "data" or "backups".
    pub phase: &'static str,
    /// Objects sent so far.
    pub objects_done: u64,
    /// Objects to send in all.
    pub objects_total: u64,
    /// Bytes sent so far.
    pub bytes_done: u64,
    /// Bytes to send in all.
    pub bytes_total: u64,
    /// The object just sent.
    pub object: String,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ExportReport {
    /// Objects written to the destination.
    pub objects_sent: u64,
    /// Bytes written to the destination.
    pub bytes_sent: u64,
    /// Objects already at the destination (same name and size), not sent.
    pub objects_skipped: u64,
    /// Temporary files of an earlier interrupted copy removed from the destination.
    pub temp_removed: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

const PHASES: [&str; 5] = ["config", "keys", "other", "data", "backups"];

fn phase_of(name: &str) -> usize {
    if name == "config" {
        0
    } else if name.starts_with("keys/") {
        1
    } else if name.starts_with("data/") {
        3
    } else if name.starts_with("backups/") {
        4
    } else {
        2
    }
}

/// Send to `dst` every object of `src` that `dst` lacks. See the module documentation.
pub fn export(
    src: &dyn Backend,
    dst: &dyn Backend,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    copy_missing(src, dst, progress)
}

/// Copy from the target to a (new) internal repository: [`export`] with the roles swapped.
pub fn fetch(
    target: &dyn Backend,
    local: &dyn Backend,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    copy_missing(target, local, progress)
}

/// The objects of `src` that `dst` lacks, by phase (names sorted within a phase).
pub fn missing(src: &dyn Backend, dst: &dyn Backend) -> Result<(Vec<Vec<ObjectInfo>>, u64)> {
    let have: HashMap<String, u64> = dst
        .list("")?
        .into_iter()
        .map(|o| (o.name, o.size))
        .collect();
    let mut phases: Vec<Vec<ObjectInfo>> = vec![Vec::new(); PHASES.len()];
    let mut skipped = 0;
    for o in src.list("")? {
        if have.get(&o.name) == Some(&o.size) {
            skipped += 1;
        } else {
            phases[phase_of(&o.name)].push(o);
        }
    }
    for p in &mut phases {
        p.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok((phases, skipped))
}

/// The direction-neutral copy behind [`export`] and [`fetch`].
pub fn copy_missing(
    src: &dyn Backend,
    dst: &dyn Backend,
    progress: &dyn Fn(ExportProgress),
) -> Result<ExportReport> {
    let start = Instant::now();
    let temp_removed = dst.clean_temp()? as u64;
    let (phases, skipped) = missing(src, dst)?;
    let mut report = ExportReport {
        objects_skipped: skipped,
        temp_removed,
        ..Default::default()
    };
    let objects_total = phases.iter().map(|p| p.len() as u64).sum();
    let bytes_total = phases.iter().flatten().map(|o| o.size).sum();
    for (i, objects) in phases.iter().enumerate() {
        if objects.is_empty() {
            continue;
        }
        let phase = PHASES[i];
        let res = copy_phase(src, dst, objects, &mut |name, bytes| {
            report.objects_sent += 1;
            report.bytes_sent += bytes;
            progress(ExportProgress {
                phase,
                objects_done: report.objects_sent,
                objects_total,
                bytes_done: report.bytes_sent,
                bytes_total,
                object: name.to_string(),
            });
        });
        res?;
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Copy `objects` with a few workers; every one is done (or the first error returned) before
/// this returns. `done` runs on the calling thread after each object.
fn copy_phase(
    src: &dyn Backend,
    dst: &dyn Backend,
    objects: &[ObjectInfo],
    done: &mut dyn FnMut(&str, u64),
) -> Result<()> {
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<&ObjectInfo>();
    let (res_tx, res_rx) = crossbeam_channel::unbounded::<(String, Result<u64>)>();
    let stop = std::sync::atomic::AtomicBool::new(false);
    for o in objects {
        // The receiver lives until the scope ends, so this cannot fail.
        let _ = job_tx.send(o);
    }
    drop(job_tx);
    let workers = WORKERS.min(objects.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let job_rx = job_rx.clone();
            let res_tx = res_tx.clone();
            let stop = &stop;
            s.spawn(move || {
                while let Ok(o) = job_rx.recv() {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let r = copy_one(src, dst, &o.name);
                    if r.is_err() {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    if res_tx.send((o.name.clone(), r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        let mut first_err = None;
        for (name, r) in res_rx.iter() {
            match r {
                Ok(bytes) => done(&name, bytes),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}

/// Whether an object is named by the blake3 hex of its bytes.
fn content_addressed(name: &str) -> bool {
    name.starts_with("data/") || name.starts_with("keys/")
}

/// Copy one object, checking it at both ends; returns its size.
fn copy_one(src: &dyn Backend, dst: &dyn Backend, name: &str) -> Result<u64> {
    let bytes = src.read(name)?;
    let hash = blake3::hash(&bytes);
    if content_addressed(name) {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base != hash.to_hex().as_str() {
            return Err(Error::corrupt(
                format!("{}: {name}", src.describe()),
                format!(
                    "its bytes hash to {} ({} bytes), not to its name; it was not copied",
                    hash.to_hex(),
                    bytes.len()
                ),
            ));
        }
    }
    dst.write(name, &bytes)?;
    let back = dst.read(name)?;
    let back_hash = blake3::hash(&back);
    if back.len() != bytes.len() || back_hash != hash {
        // Do not leave a bad copy under the object's name: the next run sends it again.
        let _ = dst.delete(name);
        return Err(Error::corrupt(
            format!("{}: {name}", dst.describe()),
            format!(
                "it read back as {} bytes with blake3 {} after writing {} bytes with blake3 {}; the bad copy was removed, run the copy again",
                back.len(),
                back_hash.to_hex(),
                bytes.len(),
                hash.to_hex()
            ),
        ));
    }
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{FaultyBackend, MemoryBackend};
    use crate::error::StorageErrorKind;
    use std::sync::Mutex;

    fn pack(seed: u8, len: usize) -> (String, Vec<u8>) {
        let bytes: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        let h = blake3::hash(&bytes).to_hex().to_string();
        (format!("data/{}/{h}", &h[..2]), bytes)
    }

    fn repo() -> MemoryBackend {
        let m = MemoryBackend::new();
        m.write("config", b"repository config").unwrap();
        let key = b"key envelope".to_vec();
        m.write(&format!("keys/{}", blake3::hash(&key).to_hex()), &key)
            .unwrap();
        for i in 0..12 {
            let (n, b) = pack(i, 1000 + i as usize * 97);
            m.write(&n, &b).unwrap();
        }
        m.write("backups/20261122T053600.123Z", b"manifest 1")
            .unwrap();
        m.write("backups/20261122T173600.456Z", b"manifest 2")
            .unwrap();
        m
    }

    fn same(a: &dyn Backend, b: &dyn Backend) {
        let mut la = a.list("").unwrap();
        let mut lb = b.list("").unwrap();
        la.sort_by(|x, y| x.name.cmp(&y.name));
        lb.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(la, lb);
        for o in la {
            assert_eq!(
                a.read(&o.name).unwrap(),
                b.read(&o.name).unwrap(),
                "{}",
                o.name
            );
        }
    }

    /// Records the order of writes.
    struct Recorder {
        inner: MemoryBackend,
        writes: Mutex<Vec<String>>,
    }

    impl Backend for Recorder {
        fn describe(&self) -> String {
            "recorder".into()
        }
        fn list(
            &self,
            p: &str,
        ) -> std::result::Result<Vec<ObjectInfo>, crate::error::StorageError> {
            self.inner.list(p)
        }
        fn read(&self, n: &str) -> std::result::Result<Vec<u8>, crate::error::StorageError> {
            self.inner.read(n)
        }
        fn read_range(
            &self,
            n: &str,
            o: u64,
            l: usize,
        ) -> std::result::Result<Vec<u8>, crate::error::StorageError> {
            self.inner.read_range(n, o, l)
        }
        fn write(&self, n: &str, d: &[u8]) -> std::result::Result<(), crate::error::StorageError> {
            self.writes.lock().unwrap().push(n.to_string());
            self.inner.write(n, d)
        }
        fn delete(&self, n: &str) -> std::result::Result<(), crate::error::StorageError> {
            self.inner.delete(n)
        }
        fn stat(&self, n: &str) -> std::result::Result<Option<u64>, crate::error::StorageError> {
            self.inner.stat(n)
        }
        fn clean_temp(&self) -> std::result::Result<usize, crate::error::StorageError> {
            self.inner.clean_temp()
        }
    }

    #[test]
    fn everything_is_copied_in_commit_order() {
        let src = repo();
        let dst = Recorder {
            inner: MemoryBackend::new(),
            writes: Mutex::new(Vec::new()),
        };
        let seen = Mutex::new(0u64);
        let r = export(&src, &dst, &|p| {
            *seen.lock().unwrap() += 1;
            assert!(p.objects_done <= p.objects_total);
        })
        .unwrap();
        assert_eq!(r.objects_sent, 16);
        assert_eq!(*seen.lock().unwrap(), 16);
        assert_eq!(r.objects_skipped, 0);
        same(&src, &dst.inner);
        let w = dst.writes.lock().unwrap();
        assert_eq!(w[0], "config");
        assert!(w[1].starts_with("keys/"));
        let last_pack = w.iter().rposition(|n| n.starts_with("data/")).unwrap();
        let first_manifest = w.iter().position(|n| n.starts_with("backups/")).unwrap();
        assert!(
            last_pack < first_manifest,
            "a manifest was written before a pack: {w:?}"
        );
        assert_eq!(w.len(), 16);
        // A second run sends nothing.
        let r2 = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!((r2.objects_sent, r2.objects_skipped), (0, 16));
    }

    #[test]
    fn a_dropped_connection_resumes_with_only_what_is_missing() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        // clean_temp + list, then a few objects (write + read-back each), then the line drops.
        dst.disconnect_after(2 + 2 * 5);
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        assert_eq!(err.cause_kind(), "disconnected", "{err}");
        let there = dst.inner().list("").unwrap();
        assert!(!there.is_empty() && there.len() < 16);
        assert!(
            there.iter().all(|o| !o.name.starts_with("backups/")),
            "a manifest was committed before its packs"
        );
        dst.heal();
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 16 - there.len() as u64);
        assert_eq!(r.objects_skipped, there.len() as u64);
        same(&src, dst.inner());
    }

    #[test]
    fn a_truncated_write_is_resent() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        // Op 1 clean_temp, op 2 list, op 3 write config, op 4 read-back, op 5 write the key: cut short.
        dst.truncate_write(5, 3);
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        assert_eq!(err.cause_kind(), "disconnected");
        let key = src.list("keys/").unwrap().remove(0);
        assert_eq!(dst.inner().stat(&key.name).unwrap(), Some(3));
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 15);
        same(&src, dst.inner());
    }

    #[test]
    fn a_silently_truncated_write_is_detected_by_reading_back() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        dst.plan(crate::backend::Fault::TruncateWriteAt {
            op: 5,
            keep: 3,
            kind: None,
        });
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        match &err {
            Error::Corrupt { object, detail } => {
                assert!(object.contains("keys/"), "{object}");
                assert!(detail.contains("read back as 3 bytes"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        let key = src.list("keys/").unwrap().remove(0);
        assert_eq!(
            dst.inner().stat(&key.name).unwrap(),
            None,
            "the bad copy was left in place"
        );
        assert!(dst.inner().list("backups/").unwrap().is_empty());
        export(&src, &dst, &|_| {}).unwrap();
        same(&src, dst.inner());
    }

    #[test]
    fn a_corrupt_source_is_refused_not_spread() {
        let src = repo();
        let (name, _) = pack(3, 1000 + 3 * 97);
        src.tamper(&name, |v| v[10] ^= 1);
        let dst = MemoryBackend::new();
        match export(&src, &dst, &|_| {}) {
            Err(Error::Corrupt { object, .. }) => assert!(object.contains(&name)),
            other => panic!("{other:?}"),
        }
        assert_eq!(dst.stat(&name).unwrap(), None);
        assert!(dst.list("backups/").unwrap().is_empty());
    }

    #[test]
    fn a_different_size_at_the_destination_is_replaced_and_fetch_goes_back() {
        let src = repo();
        let dst = MemoryBackend::new();
        export(&src, &dst, &|_| {}).unwrap();
        dst.write("backups/20261122T053600.123Z", b"short").unwrap();
        let r = export(&src, &dst, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 1);
        let back = MemoryBackend::new();
        let r = fetch(&dst, &back, &|_| {}).unwrap();
        assert_eq!(r.objects_sent, 16);
        same(&src, &back);
    }

    #[test]
    fn no_space_is_reported_as_such() {
        let src = repo();
        let dst = FaultyBackend::new(MemoryBackend::new());
        dst.fail_op(3, StorageErrorKind::NoSpace);
        let err = export(&src, &dst, &|_| {}).unwrap_err();
        assert_eq!(err.cause_kind(), "no_space");
        assert!(err.remedy().contains("prune"));
    }
}

//! A coordinated full backup of every service: all of it is committed, or none of it.
//!
//! Order of commit: packs (data and trees) are written and fsynced, then the manifest that makes
//! the backup exist. A failure or a crash before the manifest leaves only unreferenced packs,
//! which later backups reuse (they are indexed) and prune reclaims.

mod cache;
mod commit;
mod open;
mod refs;
mod segments;
mod spill;
mod store;
mod walk;
mod walkers;

pub use refs::{RefIter, Refs};
pub use store::{ChunkStore, StoreStats};

use crate::capture::Barrier;
use crate::controller::Controller;
use crate::crypto::{self, IdKey, SessionKey};
use crate::error::{Error, Result, ServiceCause};
use crate::format::envelope::{Envelope, EnvelopeKind};
use crate::format::manifest::{Definitions, Manifest, Phases, Prev, ServiceRecord, Span};
use crate::format::pack::BlobKind;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::{BackupId, ChunkId, KeyId};
use crate::index::Index;
use crate::progress::Progress;
use crate::service::{ServiceDef, COMMAND_OUTPUT};
use crate::signing::SigningKey;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use walk::{WalkStats, Walker};

/// Run one backup of all configured services; returns the committed manifest, without its
/// references ([`Manifest::refs`] is empty: they are written streamed, never held whole; read
/// the manifest back for them).
///
/// Every service's prepare hook runs first, all at once ([`crate::capture`]); capture begins
/// when all have succeeded, and that moment is the backup's point in time (`time_ms`). Services
/// are captured in parallel, each released as soon as its capture ends.
///
/// What it worked around (files that vanished, ...) is recorded on `progress`
/// ([`Progress::take_warnings`]): those texts name files, so they belong in the controller's job
/// record only; the manifest keeps just their count.
pub fn run(ctl: &Controller, progress: &Progress) -> Result<Manifest> {
    run_counted(ctl, progress).map(|(m, _)| m)
}

/// [`run`], and the number of chunks the committed manifest references (what
/// [`Manifest::refs`] would hold).
pub fn run_counted(ctl: &Controller, progress: &Progress) -> Result<(Manifest, u64)> {
    let services = configured_services(ctl)?;
    let signer = ctl.signer()?;
    ctl.repo.store.clean_temp()?;
    let index = Arc::new(ctl.index()?);
    let (epoch, id_key) = ctl.keys()?;
    let (key, session) = new_session(ctl, epoch, &signer)?;
    drop(signer);
    let id = next_id(ctl, now_ms())?.to_string();
    let warned_before = progress.warning_count();
    let barrier = Barrier::new(&ctl.local(), &services, &id, progress)?;
    let keys = Keys {
        id_key: &id_key,
        epoch,
        session,
    };
    let captured = barrier.prepare_all().and_then(|()| {
        let point_ms = now_ms();
        capture_all(
            ctl,
            &services,
            &barrier,
            progress,
            (index.clone(), key, keys),
        )
        .map(|c| (c, point_ms))
    });
    let (phases, released) = barrier.finish();
    let ((mut records, definitions, stats, new_cache), point_ms) = captured?;
    released?;
    for (r, p) in records.iter_mut().zip(phases) {
        r.phases = p;
    }
    let (seq, prev) = chain_link(ctl)?;
    let manifest = Manifest {
        id,
        repo_id: ctl.repo.config.repo_id,
        seq,
        prev,
        time_ms: point_ms,
        host: hostname(),
        epoch,
        session,
        services: records,
        definitions,
        refs: Vec::new(),
        warnings: progress.warning_count().saturating_sub(warned_before) as u64,
    };
    let chunks = commit::commit(ctl, &manifest, &stats.refs)?;
    drop(stats);
    new_cache.save(&index);
    // every writer thread has ended, so this is the last handle
    if let Ok(index) = Arc::try_unwrap(index) {
        index.compact_or_warn();
    }
    Ok((manifest, chunks))
}

/// A manifest listing `n` refs is one readers accept (`backend::budget`): refuse to commit one
/// they would not, saying what makes a backup need so many chunks.
fn refs_fit(n: u64) -> Result<()> {
    if n <= crate::backend::MAX_REFS {
        return Ok(());
    }
    Err(Error::failed(
        format!(
            "the backup needs {n} chunks, more than a manifest may list ({})",
            crate::backend::MAX_REFS
        ),
        "a service with a small --chunk-size holds too much data for it: remove it and add it again with a larger one (e.g. `--chunk-size 64K`), or split the data into services backed up apart",
    ))
}

/// The keys a backup's blobs are made with.
struct Keys<'a> {
    id_key: &'a IdKey,
    epoch: KeyId,
    session: KeyId,
}

/// Capture every service (in parallel) and the definitions into packs: the service records
/// (new bytes counted), the definitions blob and the store's figures.
fn capture_all(
    ctl: &Controller,
    services: &[ServiceDef],
    barrier: &Barrier<'_>,
    progress: &Progress,
    (index, key, k): (Arc<Index>, SessionKey, Keys<'_>),
) -> Result<(Vec<ServiceRecord>, ChunkId, StoreStats, cache::NewCache)> {
    let repo = &ctl.repo;
    let store = ChunkStore::start(
        repo.store.clone(),
        index.clone(),
        key,
        k.session,
        repo.config.pack_target,
        repo.config.zstd_level,
        services.len() + 1,
    )
    .spilling_to(ctl.local());
    let (mut records, definitions, new_cache) = std::thread::scope(|scope| -> Result<_> {
        let params = services
            .iter()
            .map(|s| s.chunker(repo.config.chunker))
            .collect();
        let walker = Walker::start(&store, &index, k.id_key, k.epoch, params, progress, scope);
        let records = capture_parallel(&walker, services, barrier)?;
        let defs = Definitions::of(services).encode();
        let defs_id = k.id_key.chunk_id(&defs);
        store.put(defs_id, BlobKind::Meta, &defs, services.len())?;
        Ok((records, defs_id, walker.take_cache()?))
    })?;
    let stats = store.finish()?;
    for (r, n) in records.iter_mut().zip(&stats.new_bytes) {
        r.bytes_new = *n;
    }
    if let (Some(first), Some(extra)) = (records.first_mut(), stats.new_bytes.get(services.len())) {
        first.bytes_new += extra;
    }
    Ok((records, definitions, stats, new_cache))
}

/// Capture the services on as many threads as there are cores (at most one per service),
/// releasing each as soon as its capture ends. After a failure the services not yet begun are
/// not captured (but released); the first failure in the configured order is returned.
fn capture_parallel(
    w: &Walker<'_>,
    services: &[ServiceDef],
    barrier: &Barrier<'_>,
) -> Result<Vec<ServiceRecord>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, services.len().max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: Mutex<Vec<Option<Result<ServiceRecord>>>> =
        Mutex::new(services.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            // (a deep stack: a service's walk recurses per directory level, and takes over
            // subtrees from its walker threads while it waits for theirs)
            let spawned = std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn_scoped(scope, || loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(s) = services.get(i) else { break };
                    let r = (!failed.load(Ordering::SeqCst)).then(|| capture_one(w, i, s, barrier));
                    barrier.release(i);
                    if matches!(r, Some(Err(_))) {
                        failed.store(true, Ordering::SeqCst);
                    }
                    done.lock().unwrap_or_else(|p| p.into_inner())[i] = r;
                });
            if spawned.is_err() {
                break; // the services not captured are reported below
            }
        }
    });
    let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    let (mut records, mut first_err, mut skipped) = (Vec::new(), None, false);
    for r in done {
        match r {
            Some(Ok(rec)) => records.push(rec),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => skipped = true,
        }
    }
    match (first_err, skipped) {
        (Some(e), _) => Err(e),
        (None, true) => Err(Error::failed("a service was not captured", "report a bug")),
        (None, false) => Ok(records),
    }
}

/// Capture service `i`, from the directory its prepare hook named if it did.
fn capture_one(
    w: &Walker<'_>,
    i: usize,
    s: &ServiceDef,
    barrier: &Barrier<'_>,
) -> Result<ServiceRecord> {
    let start_ms = now_ms();
    let r = back_up_service(w, i, s, barrier.capture_path(i).as_deref());
    barrier.captured(
        i,
        Span {
            start_ms,
            end_ms: now_ms(),
        },
    );
    r
}

/// The configured services, each checked before anything is written.
fn configured_services(ctl: &Controller) -> Result<Vec<ServiceDef>> {
    let services = ctl.services()?.services;
    if services.is_empty() {
        return Err(Error::usage(
            "no services are configured",
            "add one first, e.g. `cairn service add identity --path /var/lib/identity`",
        ));
    }
    for s in &services {
        precheck(s)?;
    }
    Ok(services)
}

/// A fresh session key for one backup, wrapped to the recipients of key epoch `epoch` in an
/// envelope stored in the repository; the key and the envelope's id.
fn new_session(ctl: &Controller, epoch: KeyId, signer: &SigningKey) -> Result<(SessionKey, KeyId)> {
    let recipients: Vec<crypto::Recipient> = ctl
        .repo
        .epoch_recipients(&epoch)?
        .iter()
        .map(|r| crypto::parse_recipient(r))
        .collect::<Result<_>>()?;
    let key = SessionKey::generate();
    let envelope = Envelope {
        kind: EnvelopeKind::Session { epoch },
        created_ms: now_ms(),
        wrapped: crypto::wrap_key(key.expose(), &recipients)?,
    };
    let session = ctl.repo.put_envelope(&envelope, signer)?;
    Ok((key, session))
}

/// The chain link of the next backup: after the newest valid manifest (sequence number plus
/// one, its id and the blake3 of its bytes), or the first of the chain. For code (and tests)
/// that commit a manifest of their own with [`Controller::commit_manifest`].
pub fn chain_link(ctl: &Controller) -> Result<(u64, Option<Prev>)> {
    commit::chain_link(ctl)
}

fn precheck(s: &ServiceDef) -> Result<()> {
    let Some(p) = &s.path else { return Ok(()) };
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::service(
            &s.name,
            ServiceCause::PathMissing,
            format!("path {p} is not a directory"),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::service_io(
            &s.name,
            ServiceCause::PathMissing,
            format!("path {p} does not exist"),
            e,
        )),
        Err(e) => Err(Error::service_io(
            &s.name,
            ServiceCause::of_path(&e),
            format!("path {p} cannot be read: {e}"),
            e,
        )),
    }
}

fn back_up_service(
    w: &Walker<'_>,
    slot: usize,
    s: &ServiceDef,
    from: Option<&str>,
) -> Result<ServiceRecord> {
    let t0 = Instant::now();
    let mut stats = WalkStats::default();
    let (root, meta) = match (&s.path, &s.command) {
        (Some(p), _) => {
            let p = from.unwrap_or(p);
            let key = cache_root(s);
            let (tree, m) = w.dir(slot, &s.name, Path::new(p), &key, &mut stats)?;
            (tree, (m.mode, m.uid, m.gid, m.mtime.0))
        }
        (None, Some(cmd)) => (
            run_command(w, slot, s, cmd, &mut stats)?,
            (
                0o700,
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw(),
                now_ms() / 1000,
            ),
        ),
        (None, None) => {
            return Err(Error::usage(
                format!("service {} has neither path nor command", s.name),
                "remove and add it again",
            ))
        }
    };
    Ok(ServiceRecord {
        name: s.name.clone(),
        kind: s.kind().into(),
        root,
        files: stats.files,
        dirs: stats.dirs,
        bytes: stats.bytes,
        bytes_new: 0,
        duration_ms: t0.elapsed().as_millis() as u64,
        root_mode: meta.0,
        root_uid: meta.1,
        root_gid: meta.2,
        root_mtime_s: meta.3,
        phases: Phases::default(),
    })
}

/// The files cache's path of service `s`'s root: its name, and for a service with chunk bounds
/// of its own, a NUL (no name holds one) and its average. A service removed and added again
/// with other bounds then finds none of the records cut with the old ones, which would
/// otherwise guide its large files to the old bounds' cuts (chunker/guided.rs).
fn cache_root(s: &ServiceDef) -> Vec<u8> {
    let mut key = s.name.as_bytes().to_vec();
    if let Some(avg) = s.chunk_size {
        key.push(0);
        key.extend_from_slice(&avg.to_le_bytes());
    }
    key
}

/// Back up a command's standard output as the file `stdout`.
fn run_command(
    w: &Walker<'_>,
    slot: usize,
    s: &ServiceDef,
    cmd: &str,
    stats: &mut WalkStats,
) -> Result<crate::id::ChunkId> {
    use std::process::Stdio;
    // The command line never goes into the error: it may hold secrets (`PGPASSWORD=… pg_dump`),
    // and errors reach alerts and notifications. See `service_command_failed`.
    let fail = |detail: String| Error::service(&s.name, ServiceCause::CommandFailed, detail);
    let fail_io = |detail: String, e: std::io::Error| {
        Error::service_io(
            &s.name,
            ServiceCause::CommandFailed,
            format!("{detail}: {e}"),
            e,
        )
    };
    let mut child = crate::sys::shell(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail_io("its command could not be started (sh)".into(), e))?;
    let mut stderr = child.stderr.take();
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_end(&mut v);
        }
        crate::service::stderr_excerpt(&v)
    });
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| fail("no standard output".into()))?;
    let streamed = w.stream(&mut stdout, slot);
    if streamed.is_err() {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| fail_io("waiting for its command".into(), e))?;
    let err_text = err_thread.join().unwrap_or_default();
    let (chunks, size) = streamed?;
    if !status.success() {
        if !err_text.is_empty() {
            w.progress.warn(format!(
                "{}: the end of its command's error output: {err_text}",
                s.name
            ));
        }
        return Err(fail(crate::service::exit_cause(&status)));
    }
    stats.files += 1;
    stats.dirs += 1;
    stats.bytes += size;
    w.progress.file(0);
    let now = now_ms();
    let node = Node {
        name: COMMAND_OUTPUT.as_bytes().to_vec(),
        kind: NodeKind::File { chunks },
        mode: 0o600,
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        mtime_s: now / 1000,
        mtime_ns: ((now % 1000) * 1_000_000) as u32,
        size,
    };
    w.put_tree(&Tree { nodes: vec![node] }, slot)
}

/// A new backup id: the start time, made later than every existing backup's.
/// (Names that are not real dates are ignored; one far in the future moves the id past it at
/// once instead of counting up to it a millisecond at a time.)
fn next_id(ctl: &Controller, started_ms: i64) -> Result<BackupId> {
    let newest = ctl
        .repo
        .store
        .list(crate::object::ObjectKind::Manifest.prefix())?
        .into_iter()
        .filter_map(|o| crate::object::ObjectName::manifest(&o.name)?.millis())
        .max();
    Ok(BackupId::from_millis(match newest {
        Some(n) if n >= started_ms => n + 1,
        _ => started_ms,
    }))
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::walk::tests::take_opened_under;
    use crate::progress::Progress;
    use crate::testutil::TestRepo;

    #[test]
    fn a_backup_needing_more_refs_than_a_manifest_may_list_is_refused() {
        let max = crate::backend::MAX_REFS;
        assert!(super::refs_fit(max).is_ok());
        let e = super::refs_fit(max + 1).unwrap_err();
        assert!(
            e.to_string().contains("more than a manifest may list"),
            "{e}"
        );
    }
    use std::path::{Path, PathBuf};

    /// Back up; the files (under the source) the readers opened, and the service's root tree.
    fn backup(t: &TestRepo) -> (Vec<PathBuf>, crate::id::ChunkId) {
        let m = super::run(&t.ctl, &Progress::default()).unwrap();
        (take_opened_under(&t.src), m.services[0].root)
    }

    fn paths(p: &[&str]) -> Vec<PathBuf> {
        p.iter().map(PathBuf::from).collect()
    }

    /// `d` directories `d0`…, each with the files `a` and `b`, and one file in the root.
    fn tree_of(src: &Path, d: usize) {
        std::fs::write(src.join("top"), b"top").unwrap();
        for i in 0..d {
            std::fs::create_dir_all(src.join(format!("d{i}"))).unwrap();
            for f in ["a", "b"] {
                std::fs::write(src.join(format!("d{i}/{f}")), format!("{i} {f}")).unwrap();
            }
        }
    }

    /// A re-backup opens no unchanged file; a changed file is read again and its unchanged
    /// siblings are not.
    #[test]
    fn a_rebackup_reads_only_the_changed_file_not_its_siblings() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 3);
        let (first, _) = backup(&t);
        assert_eq!(first.len(), 7, "{first:?}");
        assert_eq!(backup(&t).0, paths(&[]), "unchanged re-backup");
        std::fs::write(t.src.join("d1/b"), b"changed, and longer").unwrap();
        assert_eq!(backup(&t).0, paths(&["d1/b"]));
        assert_eq!(backup(&t).0, paths(&[]), "its new state is cached");
    }

    /// Remove the service `svc` and add it again with chunks of `avg` bytes on average.
    fn add_again_with_chunks(t: &TestRepo, avg: u32) {
        let mut services = t.ctl.services().unwrap();
        let mut def = services.remove("svc").unwrap();
        def.chunk_size = Some(avg);
        services.add(def).unwrap();
        t.ctl.save_services(&services).unwrap();
    }

    /// Write `dump` as the service's file `dump` and back up: it is read again, unguided, and
    /// restores with these bytes.
    fn backs_up_unguided(t: &TestRepo, dump: &[u8]) {
        use super::walk::tests::take_guided_under;
        std::fs::write(t.src.join("dump"), dump).unwrap();
        take_opened_under(&t.src);
        let m = super::run(&t.ctl, &Progress::default()).unwrap();
        assert_eq!(take_guided_under(&t.src), []);
        assert_eq!(take_opened_under(&t.src), paths(&["dump"]));
        restores_identically(t, &m);
    }

    /// A large file that changed is chunked guided by the chunks it had: those still there are
    /// taken without cutting, and it restores with its new bytes.
    #[test]
    fn a_changed_large_file_is_cut_where_its_previous_chunks_were() {
        use super::walk::tests::take_guided_under;
        let t = TestRepo::with_service("svc");
        let len = (crate::chunker::PIPED_MIN as usize) + (4 << 20);
        let mut dump = crate::testutil::bytes(11, len);
        std::fs::write(t.src.join("dump"), &dump).unwrap();
        super::run(&t.ctl, &Progress::default()).unwrap();
        let mut chunks = 0;
        let p = crate::chunker::ChunkerParams::default();
        crate::chunker::chunk_reader::<_, ()>(&mut &dump[..], p, &mut Vec::new(), |_| {
            chunks += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            take_guided_under(&t.src),
            [],
            "a first backup has nothing to follow"
        );
        // scattered edits: bytes replaced, some inserted, some removed
        dump[len / 5..len / 5 + 100].fill(1);
        dump.splice(len / 2..len / 2, crate::testutil::bytes(12, 3000));
        dump.drain(4 * len / 5..4 * len / 5 + 777);
        std::fs::write(t.src.join("dump"), &dump).unwrap();
        let m = super::run(&t.ctl, &Progress::default()).unwrap();
        let guided = take_guided_under(&t.src);
        assert_eq!(guided.len(), 1, "{guided:?}");
        assert_eq!(guided[0].0, PathBuf::from("dump"));
        assert!(
            guided[0].1 + 10 >= chunks,
            "{} of about {chunks} chunks taken",
            guided[0].1
        );
        restores_identically(&t, &m);
        // the service removed and added again with other chunk bounds: no record of the old
        // ones is found, so nothing guides the next cut to them
        add_again_with_chunks(&t, 64 << 10);
        dump[len / 3] ^= 1;
        backs_up_unguided(&t, &dump);
    }

    /// A file that had more chunks than a guide may hold is chunked unguided (and restores).
    #[test]
    fn a_file_of_more_previous_chunks_than_a_guide_holds_is_cut_unguided() {
        let t = TestRepo::with_service("svc");
        add_again_with_chunks(&t, 16 << 10);
        // 17 MiB at 16 KiB chunks: about 1,100 chunks, over the unit tests' bound of 200
        let len = crate::chunker::PIPED_MIN as usize + (1 << 20);
        let mut dump = crate::testutil::bytes(21, len);
        std::fs::write(t.src.join("dump"), &dump).unwrap();
        super::run(&t.ctl, &Progress::default()).unwrap();
        assert!(super::walk::GUIDE_MAX < len / (16 << 10));
        dump[len / 2] ^= 1;
        backs_up_unguided(&t, &dump);
    }

    /// The files cache holds one record per directory that holds files, not one per file.
    #[test]
    fn the_files_cache_holds_one_record_per_directory() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 5);
        std::fs::create_dir_all(t.src.join("d0/empty")).unwrap();
        backup(&t);
        // the root and d0…d4 (11 files); the empty directory has no record
        assert_eq!(t.ctl.index().unwrap().cached_dir_count(), 6);
    }

    /// The records of deleted directories (and of directories left without files) are not in
    /// the next complete backup's files cache; the others stay and are used.
    #[test]
    fn the_next_cache_holds_only_the_directories_met() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 4);
        backup(&t);
        assert_eq!(t.ctl.index().unwrap().cached_dir_count(), 5);
        std::fs::remove_dir_all(t.src.join("d0")).unwrap();
        std::fs::remove_dir_all(t.src.join("d1")).unwrap();
        std::fs::remove_file(t.src.join("d2/a")).unwrap();
        std::fs::remove_file(t.src.join("d2/b")).unwrap();
        assert_eq!(backup(&t).0, paths(&[]));
        assert_eq!(t.ctl.index().unwrap().cached_dir_count(), 2, "root and d3");
        // d0 recreated as it was: read again, its old record is gone
        std::fs::create_dir_all(t.src.join("d0")).unwrap();
        std::fs::write(t.src.join("d0/a"), b"0 a").unwrap();
        assert_eq!(backup(&t).0, paths(&["d0/a"]));
    }

    /// An unchanged re-backup with a trusted files cache (written by the last backup, nothing
    /// removed from the index since) probes none of its chunks in the index, and looks up none
    /// of its directories' trees (their ids are in the records); an untrusted one probes each
    /// file's chunk and puts each tree.
    #[test]
    fn a_trusted_cache_is_not_probed_chunk_by_chunk() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 3);
        backup(&t);
        let index = t.ctl.local().join("index");
        super::store::tests::take_probed(&index);
        assert_eq!(backup(&t).0, paths(&[]));
        assert_eq!(super::store::tests::take_probed(&index), 0, "trusted");
        // the same cache, written under another index state: probed
        let cache = t.ctl.local().join("files-cache");
        let mut bytes = std::fs::read(&cache).unwrap();
        bytes[28] ^= 1; // the count of removals
        let h = crate::index::cachefile::Header::<crate::index::DirKey>::decode(&bytes).unwrap();
        let at = h.index_at as usize;
        let check = crate::index::cachefile::check_of(&[&h.fields(), &bytes[at..]]);
        bytes[48..64].copy_from_slice(&check);
        std::fs::write(&cache, &bytes).unwrap();
        assert_eq!(backup(&t).0, paths(&[]), "still used");
        assert_eq!(
            super::store::tests::take_probed(&index),
            7 + 4,
            "every file's chunk probed, every directory's tree put"
        );
    }

    /// A backup that fails leaves the last complete backup's files cache in place.
    #[test]
    fn a_failed_backup_keeps_the_old_cache() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 2);
        backup(&t);
        let cache = t.ctl.local().join("files-cache");
        let before = std::fs::read(&cache).unwrap();
        std::fs::write(t.src.join("d0/a"), b"changed").unwrap();
        let src = t.src.clone();
        std::fs::rename(&src, t.dir.path().join("away")).unwrap();
        assert!(super::run(&t.ctl, &Progress::default()).is_err());
        std::fs::rename(t.dir.path().join("away"), &src).unwrap();
        assert_eq!(std::fs::read(&cache).unwrap(), before);
        take_opened_under(&t.src);
    }

    /// Back up, restore the newest backup and compare every file of the source with it.
    fn restores_identically(t: &TestRepo, m: &crate::format::manifest::Manifest) {
        let m = t.ctl.repo.read_manifest(&m.name()).unwrap();
        let out = t.dir.path().join(format!("out-{}", m.id));
        let opts = crate::restore::RestoreOptions {
            target: out.clone(),
            ..Default::default()
        };
        crate::restore::restore(&t.ctl.repo, &t.keys(), &m, &opts, &Progress::default()).unwrap();
        for e in walk_files(&t.src) {
            let rel = e.strip_prefix(&t.src).unwrap();
            assert_eq!(
                std::fs::read(out.join("svc").join(rel)).unwrap(),
                std::fs::read(&e).unwrap(),
                "{rel:?}"
            );
        }
    }

    fn walk_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                out.extend(walk_files(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }

    /// A directory of more small files than a batch holds, with large files between them and
    /// subdirectories: every file restores with its own bytes (each outcome of a batch goes to
    /// its own file), and an unchanged re-backup reads none and makes the same tree.
    #[test]
    fn files_read_in_batches_restore_each_with_its_own_bytes() {
        let t = TestRepo::with_service("svc");
        let big = |i: u8| vec![i; (1 << 20) + 4096 * usize::from(i)];
        for i in 0..150u32 {
            std::fs::write(t.src.join(format!("f{i:03}")), format!("small file {i}")).unwrap();
        }
        std::fs::write(t.src.join("f050-big"), big(1)).unwrap();
        std::fs::write(t.src.join("f120-big"), big(2)).unwrap();
        std::fs::create_dir(t.src.join("f100-dir")).unwrap();
        std::fs::write(t.src.join("f100-dir/inner"), b"inner").unwrap();
        let m = super::run(&t.ctl, &Progress::default()).unwrap();
        assert_eq!(take_opened_under(&t.src).len(), 153);
        assert_eq!(m.services[0].files, 153);
        restores_identically(&t, &m);
        let (opened, root) = backup(&t);
        assert_eq!((opened, root), (paths(&[]), m.services[0].root));
    }

    /// A files cache written by the last committed backup names chunks a prune then removed
    /// (that backup forgotten): the next backup does not trust the cache (the index counted the
    /// removals), probes, and stores the file again instead of referencing a missing chunk.
    #[test]
    fn after_a_prune_the_cache_is_probed_and_missing_chunks_stored_again() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 2);
        let m1 = super::run(&t.ctl, &Progress::default()).unwrap();
        take_opened_under(&t.src);
        assert!(t.ctl.index().unwrap().files_cache().unwrap().trusted());
        t.ctl.repo.store.delete(&m1.name()).unwrap();
        let policy = crate::retention::Policy {
            keep_within: None,
            keep_last: Some(1),
        };
        crate::prune::prune_local(
            &t.ctl,
            &policy,
            chrono::Utc::now(),
            false,
            &Progress::default(),
        )
        .unwrap();
        assert!(!t.ctl.index().unwrap().files_cache().unwrap().trusted());
        let m2 = super::run(&t.ctl, &Progress::default()).unwrap();
        assert_eq!(
            take_opened_under(&t.src).len(),
            5,
            "every file stored again"
        );
        restores_identically(&t, &m2);
        assert!(t.ctl.index().unwrap().files_cache().unwrap().trusted());
        assert_eq!(backup(&t).0, paths(&[]), "trusted again: nothing read");
    }

    /// A pack gone from the store makes the index rebuild (a new instance): the next backup
    /// probes its cache and stores what the pack held again.
    #[test]
    fn a_pack_gone_from_the_store_makes_the_next_backup_probe() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 2);
        backup(&t);
        let packs = t.ctl.index().unwrap().packs().unwrap();
        for (p, _) in &packs {
            t.ctl.repo.store.delete(&p.object_name()).unwrap();
        }
        let (opened, _) = backup(&t);
        assert_eq!(opened.len(), 5, "every file stored again: {opened:?}");
        let m = t.ctl.repo.manifests().unwrap().0.pop().unwrap();
        restores_identically(&t, &m);
    }

    /// A truncated, bit-flipped or other-version files cache gives a full re-read and a correct
    /// backup.
    #[test]
    fn a_damaged_files_cache_gives_a_full_reread_and_a_correct_backup() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 3);
        backup(&t);
        let cache = t.ctl.local().join("files-cache");
        let good = std::fs::read(&cache).unwrap();
        let mut flipped = good.clone();
        flipped[crate::index::cachefile::HEADER_LEN + 20] ^= 0x04;
        let mut version = good.clone();
        version[8] = 9;
        for bad in [good[..good.len() - 3].to_vec(), flipped, version] {
            std::fs::write(&cache, &bad).unwrap();
            let m = super::run(&t.ctl, &Progress::default()).unwrap();
            assert_eq!(take_opened_under(&t.src).len(), 7, "a full re-read");
            restores_identically(&t, &m);
        }
    }

    /// A repository whose index has its files cache in sled (layout 3) backs up the same tree
    /// as before (every file read once), then uses the new cache.
    #[test]
    fn an_index_of_layout_3_backs_up_then_uses_the_new_cache() {
        let t = TestRepo::with_service("svc");
        tree_of(&t.src, 2);
        let (opened, root) = backup(&t);
        assert_eq!(opened.len(), 5);
        t.ctl.index().unwrap().pretend_layout_3();
        let (opened, again) = backup(&t);
        assert_eq!(
            opened.len(),
            5,
            "the old files cache is not used: {opened:?}"
        );
        assert_eq!(again, root, "the same tree");
        assert_eq!(t.ctl.index().unwrap().cached_dir_count(), 3);
        assert_eq!(backup(&t).0, paths(&[]), "the new cache is used");
    }
}

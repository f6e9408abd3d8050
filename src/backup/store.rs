//! The write half of a backup: dedup, compress + seal on a pool of threads, pack, write.
//!
//! ```text
//! put(id, data) ──dedup──▶ sealers (N threads: zstd, XChaCha20-Poly1305) ──▶ pack ──▶ writer
//!              ├─ file content ≤ 64 KiB: into the open group ─▲ (when full)      (fsync, index)
//!              └─ trees etc. ≤ 64 KiB: sealed by the putting thread ──▲ (a lock)
//! ```
//! Small chunks of file content are not compressed one by one: they are appended to an open
//! *group*, which goes to the sealers as one job once it reaches [`GROUP_TARGET`] and is
//! compressed and sealed as one blob (FORMAT.md section 6). zstd finds across a directory's small
//! files what it cannot inside each (`src`'s data shrinks to about two thirds, benches/RESULTS.md).
//! The thread that sealed a blob appends it to the pack being built itself, under a lock (a
//! memory copy and a hash update): no hand-off, so no wake-up and task switch per blob.
//! Every queue is bounded, so memory stays bounded whatever the size of the data; with
//! [`ChunkStore::spilling_to`], packs are built in unnamed files, not in memory, and so is the
//! list of referenced chunks ([`super::refs`]). Only the chunks on their way to the index (queued,
//! sealed, in the pack being built or written) are held in a set, to store each once.

use super::refs::{RefLog, Refs, RUN};
use super::spill::{Builder, Built};
use crate::backend::Backend;
use crate::crypto::SessionKey;
use crate::error::{Error, Result};
use crate::format::pack::{group_aad, BlobKind, PackEntry};
use crate::format::tree::ChunkRef;
use crate::id::{ChunkId, KeyId};
use crate::index::Index;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A sealed blob on its way into a pack, with what it holds.
struct Sealed {
    /// Its entries (offset and length are set when it is placed).
    entries: Vec<PackEntry>,
    /// The service slot of each entry.
    svcs: Vec<usize>,
    sealed: Vec<u8>,
}

/// Small chunks gathered to be compressed and sealed together.
#[derive(Default)]
struct Group {
    data: Vec<u8>,
    entries: Vec<PackEntry>,
    svcs: Vec<usize>,
}

impl Group {
    /// A group of the one chunk `data`.
    fn one(id: ChunkId, kind: BlobKind, data: &[u8], svc: usize) -> Group {
        let mut g = Group::default();
        g.add(id, kind, data, svc);
        g
    }

    fn add(&mut self, id: ChunkId, kind: BlobKind, data: &[u8], svc: usize) {
        self.entries.push(PackEntry {
            id,
            kind,
            offset: 0,
            length: 0,
            raw_len: data.len() as u32,
            inner: Some(self.data.len() as u32),
        });
        self.data.extend_from_slice(data);
        self.svcs.push(svc);
    }

    /// Compress and seal: a group of one is stored as that chunk's own blob.
    fn seal(mut self, key: &SessionKey, level: i32) -> Sealed {
        let aad = match &mut self.entries[..] {
            [only] => {
                only.inner = None;
                only.id
            }
            _ => group_aad(),
        };
        Sealed {
            sealed: key.seal(&aad, &crate::compress::compress(&self.data, level)),
            entries: self.entries,
            svcs: self.svcs,
        }
    }
}

/// Shared state of the writer threads.
struct Shared {
    index: Arc<Index>,
    /// Every chunk referenced so far.
    refs: Mutex<RefLog>,
    /// Chunks queued to be stored and not yet indexed.
    pending: Mutex<Pending>,
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
    /// New (sealed) bytes per service slot.
    new_bytes: Vec<AtomicU64>,
    packs_written: AtomicU64,
    /// Where packs are built (unnamed files), if not in memory.
    spill: Mutex<Option<std::path::PathBuf>>,
    /// The pack being built, and the writer's queue (taken when the store finishes).
    packing: Mutex<Packing>,
    /// The group of small chunks being gathered.
    group: Mutex<Group>,
    /// Its size once sealed: [`GROUP_TARGET`], or the pack target if smaller (a pack then
    /// holds groups no larger than itself).
    group_target: usize,
    /// Chunks sealed by the thread that put them.
    #[cfg(test)]
    sealed_here: AtomicU64,
    /// Chunks compressed and sealed, by any thread.
    #[cfg(test)]
    sealed: AtomicU64,
}

/// The pack being built and where finished ones go.
struct Packing {
    session: KeyId,
    target: u64,
    pack: Option<Builder>,
    tx: Option<Sender<Built>>,
}

/// The chunks on their way to the index, and how many times some left it (for
/// [`ChunkStore::claim`]).
#[derive(Default)]
struct Pending {
    ids: HashSet<ChunkId>,
    indexed: u64,
}

impl Shared {
    fn fail(&self, e: Error) {
        self.failed.store(true, Ordering::SeqCst);
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
    }

    fn packing(&self) -> std::sync::MutexGuard<'_, Packing> {
        self.packing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Append a sealed blob to the pack being built (in the calling thread); a pack that reaches
    /// its target size goes to the writer. False if the store failed or is finished.
    fn pack(&self, s: Sealed) -> bool {
        if self.failed.load(Ordering::Relaxed) {
            return false;
        }
        let full = {
            let mut guard = self.packing();
            let p = &mut *guard;
            let Some(tx) = p.tx.clone() else {
                return false;
            };
            let session = p.session;
            let pack = p.pack.get_or_insert_with(|| {
                let spill = self.spill.lock().unwrap_or_else(|p| p.into_inner()).clone();
                Builder::new(spill.as_deref(), session)
            });
            if let Err(e) = pack.push(&s.entries, &s.sealed) {
                self.fail(e);
                return false;
            }
            self.count_new_bytes(&s);
            if pack.len() < p.target {
                return true;
            }
            match pack.finish() {
                Ok(built) => built.map(|b| (b, tx)),
                Err(e) => {
                    self.fail(e);
                    return false;
                }
            }
        };
        // sent outside the lock: the other threads keep packing while the writer catches up
        full.is_none_or(|(built, tx)| tx.send(built).is_ok())
    }

    /// Count a blob's sealed bytes to the services of its chunks, in proportion to their size.
    fn count_new_bytes(&self, s: &Sealed) {
        let raw: u64 = s.entries.iter().map(|e| u64::from(e.raw_len)).sum();
        let sealed = s.sealed.len() as u64;
        let mut left = sealed;
        for (i, (e, svc)) in s.entries.iter().zip(&s.svcs).enumerate() {
            let share = match i + 1 == s.entries.len() {
                true => left,
                false => (sealed * u64::from(e.raw_len))
                    .checked_div(raw)
                    .unwrap_or(0),
            };
            left = left.saturating_sub(share);
            if let Some(c) = self.new_bytes.get(*svc) {
                c.fetch_add(share, Ordering::Relaxed);
            }
        }
    }

    fn group(&self) -> std::sync::MutexGuard<'_, Group> {
        self.group.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add a small chunk of file content to the open group: the group, if that filled it.
    fn gather(&self, id: ChunkId, data: &[u8], svc: usize) -> Option<Group> {
        let mut g = self.group();
        g.add(id, BlobKind::Data, data, svc);
        (g.data.len() >= self.group_target).then(|| std::mem::take(&mut *g))
    }

    /// Send the last pack to the writer and close its queue.
    fn last_pack(&self) {
        let mut p = self.packing();
        let tx = p.tx.take();
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        match p.pack.as_mut().map(Builder::finish) {
            Some(Ok(Some(built))) => {
                drop(p);
                if let Some(tx) = tx {
                    let _ = tx.send(built);
                }
            }
            Some(Err(e)) => self.fail(e),
            _ => {}
        }
    }
}

/// File content in chunks up to this size is gathered in groups; a full group goes to the
/// sealers as one job (one hand-off per group, not per chunk: a hand-off, a copy, a wake-up and a
/// task switch, costs about as much as compressing a few KiB). Trees, segments and definitions up
/// to this size are compressed and sealed by the thread that puts them.
const SEAL_HERE: usize = 64 << 10;

/// A group is sealed once its plaintext reaches this many bytes (so it holds at most this plus
/// one chunk of [`SEAL_HERE`]). zstd-3 on `src`'s small files: 64 KiB groups store 0.68× the
/// bytes of chunks compressed alone, 256 KiB groups 0.62× (benches/RESULTS.md); every read of
/// one member opens the whole group, so the mount and restore pay for a larger one.
const GROUP_TARGET: usize = 128 << 10;

/// What a thread needs to seal a small chunk itself.
struct SealHere {
    key: Arc<SessionKey>,
    level: i32,
}

/// Stores chunks for one backup.
pub struct ChunkStore {
    shared: Arc<Shared>,
    tx: Option<Sender<Group>>,
    here: Option<SealHere>,
    /// The sealers.
    threads: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

/// What the store did.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Every chunk the backup references (sorted runs, read with [`Refs::iter`]).
    pub refs: Refs,
    /// New sealed bytes per service slot.
    pub new_bytes: Vec<u64>,
    /// Packs written.
    pub packs: u64,
}

impl ChunkStore {
    /// Start the threads. `slots` is the number of per-service counters.
    pub fn start(
        store: Arc<dyn Backend>,
        index: Arc<Index>,
        key: impl Into<Arc<SessionKey>>,
        session: KeyId,
        pack_target: u32,
        zstd_level: i32,
        slots: usize,
    ) -> Self {
        let key: Arc<SessionKey> = key.into();
        let shared = Arc::new(Shared {
            index,
            refs: Mutex::new(RefLog::new(RUN)),
            pending: Mutex::new(Pending::default()),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            new_bytes: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            packs_written: AtomicU64::new(0),
            spill: Mutex::new(None),
            group: Mutex::new(Group::default()),
            group_target: GROUP_TARGET.min(pack_target as usize),
            packing: Mutex::new(Packing {
                session,
                target: u64::from(pack_target),
                pack: None,
                tx: None,
            }),
            #[cfg(test)]
            sealed_here: AtomicU64::new(0),
            #[cfg(test)]
            sealed: AtomicU64::new(0),
        });
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 16);
        let (raw_tx, raw_rx) = bounded::<Group>(workers * 4);
        let (pack_tx, pack_rx) = bounded::<Built>(1);
        shared.packing().tx = Some(pack_tx);
        let mut threads = Vec::new();
        for _ in 0..workers {
            let (rx, key, sh) = (raw_rx.clone(), key.clone(), shared.clone());
            threads.push(std::thread::spawn(move || {
                seal_loop(rx, key, zstd_level, sh)
            }));
        }
        let here = SealHere {
            key: key.clone(),
            level: zstd_level,
        };
        let sh = shared.clone();
        let writer = std::thread::spawn(move || write_loop(pack_rx, store, sh));
        ChunkStore {
            shared,
            tx: Some(raw_tx),
            here: Some(here),
            threads,
            writer: Some(writer),
        }
    }

    /// Build packs in unnamed files in `dir` (the repository's local state) rather than in
    /// memory, where its file system allows.
    /// The list of referenced chunks goes to an unnamed file there too.
    pub fn spilling_to(self, dir: std::path::PathBuf) -> Self {
        self.refs().spill_to(dir.clone());
        *self.shared.spill.lock().unwrap_or_else(|p| p.into_inner()) = Some(dir);
        self
    }

    fn refs(&self) -> std::sync::MutexGuard<'_, RefLog> {
        self.shared.refs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Reference a chunk in this backup, storing it if the repository lacks it.
    /// `data` is only called (to copy the bytes) when the chunk must be stored.
    pub fn put(&self, id: ChunkId, kind: BlobKind, data: &[u8], svc: usize) -> Result<()> {
        self.check()?;
        #[cfg(test)]
        if kind == BlobKind::Tree {
            tests::probed(self.shared.index.path(), 1);
        }
        if !self.reference(id)? {
            return Ok(());
        }
        let finished = || Error::failed("chunk store already finished", "report a bug");
        let job = match (kind, data.len() <= SEAL_HERE) {
            (BlobKind::Data, true) => match self.shared.gather(id, data, svc) {
                Some(full) => full,
                None => return Ok(()),
            },
            // trees, segments and definitions stay blobs of their own, so damage to one group
            // never hides a directory along with its files; small ones are sealed here
            (_, true) => {
                let here = self.here.as_ref().ok_or_else(finished)?;
                let alone = Group::one(id, kind, data, svc);
                #[cfg(test)]
                {
                    self.shared.sealed_here.fetch_add(1, Ordering::Relaxed);
                    self.shared.sealed.fetch_add(1, Ordering::Relaxed);
                }
                return match self.shared.pack(alone.seal(&here.key, here.level)) {
                    true => Ok(()),
                    false => Err(self.take_error()),
                };
            }
            (_, false) => Group::one(id, kind, data, svc),
        };
        let tx = self.tx.as_ref().ok_or_else(finished)?;
        tx.send(job).map_err(|_| self.take_error())
    }

    /// Mark `id` as referenced; true if it is new to both this backup and the repository.
    fn reference(&self, id: ChunkId) -> Result<bool> {
        self.refs().push(id)?;
        self.claim(id)
    }

    /// True if `id` is neither indexed nor on its way to the index: it is then marked as on its
    /// way, and the caller stores it. The index is looked up outside the lock; if a pack was
    /// indexed meanwhile (its chunks leaving the pending set), the lookup is made again, so a
    /// chunk is never claimed twice.
    fn claim(&self, id: ChunkId) -> Result<bool> {
        loop {
            let before = {
                let p = self.pending();
                if p.ids.contains(&id) {
                    return Ok(false);
                }
                p.indexed
            };
            if self.shared.index.contains(&id)? {
                return Ok(false);
            }
            let mut p = self.pending();
            if p.indexed == before {
                return Ok(p.ids.insert(id));
            }
        }
    }

    /// Reference chunks known to be stored already (files cache); false if any is missing.
    pub fn reuse(&self, chunks: &[ChunkRef]) -> Result<bool> {
        #[cfg(test)]
        tests::probed(self.shared.index.path(), chunks.len());
        for c in chunks {
            let queued = self.pending().ids.contains(&c.id);
            if !queued && !self.shared.index.contains(&c.id)? {
                return Ok(false);
            }
        }
        self.reuse_indexed(chunks)?;
        Ok(true)
    }

    /// Reference chunks the index is known to hold still (a trusted files cache: they were all
    /// indexed when it was written and no chunk left the index since), without looking them up.
    pub fn reuse_indexed(&self, chunks: &[ChunkRef]) -> Result<()> {
        let mut refs = self.refs();
        chunks.iter().try_for_each(|c| refs.push(c.id))
    }

    /// Fail fast if a writer thread failed.
    pub fn check(&self) -> Result<()> {
        if self.shared.failed.load(Ordering::SeqCst) {
            return Err(self.take_error());
        }
        Ok(())
    }

    fn take_error(&self) -> Error {
        self.shared
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| {
                Error::failed(
                    "the backup's writer threads stopped",
                    "see the earlier error; retry the backup",
                )
            })
    }

    /// Sealed bytes stored so far, over all services.
    pub fn new_bytes_so_far(&self) -> u64 {
        self.shared
            .new_bytes
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }

    /// Wait for every chunk to be written and indexed.
    pub fn finish(mut self) -> Result<StoreStats> {
        // the group still open goes to the sealers last
        let last = std::mem::take(&mut *self.shared.group());
        if let Some(tx) = self.tx.take() {
            if !last.entries.is_empty() {
                let _ = tx.send(last); // a closed queue: the sealers failed, checked below
            }
        }
        drop(self.here.take());
        self.join_threads();
        self.check()?;
        self.shared.index.flush()?;
        let refs = std::mem::replace(&mut *self.refs(), RefLog::new(1)).finish()?;
        Ok(StoreStats {
            refs,
            new_bytes: self
                .shared
                .new_bytes
                .iter()
                .map(|a| a.load(Ordering::Relaxed))
                .collect(),
            packs: self.shared.packs_written.load(Ordering::Relaxed),
        })
    }
}

impl ChunkStore {
    /// Wait for the sealers, send the last pack to the writer, wait for the writer.
    fn join_threads(&mut self) {
        let panicked = || Error::failed("a backup writer thread panicked", "report a bug");
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                self.shared.fail(panicked());
            }
        }
        self.shared.last_pack();
        if let Some(w) = self.writer.take() {
            if w.join().is_err() {
                self.shared.fail(panicked());
            }
        }
    }
}

impl Drop for ChunkStore {
    fn drop(&mut self) {
        // On an early return, stop the threads: close the queue and mark the run failed.
        if self.tx.take().is_some() {
            self.shared.failed.store(true, Ordering::SeqCst);
        }
        drop(self.here.take());
        self.join_threads();
    }
}

fn seal_loop(rx: Receiver<Group>, key: Arc<SessionKey>, level: i32, sh: Arc<Shared>) {
    for g in rx {
        if sh.failed.load(Ordering::Relaxed) {
            continue; // drain
        }
        #[cfg(test)]
        sh.sealed
            .fetch_add(g.entries.len() as u64, Ordering::Relaxed);
        if !sh.pack(g.seal(&key, level)) {
            continue; // drain: the putting thread sees the failure
        }
    }
}

fn write_loop(rx: Receiver<Built>, store: Arc<dyn Backend>, sh: Arc<Shared>) {
    for built in rx {
        if sh.failed.load(Ordering::Relaxed) {
            continue;
        }
        let ids = built.ids();
        match built.store(store.as_ref(), &sh.index) {
            Ok(()) => {
                sh.packs_written.fetch_add(1, Ordering::Relaxed);
                // indexed: no longer pending (after the index has them, see `claim`)
                let mut p = sh.pending.lock().unwrap_or_else(|p| p.into_inner());
                for id in &ids {
                    p.ids.remove(id);
                }
                p.indexed += 1;
            }
            Err(e) => sh.fail(e),
        }
    }
}

/// A store over a fresh in-memory backend and a temporary index (tests): its index and the store,
/// with packs of `pack_target` bytes, zstd at `level` and `slots` sealing slots.
#[cfg(test)]
pub(super) fn in_memory(pack_target: u32, level: i32, slots: usize) -> (Arc<Index>, ChunkStore) {
    let index = Arc::new(Index::temporary().unwrap());
    let store = ChunkStore::start(
        Arc::new(crate::backend::MemoryBackend::new()),
        index.clone(),
        SessionKey::generate(),
        KeyId([0; 32]),
        pack_target,
        level,
        slots,
    );
    (index, store)
}

#[cfg(test)]
pub(super) mod tests {
    /// Chunks of the files cache probed in the index, by index path (any test's: filter by yours).
    static PROBED: std::sync::Mutex<Vec<(std::path::PathBuf, usize)>> =
        std::sync::Mutex::new(Vec::new());

    pub(super) fn probed(index: Option<&std::path::Path>, n: usize) {
        if let Some(p) = index {
            PROBED.lock().unwrap().push((p.to_path_buf(), n));
        }
    }

    /// How many chunks of the files cache were probed, and tree blobs put (each looked up), in
    /// the index at `index` since the last call for it.
    pub(crate) fn take_probed(index: &std::path::Path) -> usize {
        let mut all = PROBED.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(p, _)| p == index);
        *all = rest;
        mine.iter().map(|(_, n)| n).sum()
    }

    use super::*;
    use crate::backend::MemoryBackend;

    /// Small chunks of file content are gathered into a group, larger ones are blobs of their
    /// own, a small tree is sealed by the thread that puts it; all end up in a pack, indexed.
    #[test]
    fn small_chunks_are_grouped_and_all_are_stored() {
        let (index, store) = in_memory(1 << 20, 3, 1);
        let id_key = crate::crypto::IdKey::generate();
        let blobs: Vec<Vec<u8>> = (0..20u32)
            .map(|i| {
                let len = if i % 4 == 0 {
                    SEAL_HERE + 1 + i as usize
                } else {
                    100 * i as usize + 1
                };
                crate::testutil::bytes(u64::from(i), len)
            })
            .collect();
        for b in &blobs {
            store.put(id_key.chunk_id(b), BlobKind::Data, b, 0).unwrap();
        }
        let tree = b"a small tree".to_vec();
        store
            .put(id_key.chunk_id(&tree), BlobKind::Tree, &tree, 0)
            .unwrap();
        let shared = store.shared.clone();
        let stats = store.finish().unwrap();
        assert_eq!(shared.sealed.load(Ordering::Relaxed), 21);
        assert_eq!(shared.sealed_here.load(Ordering::Relaxed), 1, "the tree");
        assert_eq!(stats.refs.count().unwrap(), 21);
        for b in &blobs {
            let at = index.lookup(&id_key.chunk_id(b)).unwrap().unwrap();
            assert_eq!(
                at.inner.is_some(),
                b.len() <= SEAL_HERE,
                "{} bytes",
                b.len()
            );
        }
        let at = index.lookup(&id_key.chunk_id(&tree)).unwrap().unwrap();
        assert_eq!(at.inner, None, "a tree was grouped");
    }

    /// A backup of chunks the repository already holds (a recovered controller's first backup:
    /// the index rebuilt from the packs, no files cache) compresses and seals none of them, and
    /// stores nothing: the index is checked before any compression.
    #[test]
    fn chunks_already_indexed_are_neither_compressed_nor_sealed_again() {
        let index = Arc::new(Index::temporary().unwrap());
        let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        let key = Arc::new(SessionKey::generate());
        let id_key = crate::crypto::IdKey::generate();
        let blobs: Vec<Vec<u8>> = (0..12u32)
            .map(|i| {
                let len = if i % 3 == 0 { SEAL_HERE * 2 } else { 3000 };
                crate::testutil::bytes(u64::from(i), len + i as usize)
            })
            .collect();
        let backup = || {
            let store = ChunkStore::start(
                backend.clone(),
                index.clone(),
                key.clone(),
                KeyId([0; 32]),
                1 << 16,
                3,
                1,
            );
            for b in &blobs {
                store.put(id_key.chunk_id(b), BlobKind::Data, b, 0).unwrap();
            }
            let shared = store.shared.clone();
            let stats = store.finish().unwrap();
            (shared.sealed.load(Ordering::Relaxed), stats)
        };
        let (sealed, first) = backup();
        assert_eq!(sealed, 12);
        assert!(first.packs > 0);
        let (sealed, again) = backup();
        assert_eq!(
            sealed, 0,
            "chunks already indexed were compressed and sealed again"
        );
        assert_eq!((again.packs, again.new_bytes.iter().sum::<u64>()), (0, 0));
        assert_eq!(again.refs.count().unwrap(), 12);
    }

    /// Store `ids` (each the chunk of its own bytes) with runs of references spilled to a file:
    /// the references and the sealed bytes stored.
    fn store_all(ids: &[u32]) -> (Vec<ChunkId>, u64) {
        let dir = tempfile::tempdir().unwrap();
        // a pack every few chunks: many are indexed while others are put
        let store = in_memory(2000, 3, 1)
            .1
            .spilling_to(dir.path().to_path_buf());
        for i in ids {
            let data = format!("chunk {i} ").repeat(20);
            let id = ChunkId(*blake3::hash(data.as_bytes()).as_bytes());
            store.put(id, BlobKind::Data, data.as_bytes(), 0).unwrap();
        }
        let stats = store.finish().unwrap();
        (stats.refs.to_vec().unwrap(), stats.new_bytes.iter().sum())
    }

    /// A chunk referenced again in the same backup, whether still on its way to the index or
    /// already in it, is stored once: without a set of every referenced chunk, the bytes stored
    /// are those of a backup that references each once, and the references the same.
    #[test]
    fn a_chunk_referenced_again_in_one_backup_is_stored_once() {
        let once: Vec<u32> = (0..400).collect();
        let twice: Vec<u32> = (0..400u32)
            .flat_map(|i| [i, i.saturating_sub(3), i / 2])
            .collect();
        let (refs_once, bytes_once) = store_all(&once);
        let (refs_twice, bytes_twice) = store_all(&twice);
        assert_eq!(refs_once.len(), 400);
        assert!(refs_once.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        assert_eq!(refs_twice, refs_once);
        assert_eq!(bytes_twice, bytes_once);
    }
}

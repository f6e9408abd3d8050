//! Walking a service: directories on the walker threads ([`super::walkers`]), files on a pool
//! of readers.
//!
//! Each walker runs ahead depth-first, handing files to the readers through a bounded queue,
//! and assembles each directory's tree once its files (and subdirectories) are done. Unchanged files (same size,
//! mtime, ctime and inode as in the files cache) are not read again: a directory's files cache
//! record is read once when the walk enters it, and its new record made when it is done (written
//! as the next files cache once the backup commits: [`super::cache`]).
//!
//! Everything below a service's root is listed, stat'ed and opened relative to its directory's
//! handle, never by path, and only if it is still the object listed (see [`super::open`]): a
//! link or FIFO swapped in meanwhile is left out with a warning, never read or followed.

use super::cache::{BackupCache, NewCache};
use super::open::{self, Kind, Listed, Opened};
use super::store::ChunkStore;
use super::walkers::{is_stopped, Handed, Offer, Pool};
use crate::chunker::{
    chunk_reader, chunk_reader_guided, chunk_reader_piped, ChunkError, ChunkerParams, PIPED_MIN,
};
use crate::crypto::IdKey;
use crate::error::{Error, Result, ServiceCause, StorageErrorKind};
use crate::format::pack::BlobKind;
use crate::format::tree::{ChunkRef, Node, NodeKind, Tree};
use crate::id::{ChunkId, KeyId};
use crate::index::{CachedDir, CachedFile, DirKey, Index};
use crate::progress::Progress;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files up to this size (as listed) may be read by walker threads; larger ones only by readers.
const SMALL_FILE: u64 = 1 << 20;

/// A directory's small files go to the readers in batches of at most this many files, or of
/// fewer files once their listed sizes reach [`BATCH_BYTES`]: one hand-off (a job and a reply,
/// each a possible wake-up and task switch) per batch rather than per file. The batch still open
/// when the directory is listed is read by the walker itself.
const BATCH_FILES: usize = 64;

/// See [`BATCH_FILES`].
const BATCH_BYTES: u64 = 512 << 10;

/// What a reader made of a file.
enum Outcome {
    Stored {
        chunks: Vec<ChunkRef>,
        size: u64,
        changed: bool,
    },
    /// Nothing, or something else, stands under the listed name now; why.
    LeftOut(&'static str),
}

/// The most previous chunks that guide a file's chunking (chunker/guided.rs): the guide holds
/// them and a map from id to place, about 80 bytes each (20 MiB at this bound, a 64 GiB file at
/// the default 256 KiB chunks). A file with more is chunked unguided.
#[cfg(not(test))]
const GUIDE_MAX: usize = 256 << 10;
/// (Small in unit tests, so that a file over the bound is cheap to make.)
#[cfg(test)]
pub(crate) const GUIDE_MAX: usize = 200;

/// A file to read: its name in the job's directory, as listed, and its path (for errors).
struct FileJob {
    name: CString,
    listed: Listed,
    path: PathBuf,
    /// The (id, length) of the chunks a large file had at the last backup, to guide its
    /// chunking (empty if none).
    previous: Vec<(ChunkId, u32)>,
}

/// Files of one directory to read, in listing order.
struct Reads {
    dir: Arc<OwnedFd>,
    files: Vec<FileJob>,
    svc: usize,
    params: ChunkerParams,
}

/// Files handed to the readers; the reply holds an outcome per file, in their order.
pub(super) struct Job {
    reads: Reads,
    reply: Sender<Vec<Result<Outcome>>>,
}

/// The files of a directory being walked that are (or are to be) read, by batch.
#[derive(Default)]
struct Batches {
    /// The batch being filled, the listed bytes of its files, and its place in `sent`.
    open: Vec<FileJob>,
    open_bytes: u64,
    open_at: usize,
    /// The batches handed on or read, in listing order.
    sent: Vec<Batch>,
}

/// A batch of files handed to the readers, or read.
enum Batch {
    Waiting(Receiver<Vec<Result<Outcome>>>),
    Read(std::vec::IntoIter<Result<Outcome>>),
}

/// Per-service totals.
#[derive(Debug, Default, Clone)]
pub struct WalkStats {
    /// Regular files.
    pub files: u64,
    /// Directories (including the root).
    pub dirs: u64,
    /// Logical bytes.
    pub bytes: u64,
}

impl WalkStats {
    /// Add the totals of a subtree.
    pub(super) fn add(&mut self, o: &WalkStats) {
        self.files += o.files;
        self.dirs += o.dirs;
        self.bytes += o.bytes;
    }
}

/// The shared context of a backup's walk.
pub struct Walker<'a> {
    pub(super) store: &'a ChunkStore,
    pub(super) id_key: &'a IdKey,
    pub(super) epoch: KeyId,
    /// Each service slot's chunker bounds (the service's own, else the repository's).
    pub(super) params: Vec<ChunkerParams>,
    pub(super) progress: &'a Progress,
    /// The readers' queues: files of at most [`SMALL_FILE`] bytes, and larger ones.
    jobs: Option<(Sender<Job>, Sender<Job>)>,
    /// The readers' queue of small files, which walkers also take files from while they wait
    /// (only small ones: a walker's chunking window then stays as small as the files it read).
    pub(super) queue: Receiver<Job>,
    /// The files cache: the last backup's, and the one this backup makes.
    cache: BackupCache,
    /// Walker threads helping each service's walk (0: the calling thread walks alone).
    pub(super) walkers: usize,
    /// Subdirectories walked by a thread other than the one that listed them.
    #[cfg(test)]
    pub(super) handed: std::sync::atomic::AtomicUsize,
    /// Batches of files handed to the readers' queues.
    #[cfg(test)]
    pub(super) batches_handed: std::sync::atomic::AtomicUsize,
}

/// A directory being walked.
pub(super) struct DirAt<'d> {
    /// The service's slot.
    pub svc: usize,
    /// The service's name.
    pub service: &'d str,
    /// The directory, open.
    pub fd: &'d Arc<OwnedFd>,
    /// Its path.
    pub abs: &'d Path,
    /// Its path within the service.
    pub rel: &'d Path,
    /// Its files cache key.
    pub key: &'d [u8],
    /// The service's walker threads.
    pub pool: &'d Pool,
    /// How many subtrees taken over from other walkers this thread's stack holds.
    pub nest: usize,
}

impl DirAt<'_> {
    /// A failure of the service's backup.
    fn error(&self, what: String, e: std::io::Error) -> Error {
        service_error(self.service, what, e)
    }

    /// The warning for `path` (within the service) left out, and why.
    fn left_out(&self, path: &Path, why: &str) -> String {
        format!("{}: {} {why}; left out", self.service, path.display())
    }

    /// The path of its entry `name`.
    fn abs_of(&self, name: &[u8]) -> PathBuf {
        self.abs.join(OsStr::from_bytes(name))
    }

    /// The path within the service of its entry `name`.
    fn rel_of(&self, name: &[u8]) -> PathBuf {
        self.rel.join(OsStr::from_bytes(name))
    }
}

/// One entry of a directory being walked, as listed. (Its paths and files cache key are made
/// only where needed: an unchanged file needs none of them.)
struct Entry {
    name: CString,
    meta: Listed,
}

/// A directory's files cache record as read when the walk entered it (the chunk lists of the
/// files found unchanged moved out of it into the new record), and the one being made.
struct Cache {
    old: std::cell::RefCell<CachedDir>,
    new: std::cell::RefCell<CachedDir>,
}

impl Cache {
    /// Record the state of the file `name` in the new record.
    fn keep(&self, name: &[u8], f: CachedFile) {
        self.new.borrow_mut().push(name, f);
    }
}

/// A file handed to the readers (or left for this thread to read), and where its node goes
/// once read.
struct Reading {
    node: Node,
    /// Its batch (an index into [`Batches::sent`]).
    batch: usize,
    meta: Listed,
}

#[allow(clippy::large_enum_variant)] // lives only on the walker's stack, one per entry
enum Pending {
    Ready(Node),
    File(Reading),
    /// A subdirectory another walker thread is walking.
    Sub(Handed),
}

fn ns((s, n): (i64, u32)) -> i128 {
    s as i128 * 1_000_000_000 + n as i128
}

/// A node for `name` with the metadata of `m` and the given kind.
pub(super) fn node(name: Vec<u8>, kind: NodeKind, m: &Listed, size: u64) -> Node {
    Node {
        name,
        kind,
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        mtime_s: m.mtime.0,
        mtime_ns: m.mtime.1,
        size,
    }
}

impl<'a> Walker<'a> {
    /// Start the file readers as threads of `scope`; they end when the walker is dropped.
    /// `params` holds each service slot's chunker bounds.
    #[allow(clippy::too_many_arguments)]
    pub fn start<'s>(
        store: &'a ChunkStore,
        index: &'a Index,
        id_key: &'a IdKey,
        epoch: KeyId,
        params: Vec<ChunkerParams>,
        progress: &'a Progress,
        scope: &'s std::thread::Scope<'s, '_>,
    ) -> Self
    where
        'a: 's,
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let args = (store, index, id_key, epoch, params, progress);
        Self::with_readers(args, scope, cores.clamp(2, 8), cores.clamp(1, 8))
    }

    /// [`Walker::start`] with `readers` reader threads and `walkers` walker threads per service.
    #[allow(clippy::type_complexity)]
    fn with_readers<'s>(
        (store, index, id_key, epoch, params, progress): (
            &'a ChunkStore,
            &'a Index,
            &'a IdKey,
            KeyId,
            Vec<ChunkerParams>,
            &'a Progress,
        ),
        scope: &'s std::thread::Scope<'s, '_>,
        readers: usize,
        walkers: usize,
    ) -> Self
    where
        'a: 's,
    {
        let (tx, rx) = bounded::<Job>(256);
        let (large_tx, large_rx) = bounded::<Job>(64);
        for _ in 0..readers {
            let (small, large) = (rx.clone(), large_rx.clone());
            scope.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let job = crossbeam_channel::select! {
                        recv(small) -> j => j,
                        recv(large) -> j => j,
                    };
                    let Ok(job) = job else { break };
                    let r = read_all(&job.reads, store, id_key, &mut buf, progress);
                    let _ = job.reply.send(r);
                }
            });
        }
        Walker {
            store,
            id_key,
            epoch,
            params,
            progress,
            jobs: Some((tx, large_tx)),
            queue: rx,
            cache: BackupCache::open(index),
            walkers,
            #[cfg(test)]
            handed: Default::default(),
            #[cfg(test)]
            batches_handed: Default::default(),
        }
    }

    /// The files cache records made so far (taken: the next ones start afresh), to be saved
    /// once the backup is committed.
    pub(crate) fn take_cache(&self) -> Result<NewCache> {
        self.cache.take()
    }

    /// Record a warning for the job on its [`Progress`] (the text stays in the job record under
    /// `REPO/local`; the manifest counts it).
    fn warn(&self, w: String) {
        // (info, not warn: the command prints the job's warnings once it ends)
        tracing::info!("{}", crate::text::escape(&w));
        self.progress.warn(w);
    }

    /// Back up the service root directory `dir` (service slot `svc`, cache key prefix `key`);
    /// its tree id, and the root as opened (for its owner, mode and time).
    pub fn dir(
        &self,
        svc: usize,
        service: &str,
        dir: &Path,
        key: &[u8],
        stats: &mut WalkStats,
    ) -> Result<(ChunkId, Listed)> {
        let (fd, root) = open::open_root(dir).map_err(|e| {
            service_error(
                service,
                format!("cannot open directory {}", dir.display()),
                e,
            )
        })?;
        let tree = self.walk_root((svc, service), &Arc::new(fd), (dir, key), stats)?;
        Ok((tree, root))
    }

    /// Back up the directory `d`; its tree id.
    pub(super) fn walk(&self, d: &DirAt, stats: &mut WalkStats) -> Result<ChunkId> {
        let r = self.walk_dir(d, stats);
        if let Err(e) = &r {
            d.pool.fail(e);
        }
        r
    }

    fn walk_dir(&self, d: &DirAt, stats: &mut WalkStats) -> Result<ChunkId> {
        stats.dirs += 1;
        let names = open::list_dir(d.fd.as_ref())
            .map_err(|e| d.error(format!("cannot list directory {}", d.abs.display()), e))?;
        let key = DirKey::new(&self.epoch, d.key);
        let cache = Cache {
            old: std::cell::RefCell::new(self.cache.old(&key)),
            new: std::cell::RefCell::new(CachedDir::default()),
        };
        let (mut pending, mut batches) = (Vec::with_capacity(names.len()), Batches::default());
        for name in names {
            match self.entry(d, name, stats, (&cache, &mut batches)) {
                Ok(p) => pending.extend(p),
                Err(e) => return Err(self.first_error(d, pending, e)),
            }
        }
        self.read_open(d, &mut batches);
        let pending = self.subdirs_done(d, pending, stats)?;
        let tree = self.collect(d, pending, stats, &cache, &mut batches)?;
        let old_tree = cache.old.borrow().tree;
        let id = self.put_dir_tree(&tree, d.svc, old_tree)?;
        // a directory of large files holds their chunk lists in the tree and again in the
        // files cache: not both while the cache's record is encoded
        drop(tree);
        let mut new = cache.new.into_inner();
        new.tree = Some(id);
        self.cache.put(key, new)?;
        Ok(id)
    }

    /// Back up the entry `name` of `d` (or hand it on); `None` if it is left out.
    fn entry(
        &self,
        d: &DirAt,
        name: CString,
        stats: &mut WalkStats,
        (cache, batches): (&Cache, &mut Batches),
    ) -> Result<Option<Pending>> {
        self.store.check()?;
        self.progress.check_cancel()?;
        d.pool.check()?;
        let Some(e) = self.stat(d, name)? else {
            return Ok(None);
        };
        match e.meta.kind {
            Kind::Dir => self.subdir(d, e, stats),
            Kind::Symlink => self.symlink(d, e),
            Kind::Special(what) => {
                let path = d.rel_of(e.name.as_bytes());
                self.warn(d.left_out(&path, &format!("is {what} (never read)")));
                Ok(None)
            }
            Kind::File => self.file(d, e, stats, (cache, batches)),
        }
    }

    /// The error to report when entry processing failed with `e`: the error of a subdirectory
    /// listed before it, if one of those (walked by other threads) failed, as a one-thread walk
    /// would have met that one first.
    fn first_error(&self, d: &DirAt, pending: Vec<Pending>, e: Error) -> Error {
        let mut scratch = WalkStats::default();
        for p in pending {
            if let Pending::Sub(h) = p {
                match self.wait(d, h, &mut scratch) {
                    Err(earlier) if !is_stopped(&earlier) => return earlier,
                    _ => {}
                }
            }
        }
        e
    }

    /// The entries with every handed-off subdirectory's node in place, in listing order (the
    /// first failure in listing order is returned; one that only stopped because another
    /// directory failed comes last).
    fn subdirs_done(
        &self,
        d: &DirAt,
        pending: Vec<Pending>,
        stats: &mut WalkStats,
    ) -> Result<Vec<Pending>> {
        let (mut out, mut stopped) = (Vec::with_capacity(pending.len()), None);
        for p in pending {
            match p {
                Pending::Sub(h) => match self.wait(d, h, stats) {
                    Ok(n) => out.push(Pending::Ready(n)),
                    Err(e) if is_stopped(&e) => stopped = stopped.or(Some(e)),
                    Err(e) => return Err(e),
                },
                other => out.push(other),
            }
        }
        stopped.map_or(Ok(out), Err)
    }

    /// The entry `name` of `d` as listed now; `None` (with a warning) if it vanished.
    fn stat(&self, d: &DirAt, name: CString) -> Result<Option<Entry>> {
        let nb = name.as_bytes();
        let meta = match open::stat_entry(d.fd.as_fd(), &name) {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.warn(d.left_out(&d.rel_of(nb), "vanished while backing up"));
                return Ok(None);
            }
            Err(e) => {
                let abs = d.abs_of(nb);
                return Err(d.error(format!("cannot stat {}", abs.display()), e));
            }
        };
        #[cfg(test)]
        tests::after_stat(&d.abs_of(nb));
        Ok(Some(Entry { name, meta }))
    }

    /// A subdirectory, handed to an idle walker thread or else walked now (depth-first); `None`
    /// if it is no longer the one listed.
    fn subdir(&self, d: &DirAt, e: Entry, stats: &mut WalkStats) -> Result<Option<Pending>> {
        let name = e.name.as_bytes();
        let (abs, path) = (d.abs_of(name), d.rel_of(name));
        let sub: OwnedFd = match open::open_dir(d.fd.as_fd(), &e.name, &e.meta).map(Opened::listed)
        {
            Ok(Ok(sub)) => sub,
            Ok(Err(why)) => {
                self.warn(d.left_out(&path, &format!("{why} while backing up")));
                return Ok(None);
            }
            Err(err) => {
                return Err(d.error(format!("cannot open directory {}", abs.display()), err))
            }
        };
        let mut key = Vec::with_capacity(d.key.len() + 1 + name.len());
        key.extend_from_slice(d.key);
        key.push(b'/');
        key.extend_from_slice(name);
        let job = match self.offer(d, sub, (name, &e.meta), (abs, path, key)) {
            Offer::Handed(h) => return Ok(Some(Pending::Sub(h))),
            Offer::Kept(job) => job,
        };
        let tree = self.walk_kept(d, &job, stats)?;
        let n = node(e.name.into_bytes(), NodeKind::Dir { tree }, &e.meta, 0);
        Ok(Some(Pending::Ready(n)))
    }

    /// A symbolic link and its target; `None` if it vanished or is no longer a link.
    fn symlink(&self, d: &DirAt, e: Entry) -> Result<Option<Pending>> {
        let target = match rustix::fs::readlinkat(d.fd.as_fd(), &e.name, Vec::new()) {
            Ok(t) => t,
            Err(rustix::io::Errno::NOENT) => {
                let path = d.rel_of(e.name.as_bytes());
                self.warn(d.left_out(&path, "vanished while backing up"));
                return Ok(None);
            }
            Err(rustix::io::Errno::INVAL) => {
                let path = d.rel_of(e.name.as_bytes());
                self.warn(d.left_out(&path, "is no longer a symbolic link"));
                return Ok(None);
            }
            Err(err) => {
                let abs = d.abs_of(e.name.as_bytes());
                return Err(d.error(format!("cannot read link {}", abs.display()), err.into()));
            }
        };
        let kind = NodeKind::Symlink {
            target: target.into_bytes(),
        };
        Ok(Some(Pending::Ready(node(
            e.name.into_bytes(),
            kind,
            &e.meta,
            0,
        ))))
    }

    /// A regular file: its cached chunks if unchanged, else queued to be read.
    fn file(
        &self,
        d: &DirAt,
        e: Entry,
        stats: &mut WalkStats,
        (cache, batches): (&Cache, &mut Batches),
    ) -> Result<Option<Pending>> {
        stats.files += 1;
        if let Some(chunks) = self.unchanged(cache, e.name.as_bytes(), &e.meta)? {
            stats.bytes += e.meta.size;
            self.progress.file(e.meta.size);
            let size = e.meta.size;
            let n = node(
                e.name.into_bytes(),
                NodeKind::File { chunks },
                &e.meta,
                size,
            );
            return Ok(Some(Pending::Ready(n)));
        }
        let nb = e.name.as_bytes();
        let node = node(
            nb.to_vec(),
            NodeKind::File { chunks: Vec::new() },
            &e.meta,
            0,
        );
        let previous = if e.meta.size >= PIPED_MIN {
            self.previous(cache, nb)
        } else {
            Vec::new()
        };
        let f = FileJob {
            path: d.abs_of(nb),
            name: e.name,
            listed: e.meta,
            previous,
        };
        let batch = self.queue_file(d, f, batches)?;
        Ok(Some(Pending::File(Reading {
            node,
            batch,
            meta: e.meta,
        })))
    }

    /// Queue the file `f` of `d` to be read: a large file in a job of its own, a small one in
    /// the directory's open batch (handed to the readers once full). The index of its batch.
    fn queue_file(&self, d: &DirAt, f: FileJob, b: &mut Batches) -> Result<usize> {
        if f.listed.size > SMALL_FILE {
            b.sent.push(self.hand_on(d, vec![f])?);
            return Ok(b.sent.len() - 1);
        }
        if b.open.is_empty() {
            // its place among the batches is taken now, in listing order
            b.open_at = b.sent.len();
            b.sent.push(Batch::Read(Vec::new().into_iter()));
        }
        let at = b.open_at;
        b.open_bytes += f.listed.size;
        b.open.push(f);
        if b.open.len() >= BATCH_FILES || b.open_bytes >= BATCH_BYTES {
            let files = std::mem::take(&mut b.open);
            b.open_bytes = 0;
            let batch = self.hand_on(d, files)?;
            if let Some(slot) = b.sent.get_mut(at) {
                *slot = batch;
            }
        }
        Ok(at)
    }

    /// Hand `files` of `d` to the readers (the queue of large files if the first is large).
    fn hand_on(&self, d: &DirAt, files: Vec<FileJob>) -> Result<Batch> {
        let large = files.first().is_some_and(|f| f.listed.size > SMALL_FILE);
        let (tx, rx) = bounded(1);
        let job = Job {
            reads: Reads {
                dir: d.fd.clone(),
                files,
                svc: d.svc,
                params: self.params_of(d.svc),
            },
            reply: tx,
        };
        #[cfg(test)]
        self.batches_handed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.jobs
            .as_ref()
            .and_then(|(s, l)| if large { l } else { s }.send(job).ok())
            .ok_or_else(|| Error::failed("file readers stopped", "retry the backup"))?;
        Ok(Batch::Waiting(rx))
    }

    /// Read the directory's open batch (if any) in this thread.
    fn read_open(&self, d: &DirAt, b: &mut Batches) {
        if b.open.is_empty() {
            return;
        }
        let reads = Reads {
            dir: d.fd.clone(),
            files: std::mem::take(&mut b.open),
            svc: d.svc,
            params: self.params_of(d.svc),
        };
        let at = b.open_at;
        let outcomes = self.read_in_this_thread(&reads);
        if let Some(slot) = b.sent.get_mut(at) {
            *slot = Batch::Read(outcomes.into_iter());
        }
    }

    /// A directory's tree from its entries, in listing order, once their files are read.
    fn collect(
        &self,
        d: &DirAt,
        pending: Vec<Pending>,
        stats: &mut WalkStats,
        cache: &Cache,
        batches: &mut Batches,
    ) -> Result<Tree> {
        let mut tree = Tree {
            nodes: Vec::with_capacity(pending.len()),
        };
        for p in pending {
            match p {
                Pending::Ready(n) => tree.nodes.push(n),
                Pending::File(r) => {
                    let out = self.outcome(batches, r.batch)?;
                    tree.nodes.extend(self.file_read(d, r, out, stats, cache)?)
                }
                Pending::Sub(_) => {
                    return Err(Error::failed(
                        "a subdirectory was not walked",
                        "report a bug",
                    ))
                }
            }
        }
        Ok(tree)
    }

    /// The outcome of the next file (in listing order) of batch `i`, once it is read.
    fn outcome(&self, b: &mut Batches, i: usize) -> Result<Result<Outcome>> {
        let bug = || Error::failed("a file was not read", "report a bug");
        let slot = b.sent.get_mut(i).ok_or_else(bug)?;
        if let Batch::Waiting(rx) = slot {
            let got = self.read_while_waiting(rx).map_err(|_| {
                Error::failed(
                    "a file reader stopped",
                    "see the earlier error; retry the backup",
                )
            })?;
            *slot = Batch::Read(got.into_iter());
        }
        match slot {
            Batch::Read(outcomes) => outcomes.next().ok_or_else(bug),
            Batch::Waiting(_) => Err(bug()),
        }
    }

    /// A file's node once it is read (`out`), and its files cache entry, unless it changed
    /// while read; `None` if it was left out.
    fn file_read(
        &self,
        d: &DirAt,
        r: Reading,
        out: Result<Outcome>,
        stats: &mut WalkStats,
        cache: &Cache,
    ) -> Result<Option<Node>> {
        let Reading { mut node, meta, .. } = r;
        let service = d.service;
        let out = out.map_err(|e| match e {
            Error::Storage(s) if s.location == d.abs_of(&node.name).display().to_string() => {
                let abs = d.abs_of(&node.name);
                let cause = match s.kind {
                    StorageErrorKind::NotFound => ServiceCause::PathMissing,
                    StorageErrorKind::AccessDenied => ServiceCause::PathUnreadable,
                    _ => ServiceCause::Other,
                };
                let detail = format!("cannot read {}: {}", abs.display(), s.detail);
                Error::service_io(service, cause, detail, s)
            }
            other => other,
        })?;
        let (chunks, size, changed) = match out {
            Outcome::LeftOut(why) => {
                stats.files -= 1;
                self.warn(format!(
                    "{service}: {} {why} while backing up; left out",
                    d.rel_of(&node.name).display()
                ));
                return Ok(None);
            }
            Outcome::Stored {
                chunks,
                size,
                changed,
            } => (chunks, size, changed),
        };
        if changed {
            self.warn(format!(
                "{service}: {} changed while it was read; recorded as read ({size} bytes)",
                d.rel_of(&node.name).display()
            ));
        } else {
            let c = CachedFile {
                size,
                mtime: ns(meta.mtime),
                ctime: ns(meta.ctime),
                ino: meta.ino,
                chunks: chunks.clone(),
            };
            cache.keep(&node.name, c);
        }
        stats.bytes += size;
        node.size = size;
        node.kind = NodeKind::File { chunks };
        Ok(Some(node))
    }

    /// The outcome of a file handed to the readers; meanwhile this thread reads files waiting
    /// in the readers' queue (its own or another directory's), so that a walker waiting for its
    /// directory's files keeps a core busy instead of idling.
    pub(super) fn read_while_waiting<T>(
        &self,
        rx: &Receiver<T>,
    ) -> std::result::Result<T, crossbeam_channel::RecvError> {
        loop {
            crossbeam_channel::select! {
                recv(rx) -> r => return r,
                recv(self.queue) -> job => if let Ok(job) = job {
                    self.read_here(job);
                },
            }
        }
    }

    /// Read the files of a job taken from the readers' queue in this thread, and reply.
    pub(super) fn read_here(&self, job: Job) {
        let r = self.read_in_this_thread(&job.reads);
        let _ = job.reply.send(r);
    }

    /// Read `reads` in this (walker) thread: an outcome per file.
    fn read_in_this_thread(&self, reads: &Reads) -> Vec<Result<Outcome>> {
        thread_local! {
            /// The chunking window of a walker thread that reads files (allocated once used).
            static WINDOW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        WINDOW.with(|window| {
            // files read while this thread already reads some (nested wait) get their own window
            let (mut held, mut fresh) = (window.try_borrow_mut(), Vec::new());
            let buf = held.as_deref_mut().unwrap_or(&mut fresh);
            read_all(reads, self.store, self.id_key, buf, self.progress)
        })
    }

    /// Store a tree blob; its id.
    pub fn put_tree(&self, tree: &Tree, svc: usize) -> Result<ChunkId> {
        self.put_dir_tree(tree, svc, None)
    }

    /// Store a directory's tree blob, whose id was `cached` when the files cache was written:
    /// if the cache is trusted and the id is the same, the blob is indexed still and is only
    /// referenced, not looked up. Its id.
    fn put_dir_tree(&self, tree: &Tree, svc: usize, cached: Option<ChunkId>) -> Result<ChunkId> {
        tree_fits(tree.nodes.len() as u64, 0)?;
        let segmented = super::segments::segmented(tree, self.store, self.id_key, svc)?;
        let tree = segmented.as_ref().unwrap_or(tree);
        let bytes = tree.encode();
        tree_fits(0, bytes.len() as u64)?;
        let id = self.id_key.chunk_id(&bytes);
        if cached == Some(id) && self.cache.trusted() {
            let len = bytes.len() as u32;
            self.store.reuse_indexed(&[ChunkRef { id, len }])?;
        } else {
            self.store.put(id, BlobKind::Tree, &bytes, svc)?;
        }
        Ok(id)
    }

    /// The cached state `c` of a file listed as `m`, if the file is unchanged since (and its
    /// chunks are all still stored).
    /// Its state goes into the new record (its chunk list moved out of the old one, which is
    /// looked up once per name).
    fn unchanged(&self, cache: &Cache, name: &[u8], m: &Listed) -> Result<Option<Vec<ChunkRef>>> {
        let mut old = cache.old.borrow_mut();
        let Some(c) = old.get_mut(name) else {
            return Ok(None);
        };
        let same =
            c.size == m.size && c.mtime == ns(m.mtime) && c.ctime == ns(m.ctime) && c.ino == m.ino;
        if !same {
            return Ok(None);
        }
        if self.cache.trusted() {
            self.store.reuse_indexed(&c.chunks)?;
        } else if !self.store.reuse(&c.chunks)? {
            return Ok(None);
        }
        let chunks = c.chunks.clone();
        let kept = CachedFile {
            chunks: std::mem::take(&mut c.chunks),
            ..*c
        };
        drop(old);
        cache.keep(name, kept);
        Ok(Some(chunks))
    }

    /// The chunks the file `name` had at the last backup, as (id, length), if the files cache
    /// has them and they are at most [`GUIDE_MAX`]: they guide the chunking of a large file
    /// that changed.
    fn previous(&self, cache: &Cache, name: &[u8]) -> Vec<(ChunkId, u32)> {
        let old = cache.old.borrow();
        old.get(name)
            .filter(|c| c.chunks.len() <= GUIDE_MAX)
            .map(|c| c.chunks.iter().map(|r| (r.id, r.len)).collect())
            .unwrap_or_default()
    }

    /// The chunker bounds of service slot `svc`.
    fn params_of(&self, svc: usize) -> ChunkerParams {
        self.params.get(svc).copied().unwrap_or_default()
    }

    /// Chunk a stream (a command's output): read and cut in this thread, stored from a second.
    pub fn stream(&self, r: &mut dyn std::io::Read, svc: usize) -> Result<(Vec<ChunkRef>, u64)> {
        let mut buf = Vec::new();
        let mut chunks = Vec::new();
        // a command's output is a dump, as large as the service: chunked on two threads
        let total = chunk_reader_piped(r, self.params_of(svc), &mut buf, |c| {
            let id = self.id_key.chunk_id(c);
            chunks.push(ChunkRef {
                id,
                len: c.len() as u32,
            });
            self.progress.add(c.len() as u64);
            self.store.put(id, BlobKind::Data, c, svc)
        })
        .map_err(|e| match e {
            ChunkError::Read(io) => Error::io("command output", io),
            ChunkError::Callback(e) => e,
        })?;
        Ok((chunks, total))
    }
}

/// Service `service` failed on the OS error `e` while doing `what`: its cause is `e`'s kind
/// (missing, unreadable or another failure), `e` is kept as the source.
fn service_error(service: &str, what: String, e: std::io::Error) -> Error {
    let cause = ServiceCause::of_path(&e);
    Error::service_io(service, cause, format!("{what}: {e}"), e)
}

/// Open the listed file (only if it still is the listed regular file), read, chunk and store it.
fn read_file(
    reads: &Reads,
    job: &FileJob,
    store: &ChunkStore,
    id_key: &IdKey,
    buf: &mut Vec<u8>,
    progress: &Progress,
) -> Result<Outcome> {
    let loc = || job.path.display().to_string();
    #[cfg(test)]
    tests::opened(&job.path);
    let opened = open::open_file(reads.dir.as_fd(), &job.name, &job.listed)
        .map_err(|e| Error::io(loc(), e))?;
    let (f, before) = match opened.listed() {
        Ok(f) => f,
        Err(why) => return Ok(Outcome::LeftOut(why)),
    };
    let svc = reads.svc;
    let mut chunks = Vec::new();
    let mut r = open::Sized::new(&f, before.size);
    let mut each = |c: &[u8], id: ChunkId| {
        chunks.push(ChunkRef {
            id,
            len: c.len() as u32,
        });
        progress.add(c.len() as u64);
        store.put(id, BlobKind::Data, c, svc)
    };
    let hash = |c: &[u8]| id_key.chunk_id(c);
    let size = if before.size < PIPED_MIN {
        chunk_reader(&mut r, reads.params, buf, |c| each(c, hash(c)))
    } else if job.previous.is_empty() {
        chunk_reader_piped(&mut r, reads.params, buf, |c| each(c, hash(c)))
    } else {
        chunk_reader_guided(&mut r, reads.params, buf, &job.previous, hash, each).map(|g| {
            #[cfg(test)]
            tests::guided(&job.path, g.taken);
            g.len
        })
    }
    .map_err(|e| match e {
        ChunkError::Read(io) => Error::io(loc(), io),
        ChunkError::Callback(e) => e,
    })?;
    progress
        .files
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let after = open::fstat(&f).map_err(|e| Error::io(loc(), e))?;
    let changed = after.size != size
        || after.mtime != before.mtime
        || after.ctime != before.ctime
        || before.mtime != job.listed.mtime
        || before.size != job.listed.size;
    Ok(Outcome::Stored {
        chunks,
        size,
        changed,
    })
}

/// Read every file of `reads`, in order: an outcome each.
fn read_all(
    reads: &Reads,
    store: &ChunkStore,
    id_key: &IdKey,
    buf: &mut Vec<u8>,
    progress: &Progress,
) -> Vec<Result<Outcome>> {
    reads
        .files
        .iter()
        .map(|f| read_file(reads, f, store, id_key, buf, progress))
        .collect()
}

/// Dropping the walker closes the queue, so the readers end and the scope can join them.
impl Drop for Walker<'_> {
    fn drop(&mut self) {
        drop(self.jobs.take());
    }
}

/// Whether a directory listing of `entries` entries encoding to `len` bytes is one that restore
/// and the mount accept (format::tree's caps): a directory no reader could open is refused at
/// backup time rather than committed in a backup that cannot be restored.
fn tree_fits(entries: u64, len: u64) -> Result<()> {
    use crate::format::tree::{MAX_ENTRIES, MAX_TREE_LEN};
    let what = if entries > MAX_ENTRIES {
        format!("{entries} entries")
    } else if len > u64::from(MAX_TREE_LEN) {
        format!("{len} bytes of listing")
    } else {
        return Ok(());
    };
    Err(Error::failed(
        format!("a directory of this service holds {what}, more than a backup's directory may hold"),
        format!("split the directory into subdirectories of at most {MAX_ENTRIES} entries, or leave it out of the service"),
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::fs;

    type Hook = Arc<dyn Fn(&Path) + Send + Sync>;

    /// A record of files seen by the walk, with something about each (any test's: take your own
    /// directory's).
    type Seen<T> = std::sync::Mutex<Vec<(PathBuf, T)>>;

    /// Every file a reader opened.
    static OPENED: Seen<()> = std::sync::Mutex::new(Vec::new());

    /// Every file chunked guided by its previous chunks, and how many chunks it took.
    static GUIDED: Seen<u64> = std::sync::Mutex::new(Vec::new());

    pub(super) fn opened(path: &Path) {
        OPENED.lock().unwrap().push((path.to_path_buf(), ()));
    }

    pub(super) fn guided(path: &Path, taken: u64) {
        GUIDED.lock().unwrap().push((path.to_path_buf(), taken));
    }

    /// The records of `seen` for files under `dir` since the last call for `dir`, relative to
    /// it, in the order recorded.
    fn take_under<T>(seen: &Seen<T>, dir: &Path) -> Vec<(PathBuf, T)> {
        let mut all = seen.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(p, _)| p.starts_with(dir));
        *all = rest;
        mine.into_iter()
            .map(|(p, t)| (p.strip_prefix(dir).unwrap().to_path_buf(), t))
            .collect()
    }

    /// The files under `dir` chunked guided by their previous chunks since the last call for
    /// `dir`, with the chunks each took without cutting.
    pub(crate) fn take_guided_under(dir: &Path) -> Vec<(PathBuf, u64)> {
        take_under(&GUIDED, dir)
    }

    /// The files under `dir` that readers opened since the last call for `dir`, sorted.
    pub(crate) fn take_opened_under(dir: &Path) -> Vec<PathBuf> {
        let mut mine: Vec<PathBuf> = take_under(&OPENED, dir)
            .into_iter()
            .map(|(p, ())| p)
            .collect();
        mine.sort();
        mine
    }

    /// Hooks by source directory: each runs (in whichever walker thread) after an entry below
    /// its directory is listed and stat'ed, before it is opened (by the walker or a reader): the
    /// moment an attacker swaps it.
    static AFTER_STAT: std::sync::Mutex<Vec<(PathBuf, Hook)>> = std::sync::Mutex::new(Vec::new());

    pub(super) fn after_stat(entry: &Path) {
        let hook = AFTER_STAT
            .lock()
            .unwrap()
            .iter()
            .find(|(root, _)| entry.starts_with(root))
            .map(|(_, h)| h.clone());
        if let Some(h) = hook {
            h(entry)
        }
    }

    /// Back up `src` with `hook` run on each entry listed; the chunk ids referenced, the
    /// warnings and the stats.
    fn walk_with(
        src: &Path,
        id_key: &IdKey,
        hook: impl Fn(&Path) + Send + Sync + 'static,
    ) -> (Vec<ChunkId>, Vec<String>, WalkStats) {
        let r = walk_on(src, id_key, hook, None);
        (r.refs, r.warnings, r.stats)
    }

    /// What [`walk_on`] saw.
    struct Walked {
        root: ChunkId,
        refs: Vec<ChunkId>,
        warnings: Vec<String>,
        stats: WalkStats,
        /// Subdirectories walked by another thread than the one that listed them.
        handed: usize,
    }

    /// Back up `src` with `hook` run on each entry listed, with `threads` reader and walker
    /// threads (the defaults if `None`).
    fn walk_on(
        src: &Path,
        id_key: &IdKey,
        hook: impl Fn(&Path) + Send + Sync + 'static,
        threads: Option<(usize, usize)>,
    ) -> Walked {
        let (index, store) = crate::backup::store::in_memory(1 << 20, 1, 2);
        let progress = Progress::default();
        let mut stats = WalkStats::default();
        AFTER_STAT
            .lock()
            .unwrap()
            .push((src.to_path_buf(), Arc::new(hook)));
        let (root, handed) = std::thread::scope(|scope| {
            let args = (
                &store,
                &*index,
                id_key,
                KeyId([0; 32]),
                vec![ChunkerParams::default()],
                &progress,
            );
            let w = match threads {
                None => Walker::start(args.0, args.1, args.2, args.3, args.4, args.5, scope),
                Some((readers, walkers)) => Walker::with_readers(args, scope, readers, walkers),
            };
            let (root, _) = w.dir(0, "svc", src, b"svc", &mut stats).unwrap();
            (root, w.handed.load(std::sync::atomic::Ordering::Relaxed))
        });
        AFTER_STAT.lock().unwrap().retain(|(root, _)| root != src);
        let refs = store.finish().unwrap().refs.to_vec().unwrap();
        Walked {
            root,
            refs,
            warnings: progress.take_warnings(),
            stats,
            handed,
        }
    }

    #[test]
    fn entries_swapped_after_listing_are_left_out_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let (src, outside) = (d.path().join("src"), d.path().join("outside"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(src.join("plain.txt"), b"plain bytes that are listed").unwrap();
        fs::write(src.join("victim.txt"), b"victim bytes").unwrap();
        fs::write(src.join("renamed.txt"), b"renamed bytes").unwrap();
        fs::write(src.join("sub/inner.txt"), b"inner bytes").unwrap();
        let secret = b"TOP SECRET outside the service: root's key".to_vec();
        fs::write(outside.join("secret.txt"), &secret).unwrap();
        let other = b"ANOTHER file moved over a listed one".to_vec();
        fs::write(outside.join("other.txt"), &other).unwrap();
        let root = src.clone();
        let out = outside.clone();
        // a file becomes a link to a secret, a directory a link to a directory outside, and
        // another file is renamed over a listed one, each between its listing and its opening
        let hook = move |entry: &Path| match entry.strip_prefix(&root).ok().and_then(Path::to_str) {
            Some("victim.txt") => {
                fs::remove_file(entry).unwrap();
                std::os::unix::fs::symlink(out.join("secret.txt"), entry).unwrap();
            }
            Some("sub") => {
                fs::remove_dir_all(entry).unwrap();
                std::os::unix::fs::symlink(&out, entry).unwrap();
            }
            Some("renamed.txt") => fs::rename(out.join("other.txt"), entry).unwrap(),
            _ => {}
        };
        let id_key = IdKey::generate();
        let (refs, warnings, stats) = walk_with(&src, &id_key, hook);
        assert!(refs.contains(&id_key.chunk_id(b"plain bytes that are listed")));
        for (what, bytes) in [("the secret", &secret), ("the moved-in file", &other)] {
            assert!(
                !refs.contains(&id_key.chunk_id(bytes)),
                "{what} was backed up"
            );
        }
        assert_eq!(stats.files, 1, "only plain.txt is in the backup");
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        for (name, why) in [
            ("renamed.txt", "replaced by another file"),
            ("sub", "replaced by a symbolic link"),
            ("victim.txt", "replaced by a symbolic link"),
        ] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(name) && w.contains(why) && w.contains("left out")),
                "no warning for {name}: {warnings:?}"
            );
        }
    }

    #[test]
    fn fifos_and_sockets_are_skipped_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("f.txt"), b"data").unwrap();
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            src.join("pipe"),
            rustix::fs::Mode::from_raw_mode(0o644),
        )
        .unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let id_key = IdKey::generate();
            let _ = tx.send(walk_with(&src, &id_key, |_| {}));
        });
        let (_, warnings, stats) = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the walk hung on a FIFO");
        assert_eq!(stats.files, 1);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings
            .iter()
            .any(|w| w.contains("pipe") && w.contains("FIFO")));
        assert!(warnings
            .iter()
            .any(|w| w.contains("sock") && w.contains("socket")));
    }

    /// `dirs` directories `d0`…, each with subdirectories `s0`…`s2` of `files` files (each
    /// file's content names it), a link and a file at the top: the files' paths.
    fn wide_tree(src: &Path, dirs: usize, files: usize) -> Vec<String> {
        let mut paths = vec!["top".to_string()];
        fs::create_dir_all(src).unwrap();
        fs::write(src.join("top"), b"the file top").unwrap();
        std::os::unix::fs::symlink("d0/s0", src.join("link")).unwrap();
        for i in 0..dirs {
            for j in 0..3 {
                let dir = format!("d{i}/s{j}");
                fs::create_dir_all(src.join(&dir)).unwrap();
                for k in 0..files {
                    let f = format!("{dir}/f{k}");
                    fs::write(src.join(&f), format!("the file {f}")).unwrap();
                    paths.push(f);
                }
            }
        }
        paths
    }

    /// The walk uses several threads, and the trees it stores (so the root's id), the chunks
    /// and the totals are those of a one-thread walk.
    #[test]
    fn a_wide_tree_is_walked_on_several_threads_into_the_trees_of_one() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let files = wide_tree(&src, 60, 3);
        let id_key = IdKey::generate();
        let one = walk_on(&src, &id_key, |_| {}, Some((2, 0)));
        assert_eq!(one.handed, 0);
        for _ in 0..2 {
            // the walk's own thread pauses at each directory, so that on a loaded machine the
            // walker threads get to run and wait for work before it has walked everything
            let first = std::thread::current().id();
            let pause = move |p: &Path| {
                if std::thread::current().id() == first && p.is_dir() {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            };
            let many = walk_on(&src, &id_key, pause, Some((2, 2)));
            assert!(many.handed > 0, "every directory was walked by one thread");
            assert_eq!(many.root, one.root, "not the tree of a one-thread walk");
            assert_eq!(many.refs, one.refs);
            let (a, b) = (&many.stats, &one.stats);
            assert_eq!((a.files, a.dirs, a.bytes), (b.files, b.dirs, b.bytes));
            assert_eq!((a.files, a.dirs), (files.len() as u64, 1 + 60 * 4));
            assert!(many.warnings.is_empty(), "{:?}", many.warnings);
        }
    }

    /// With no reader thread at all, the walker threads read the files themselves while they
    /// wait for them: the backup completes, with the same trees.
    #[test]
    fn walkers_read_files_themselves_while_they_wait() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        wide_tree(&src, 20, 2);
        let id_key = Arc::new(IdKey::generate());
        let usual = walk_on(&src, &id_key, |_| {}, None);
        for walkers in [0, 2] {
            let (tx, rx) = std::sync::mpsc::channel();
            let (s, k) = (src.clone(), id_key.clone());
            std::thread::spawn(move || {
                let _ = tx.send(walk_on(&s, &k, |_| {}, Some((0, walkers))).root);
            });
            let root = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("the walk waited for readers that do not exist");
            assert_eq!(root, usual.root, "{walkers} walker threads");
        }
    }

    /// A directory's small files go to the readers in batches (one hand-off per
    /// [`BATCH_FILES`] files), the batch left open at the end being read by the walker itself:
    /// 150 files make two batches handed on; a directory of three files none.
    #[test]
    fn small_files_are_handed_on_in_batches_not_one_by_one() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("few")).unwrap();
        for i in 0..150 {
            fs::write(src.join(format!("f{i}")), format!("file {i}")).unwrap();
        }
        for i in 0..3 {
            fs::write(src.join(format!("few/f{i}")), format!("few {i}")).unwrap();
        }
        let id_key = IdKey::generate();
        let (index, store) = crate::backup::store::in_memory(1 << 20, 1, 1);
        let progress = Progress::default();
        let (mut stats, params) = (WalkStats::default(), vec![ChunkerParams::default()]);
        let handed = std::thread::scope(|scope| {
            let args = (&store, &*index, &id_key, KeyId([0; 32]), params, &progress);
            let w = Walker::with_readers(args, scope, 2, 0);
            w.dir(0, "svc", &src, b"svc", &mut stats).unwrap();
            w.batches_handed.load(std::sync::atomic::Ordering::Relaxed)
        });
        assert_eq!(stats.files, 153);
        assert_eq!(handed, 150 / BATCH_FILES, "one hand-off per full batch");
        let refs = store.finish().unwrap().refs.to_vec().unwrap();
        for i in 0..150 {
            assert!(refs.contains(&id_key.chunk_id(format!("file {i}").as_bytes())));
        }
    }

    /// A directory that vanishes deep in a walk on several threads is named in a warning, and
    /// everything else is backed up.
    #[test]
    fn a_directory_vanishing_in_a_parallel_walk_is_named_and_the_rest_backed_up() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let files = wide_tree(&src, 40, 2);
        let gone = src.join("d27/s1");
        let g = gone.clone();
        let hook = move |entry: &Path| {
            if entry == g {
                fs::remove_dir_all(entry).unwrap();
            }
        };
        let id_key = IdKey::generate();
        let w = walk_on(&src, &id_key, hook, Some((2, 2)));
        assert!(w.handed > 0);
        assert_eq!(w.warnings.len(), 1, "{:?}", w.warnings);
        let warning = &w.warnings[0];
        assert!(
            warning.contains("d27/s1")
                && warning.contains("vanished")
                && warning.contains("left out"),
            "{warning}"
        );
        assert_eq!(w.stats.files, files.len() as u64 - 2);
        for f in &files {
            let stored = w
                .refs
                .contains(&id_key.chunk_id(format!("the file {f}").as_bytes()));
            assert_eq!(stored, !f.starts_with("d27/s1/"), "{f}");
        }
    }

    #[test]
    fn a_directory_too_large_to_restore_is_refused_at_backup() {
        use crate::format::tree::{MAX_ENTRIES, MAX_TREE_LEN};
        assert!(tree_fits(MAX_ENTRIES, u64::from(MAX_TREE_LEN)).is_ok());
        let e = tree_fits(MAX_ENTRIES + 1, 0).unwrap_err();
        assert!(e.to_string().contains("entries"), "{e}");
        assert!(e.remedy().contains("split"), "{}", e.remedy());
        assert!(tree_fits(0, u64::from(MAX_TREE_LEN) + 1).is_err());
    }
}

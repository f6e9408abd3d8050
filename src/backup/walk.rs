//! Walking a service: directories in the calling thread, files on a pool of readers.
//!
//! The walker runs ahead depth-first, handing files to the readers through a bounded queue,
//! and assembles each directory's tree once its files are done. Unchanged files (same size,
//! mtime, ctime and inode as in the files cache) are not read again: a directory's files cache
//! record is read once when the walk enters it and written once (if changed) when it is done.
//!
//! Everything below a service's root is listed, stat'ed and opened relative to its directory's
//! handle, never by path, and only if it is still the object listed (see [`super::open`]): a
//! link or FIFO swapped in meanwhile is left out with a warning, never read or followed.

use super::open::{self, Kind, Listed, Opened};
use super::store::ChunkStore;
use crate::chunker::{chunk_reader, ChunkError, ChunkerParams};
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

struct Job {
    dir: Arc<OwnedFd>,
    name: CString,
    listed: Listed,
    path: PathBuf,
    svc: usize,
    reply: Sender<Result<Outcome>>,
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

/// The shared context of a backup's walk.
pub struct Walker<'a> {
    pub(super) store: &'a ChunkStore,
    pub(super) index: &'a Index,
    pub(super) id_key: &'a IdKey,
    pub(super) epoch: KeyId,
    pub(super) params: ChunkerParams,
    pub(super) progress: &'a Progress,
    jobs: Option<Sender<Job>>,
    /// The files cache keys of every directory met that holds files, for [`Index::retain_dirs`].
    seen: std::sync::Mutex<Vec<DirKey>>,
}

/// A directory being walked.
struct DirAt<'d> {
    /// The service's slot.
    svc: usize,
    /// The service's name.
    service: &'d str,
    /// The directory, open.
    fd: &'d Arc<OwnedFd>,
    /// Its path.
    abs: &'d Path,
    /// Its path within the service.
    rel: &'d Path,
    /// Its files cache key.
    key: &'d [u8],
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
}

/// One entry of a directory being walked, as listed.
struct Entry {
    name: CString,
    meta: Listed,
    /// Its path.
    abs: PathBuf,
    /// Its path within the service.
    path: PathBuf,
    /// Its files cache key.
    key: Vec<u8>,
}

/// A directory's files cache record as read when the walk entered it, and the one being made.
struct Cache {
    old: CachedDir,
    new: std::cell::RefCell<CachedDir>,
}

impl Cache {
    /// Record the state of the file `name` in the new record.
    fn keep(&self, name: &[u8], f: CachedFile) {
        self.new.borrow_mut().push(name, f);
    }
}

/// A file handed to the readers, and where its node goes once read.
struct Reading {
    node: Node,
    rx: Receiver<Result<Outcome>>,
    meta: Listed,
    path: PathBuf,
    abs: PathBuf,
}

#[allow(clippy::large_enum_variant)] // lives only on the walker's stack, one per entry
enum Pending {
    Ready(Node),
    File(Reading),
}

fn ns((s, n): (i64, u32)) -> i128 {
    s as i128 * 1_000_000_000 + n as i128
}

/// A node for `name` with the metadata of `m` and the given kind.
pub(super) fn node(name: &[u8], kind: NodeKind, m: &Listed, size: u64) -> Node {
    Node {
        name: name.to_vec(),
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
    #[allow(clippy::too_many_arguments)]
    pub fn start<'s>(
        store: &'a ChunkStore,
        index: &'a Index,
        id_key: &'a IdKey,
        epoch: KeyId,
        params: ChunkerParams,
        progress: &'a Progress,
        scope: &'s std::thread::Scope<'s, '_>,
    ) -> Self
    where
        'a: 's,
    {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        let (tx, rx) = bounded::<Job>(256);
        for _ in 0..n {
            let rx = rx.clone();
            scope.spawn(move || {
                let mut buf = Vec::new();
                for job in rx {
                    let r = read_file(&job, store, id_key, params, &mut buf, progress);
                    let _ = job.reply.send(r);
                }
            });
        }
        Walker {
            store,
            index,
            id_key,
            epoch,
            params,
            progress,
            jobs: Some(tx),
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The files cache keys of the directories met so far (taken: the list starts afresh).
    pub fn take_seen(&self) -> Vec<DirKey> {
        match self.seen.lock() {
            Ok(mut s) => std::mem::take(&mut *s),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
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
        let at = DirAt {
            svc,
            service,
            fd: &Arc::new(fd),
            abs: dir,
            rel: Path::new(""),
            key,
        };
        let tree = self.walk(&at, stats)?;
        Ok((tree, root))
    }

    /// Back up the directory `d`; its tree id.
    fn walk(&self, d: &DirAt, stats: &mut WalkStats) -> Result<ChunkId> {
        stats.dirs += 1;
        let names = open::list_dir(d.fd.as_ref())
            .map_err(|e| d.error(format!("cannot list directory {}", d.abs.display()), e))?;
        let key = DirKey::new(&self.epoch, d.key);
        let cache = Cache {
            old: self.index.cached_dir(&key)?,
            new: std::cell::RefCell::new(CachedDir::default()),
        };
        let mut pending = Vec::with_capacity(names.len());
        for name in names {
            self.store.check()?;
            self.progress.check_cancel()?;
            let Some(e) = self.stat(d, name)? else {
                continue;
            };
            let p = match e.meta.kind {
                Kind::Dir => self.subdir(d, e, stats)?,
                Kind::Symlink => self.symlink(d, e)?,
                Kind::Special(what) => {
                    self.warn(d.left_out(&e.path, &format!("is {what} (never read)")));
                    None
                }
                Kind::File => self.file(d, e, stats, &cache)?,
            };
            pending.extend(p);
        }
        let tree = self.collect(d.service, pending, stats, &cache)?;
        let new = cache.new.into_inner();
        if self.index.cache_dir(&key, new, &cache.old)? {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(key);
            }
        }
        self.put_tree(&tree, d.svc)
    }

    /// The entry `name` of `d` as listed now; `None` (with a warning) if it vanished.
    fn stat(&self, d: &DirAt, name: CString) -> Result<Option<Entry>> {
        let nb = name.as_bytes();
        let (abs, path) = (
            d.abs.join(OsStr::from_bytes(nb)),
            d.rel.join(OsStr::from_bytes(nb)),
        );
        let meta = match open::stat_entry(d.fd.as_fd(), &name) {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.warn(d.left_out(&path, "vanished while backing up"));
                return Ok(None);
            }
            Err(e) => return Err(d.error(format!("cannot stat {}", abs.display()), e)),
        };
        #[cfg(test)]
        tests::AFTER_STAT.with(|h| {
            if let Some(f) = h.borrow().as_ref() {
                f(&abs)
            }
        });
        let mut key = d.key.to_vec();
        key.push(b'/');
        key.extend_from_slice(nb);
        Ok(Some(Entry {
            name,
            meta,
            abs,
            path,
            key,
        }))
    }

    /// A subdirectory, walked now (depth-first); `None` if it is no longer the one listed.
    fn subdir(&self, d: &DirAt, e: Entry, stats: &mut WalkStats) -> Result<Option<Pending>> {
        let sub = match open::open_dir(d.fd.as_fd(), &e.name, &e.meta).map(Opened::listed) {
            Ok(Ok(sub)) => Arc::new(sub),
            Ok(Err(why)) => {
                self.warn(d.left_out(&e.path, &format!("{why} while backing up")));
                return Ok(None);
            }
            Err(err) => {
                return Err(d.error(format!("cannot open directory {}", e.abs.display()), err))
            }
        };
        let at = DirAt {
            svc: d.svc,
            service: d.service,
            fd: &sub,
            abs: &e.abs,
            rel: &e.path,
            key: &e.key,
        };
        let tree = self.walk(&at, stats)?;
        let n = node(e.name.as_bytes(), NodeKind::Dir { tree }, &e.meta, 0);
        Ok(Some(Pending::Ready(n)))
    }

    /// A symbolic link and its target; `None` if it vanished or is no longer a link.
    fn symlink(&self, d: &DirAt, e: Entry) -> Result<Option<Pending>> {
        let target = match rustix::fs::readlinkat(d.fd.as_fd(), &e.name, Vec::new()) {
            Ok(t) => t,
            Err(rustix::io::Errno::NOENT) => {
                self.warn(d.left_out(&e.path, "vanished while backing up"));
                return Ok(None);
            }
            Err(rustix::io::Errno::INVAL) => {
                self.warn(d.left_out(&e.path, "is no longer a symbolic link"));
                return Ok(None);
            }
            Err(err) => {
                return Err(d.error(format!("cannot read link {}", e.abs.display()), err.into()))
            }
        };
        let kind = NodeKind::Symlink {
            target: target.into_bytes(),
        };
        Ok(Some(Pending::Ready(node(
            e.name.as_bytes(),
            kind,
            &e.meta,
            0,
        ))))
    }

    /// A regular file: its cached chunks if unchanged, else handed to the readers.
    fn file(
        &self,
        d: &DirAt,
        e: Entry,
        stats: &mut WalkStats,
        cache: &Cache,
    ) -> Result<Option<Pending>> {
        stats.files += 1;
        let nb = e.name.as_bytes();
        if let Some(c) = self.unchanged(cache.old.get(nb), &e.meta)? {
            let chunks = c.chunks.clone();
            cache.keep(nb, c.clone());
            stats.bytes += e.meta.size;
            self.progress.file(e.meta.size);
            let n = node(nb, NodeKind::File { chunks }, &e.meta, e.meta.size);
            return Ok(Some(Pending::Ready(n)));
        }
        let node = node(nb, NodeKind::File { chunks: Vec::new() }, &e.meta, 0);
        let (tx, rx) = bounded(1);
        let job = Job {
            dir: d.fd.clone(),
            name: e.name,
            listed: e.meta,
            path: e.abs.clone(),
            svc: d.svc,
            reply: tx,
        };
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| Error::failed("file readers stopped", "retry the backup"))?;
        Ok(Some(Pending::File(Reading {
            node,
            rx,
            meta: e.meta,
            path: e.path,
            abs: e.abs,
        })))
    }

    /// A directory's tree from its entries, in listing order, once their files are read.
    fn collect(
        &self,
        service: &str,
        pending: Vec<Pending>,
        stats: &mut WalkStats,
        cache: &Cache,
    ) -> Result<Tree> {
        let mut tree = Tree {
            nodes: Vec::with_capacity(pending.len()),
        };
        for p in pending {
            match p {
                Pending::Ready(n) => tree.nodes.push(n),
                Pending::File(r) => tree.nodes.extend(self.file_read(service, r, stats, cache)?),
            }
        }
        Ok(tree)
    }

    /// A file's node once a reader is done with it (and its files cache entry, unless it
    /// changed while read); `None` if it was left out.
    fn file_read(
        &self,
        service: &str,
        r: Reading,
        stats: &mut WalkStats,
        cache: &Cache,
    ) -> Result<Option<Node>> {
        let Reading {
            mut node,
            rx,
            meta,
            path,
            abs,
        } = r;
        let out = rx.recv().map_err(|_| {
            Error::failed(
                "a file reader stopped",
                "see the earlier error; retry the backup",
            )
        })?;
        let out = out.map_err(|e| match e {
            Error::Storage(s) if s.location == abs.display().to_string() => {
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
                    path.display()
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
                path.display()
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

    /// Store a tree blob; its id.
    pub fn put_tree(&self, tree: &Tree, svc: usize) -> Result<ChunkId> {
        tree_fits(tree.nodes.len() as u64, 0)?;
        let bytes = tree.encode();
        tree_fits(0, bytes.len() as u64)?;
        let id = self.id_key.chunk_id(&bytes);
        self.store.put(id, BlobKind::Tree, &bytes, svc)?;
        Ok(id)
    }

    /// The cached state `c` of a file listed as `m`, if the file is unchanged since (and its
    /// chunks are all still stored).
    fn unchanged<'c>(
        &self,
        c: Option<&'c CachedFile>,
        m: &Listed,
    ) -> Result<Option<&'c CachedFile>> {
        let Some(c) = c else {
            return Ok(None);
        };
        let same =
            c.size == m.size && c.mtime == ns(m.mtime) && c.ctime == ns(m.ctime) && c.ino == m.ino;
        if !same {
            return Ok(None);
        }
        let ids: Vec<ChunkId> = c.chunks.iter().map(|r| r.id).collect();
        Ok(self.store.reuse(&ids)?.then_some(c))
    }

    /// Chunk a stream (a command's output) in this thread.
    pub fn stream(&self, r: &mut dyn std::io::Read, svc: usize) -> Result<(Vec<ChunkRef>, u64)> {
        let mut buf = Vec::new();
        let mut chunks = Vec::new();
        let total = chunk_reader(r, self.params, &mut buf, |c| {
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
    job: &Job,
    store: &ChunkStore,
    id_key: &IdKey,
    params: ChunkerParams,
    buf: &mut Vec<u8>,
    progress: &Progress,
) -> Result<Outcome> {
    let loc = || job.path.display().to_string();
    #[cfg(test)]
    tests::opened(&job.path);
    let opened = open::open_file(job.dir.as_fd(), &job.name, &job.listed)
        .map_err(|e| Error::io(loc(), e))?;
    let (mut f, before) = match opened.listed() {
        Ok(f) => f,
        Err(why) => return Ok(Outcome::LeftOut(why)),
    };
    let svc = job.svc;
    let mut chunks = Vec::new();
    let size = chunk_reader(&mut f, params, buf, |c| {
        let id = id_key.chunk_id(c);
        chunks.push(ChunkRef {
            id,
            len: c.len() as u32,
        });
        progress.add(c.len() as u64);
        store.put(id, BlobKind::Data, c, svc)
    })
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
    use crate::backend::MemoryBackend;
    use crate::crypto::SessionKey;
    use std::cell::RefCell;
    use std::fs;

    type Hook = Box<dyn Fn(&Path)>;

    /// Every file a reader opened (any test's: filter by your own directory).
    static OPENED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

    pub(super) fn opened(path: &Path) {
        OPENED.lock().unwrap().push(path.to_path_buf());
    }

    /// The files under `dir` that readers opened since the last call for `dir`, sorted.
    pub(crate) fn take_opened_under(dir: &Path) -> Vec<PathBuf> {
        let mut all = OPENED.lock().unwrap();
        let (mine, rest) = all.drain(..).partition(|p: &PathBuf| p.starts_with(dir));
        *all = rest;
        let mut mine: Vec<PathBuf> = mine
            .into_iter()
            .map(|p| p.strip_prefix(dir).unwrap().to_path_buf())
            .collect();
        mine.sort();
        mine
    }

    thread_local! {
        /// Runs in the walker's thread after an entry is listed and stat'ed, before it is
        /// opened (by the walker or a reader): the moment an attacker swaps it.
        pub(super) static AFTER_STAT: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Back up `src` with `hook` run on each entry listed; the chunk ids referenced, the
    /// warnings and the stats.
    fn walk_with(
        src: &Path,
        id_key: &IdKey,
        hook: impl Fn(&Path) + 'static,
    ) -> (Vec<ChunkId>, Vec<String>, WalkStats) {
        let index = Arc::new(Index::temporary().unwrap());
        let store = ChunkStore::start(
            Arc::new(MemoryBackend::new()),
            index.clone(),
            SessionKey::generate(),
            KeyId([0; 32]),
            1 << 20,
            1,
            2,
        );
        let progress = Progress::default();
        let mut stats = WalkStats::default();
        AFTER_STAT.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
        std::thread::scope(|scope| {
            let w = Walker::start(
                &store,
                &index,
                id_key,
                KeyId([0; 32]),
                ChunkerParams::default(),
                &progress,
                scope,
            );
            w.dir(0, "svc", src, b"svc", &mut stats).unwrap();
        });
        AFTER_STAT.with(|h| *h.borrow_mut() = None);
        let refs = store.finish().unwrap().refs.to_vec().unwrap();
        (refs, progress.take_warnings(), stats)
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

//! Walking a service: directories in the calling thread, files on a pool of readers.
//!
//! The walker runs ahead depth-first, handing files to the readers through a bounded queue,
//! and assembles each directory's tree once its files are done. Unchanged files (same size,
//! mtime, ctime and inode as in the files cache) are not read again.
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
use crate::index::{CachedFile, Index};
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
}

#[allow(clippy::large_enum_variant)] // lives only on the walker's stack, one per entry
enum Pending {
    Ready(Node),
    File {
        node: Node,
        rx: Receiver<Result<Outcome>>,
        meta: Listed,
        key: Vec<u8>,
        path: PathBuf,
        abs: PathBuf,
    },
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
        let tree = self.walk(svc, service, &Arc::new(fd), dir, Path::new(""), key, stats)?;
        Ok((tree, root))
    }

    /// Back up the directory open as `fd` (at `abs`, `rel` within the service).
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        svc: usize,
        service: &str,
        fd: &Arc<OwnedFd>,
        abs: &Path,
        rel: &Path,
        key: &[u8],
        stats: &mut WalkStats,
    ) -> Result<ChunkId> {
        let serr = |what: String, e: std::io::Error| service_error(service, what, e);
        stats.dirs += 1;
        let names = open::list_dir(fd.as_ref())
            .map_err(|e| serr(format!("cannot list directory {}", abs.display()), e))?;
        let mut pending = Vec::with_capacity(names.len());
        for name in names {
            self.store.check()?;
            self.progress.check_cancel()?;
            let nb = name.as_bytes();
            let (abs_path, path) = (
                abs.join(OsStr::from_bytes(nb)),
                rel.join(OsStr::from_bytes(nb)),
            );
            let left_out = |why: &str| format!("{service}: {} {why}; left out", path.display());
            let meta = match open::stat_entry(fd.as_fd(), &name) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    self.warn(left_out("vanished while backing up"));
                    continue;
                }
                Err(e) => return Err(serr(format!("cannot stat {}", abs_path.display()), e)),
            };
            #[cfg(test)]
            tests::AFTER_STAT.with(|h| {
                if let Some(f) = h.borrow().as_ref() {
                    f(&abs_path)
                }
            });
            let mut child_key = key.to_vec();
            child_key.push(b'/');
            child_key.extend_from_slice(nb);
            match meta.kind {
                Kind::Dir => {
                    let sub = match open::open_dir(fd.as_fd(), &name, &meta).map(Opened::listed) {
                        Ok(Ok(sub)) => Arc::new(sub),
                        Ok(Err(why)) => {
                            self.warn(left_out(&format!("{why} while backing up")));
                            continue;
                        }
                        Err(e) => {
                            return Err(serr(
                                format!("cannot open directory {}", abs_path.display()),
                                e,
                            ))
                        }
                    };
                    let tree =
                        self.walk(svc, service, &sub, &abs_path, &path, &child_key, stats)?;
                    pending.push(Pending::Ready(node(nb, NodeKind::Dir { tree }, &meta, 0)));
                }
                Kind::Symlink => {
                    let target = match rustix::fs::readlinkat(fd.as_fd(), &name, Vec::new()) {
                        Ok(t) => t,
                        Err(rustix::io::Errno::NOENT) => {
                            self.warn(left_out("vanished while backing up"));
                            continue;
                        }
                        Err(rustix::io::Errno::INVAL) => {
                            self.warn(left_out("is no longer a symbolic link"));
                            continue;
                        }
                        Err(e) => {
                            return Err(serr(
                                format!("cannot read link {}", abs_path.display()),
                                e.into(),
                            ))
                        }
                    };
                    pending.push(Pending::Ready(node(
                        nb,
                        NodeKind::Symlink {
                            target: target.into_bytes(),
                        },
                        &meta,
                        0,
                    )));
                }
                Kind::Special(what) => {
                    self.warn(left_out(&format!("is {what} (never read)")));
                }
                Kind::File => {
                    stats.files += 1;
                    if let Some(chunks) = self.unchanged(&child_key, &meta)? {
                        stats.bytes += meta.size;
                        self.progress.file(meta.size);
                        pending.push(Pending::Ready(node(
                            nb,
                            NodeKind::File { chunks },
                            &meta,
                            meta.size,
                        )));
                        continue;
                    }
                    let (tx, rx) = bounded(1);
                    let job = Job {
                        dir: fd.clone(),
                        name: name.clone(),
                        listed: meta,
                        path: abs_path.clone(),
                        svc,
                        reply: tx,
                    };
                    self.jobs
                        .as_ref()
                        .and_then(|j| j.send(job).ok())
                        .ok_or_else(|| Error::failed("file readers stopped", "retry the backup"))?;
                    let n = node(nb, NodeKind::File { chunks: Vec::new() }, &meta, 0);
                    pending.push(Pending::File {
                        node: n,
                        rx,
                        meta,
                        key: child_key,
                        path,
                        abs: abs_path,
                    });
                }
            }
        }
        let mut tree = Tree {
            nodes: Vec::with_capacity(pending.len()),
        };
        for p in pending {
            match p {
                Pending::Ready(n) => tree.nodes.push(n),
                Pending::File {
                    mut node,
                    rx,
                    meta,
                    key,
                    path,
                    abs,
                } => {
                    let r = rx.recv().map_err(|_| {
                        Error::failed(
                            "a file reader stopped",
                            "see the earlier error; retry the backup",
                        )
                    })?;
                    match r.map_err(|e| match e {
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
                    })? {
                        Outcome::LeftOut(why) => {
                            stats.files -= 1;
                            self.warn(format!(
                                "{service}: {} {why} while backing up; left out",
                                path.display()
                            ));
                        }
                        Outcome::Stored {
                            chunks,
                            size,
                            changed,
                        } => {
                            if changed {
                                self.warn(format!("{service}: {} changed while it was read; recorded as read ({size} bytes)", path.display()));
                            } else {
                                let c = CachedFile {
                                    size,
                                    mtime: ns(meta.mtime),
                                    ctime: ns(meta.ctime),
                                    ino: meta.ino,
                                    epoch: self.epoch,
                                    chunks: chunks.clone(),
                                };
                                self.index.cache_file(&key, &c)?;
                            }
                            stats.bytes += size;
                            node.size = size;
                            node.kind = NodeKind::File { chunks };
                            tree.nodes.push(node);
                        }
                    }
                }
            }
        }
        self.put_tree(&tree, svc)
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

    fn unchanged(&self, key: &[u8], m: &Listed) -> Result<Option<Vec<ChunkRef>>> {
        let Some(c) = self.index.cached_file(key)? else {
            return Ok(None);
        };
        let same = c.size == m.size
            && c.mtime == ns(m.mtime)
            && c.ctime == ns(m.ctime)
            && c.ino == m.ino
            && c.epoch == self.epoch;
        if !same {
            return Ok(None);
        }
        let ids: Vec<ChunkId> = c.chunks.iter().map(|r| r.id).collect();
        Ok(self.store.reuse(&ids)?.then_some(c.chunks))
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
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;
    use crate::crypto::SessionKey;
    use std::cell::RefCell;
    use std::fs;

    type Hook = Box<dyn Fn(&Path)>;

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
        let refs = store.finish().unwrap().refs;
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

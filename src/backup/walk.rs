//! Walking a service: directories in the calling thread, files on a pool of readers.
//!
//! The walker runs ahead depth-first, handing files to the readers through a bounded queue,
//! and assembles each directory's tree once its files are done. Unchanged files (same size,
//! mtime, ctime and inode as in the files cache) are not read again.

use super::store::ChunkStore;
use crate::chunker::{chunk_reader, ChunkError, ChunkerParams};
use crate::crypto::IdKey;
use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::format::tree::{ChunkRef, Node, NodeKind, Tree};
use crate::id::{ChunkId, KeyId};
use crate::index::{CachedFile, Index};
use crate::progress::Progress;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a reader made of a file.
enum Outcome {
    Stored {
        chunks: Vec<ChunkRef>,
        size: u64,
        changed: bool,
    },
    Vanished,
}

struct Job {
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
    pub(super) warnings: &'a Mutex<Vec<String>>,
    jobs: Option<Sender<Job>>,
}

#[allow(clippy::large_enum_variant)] // lives only on the walker's stack, one per entry
enum Pending {
    Ready(Node),
    File {
        node: Node,
        rx: Receiver<Result<Outcome>>,
        meta: Metadata,
        key: Vec<u8>,
        path: PathBuf,
    },
}

fn mtime_of(m: &Metadata) -> (i64, u32) {
    (m.mtime(), m.mtime_nsec().clamp(0, 999_999_999) as u32)
}

fn ns(s: i64, n: i64) -> i128 {
    s as i128 * 1_000_000_000 + n as i128
}

/// A node for `name` with the metadata of `m` and the given kind.
pub(super) fn node(name: &[u8], kind: NodeKind, m: &Metadata, size: u64) -> Node {
    let (mtime_s, mtime_ns) = mtime_of(m);
    Node {
        name: name.to_vec(),
        kind,
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime_s,
        mtime_ns,
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
        warnings: &'a Mutex<Vec<String>>,
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
                    let r = read_file(
                        &job.path, job.svc, store, id_key, params, &mut buf, progress,
                    );
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
            warnings,
            jobs: Some(tx),
        }
    }

    fn warn(&self, w: String) {
        tracing::warn!("{w}");
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(w);
    }

    /// Back up the directory `dir` (service slot `svc`, cache key prefix `key`); its tree id.
    pub fn dir(
        &self,
        svc: usize,
        service: &str,
        dir: &Path,
        key: &[u8],
        stats: &mut WalkStats,
    ) -> Result<ChunkId> {
        let serr = |cause: String| {
            Error::Service {
            service: service.to_string(),
            cause,
            remedy: format!("make the path readable by cairn (it runs as uid {}), or fix the service with `cairn service add/remove`", unsafe { libc::geteuid() }),
        }
        };
        stats.dirs += 1;
        let rd = std::fs::read_dir(dir)
            .map_err(|e| serr(format!("cannot list directory {}: {e}", dir.display())))?;
        let mut names = Vec::new();
        for ent in rd {
            let ent =
                ent.map_err(|e| serr(format!("cannot list directory {}: {e}", dir.display())))?;
            names.push(ent.file_name());
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut pending = Vec::with_capacity(names.len());
        for name in names {
            self.store.check()?;
            self.progress.check_cancel()?;
            let path = dir.join(&name);
            let nb = name.as_bytes();
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.warn(format!(
                        "{service}: {} vanished while backing up; left out",
                        path.display()
                    ));
                    continue;
                }
                Err(e) => return Err(serr(format!("cannot stat {}: {e}", path.display()))),
            };
            let mut child_key = key.to_vec();
            child_key.push(b'/');
            child_key.extend_from_slice(nb);
            let ft = meta.file_type();
            if ft.is_dir() {
                let tree = self.dir(svc, service, &path, &child_key, stats)?;
                pending.push(Pending::Ready(node(nb, NodeKind::Dir { tree }, &meta, 0)));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path)
                    .map_err(|e| serr(format!("cannot read link {}: {e}", path.display())))?;
                pending.push(Pending::Ready(node(
                    nb,
                    NodeKind::Symlink {
                        target: target.as_os_str().as_bytes().to_vec(),
                    },
                    &meta,
                    0,
                )));
            } else if ft.is_file() {
                stats.files += 1;
                if let Some(chunks) = self.unchanged(&child_key, &meta)? {
                    stats.bytes += meta.len();
                    self.progress.file(meta.len());
                    pending.push(Pending::Ready(node(
                        nb,
                        NodeKind::File { chunks },
                        &meta,
                        meta.len(),
                    )));
                    continue;
                }
                let (tx, rx) = bounded(1);
                let job = Job {
                    path: path.clone(),
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
                });
            } else {
                self.warn(format!(
                    "{service}: {} is a socket, FIFO or device; left out",
                    path.display()
                ));
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
                } => {
                    let r = rx.recv().map_err(|_| {
                        Error::failed(
                            "a file reader stopped",
                            "see the earlier error; retry the backup",
                        )
                    })?;
                    match r.map_err(|e| match e {
                        Error::Storage(s) if s.location == path.display().to_string() => {
                            serr(format!("cannot read {}: {}", path.display(), s.detail))
                        }
                        other => other,
                    })? {
                        Outcome::Vanished => {
                            stats.files -= 1;
                            self.warn(format!(
                                "{service}: {} vanished while backing up; left out",
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
                                let (s, n) = mtime_of(&meta);
                                let c = CachedFile {
                                    size,
                                    mtime: ns(s, n as i64),
                                    ctime: ns(meta.ctime(), meta.ctime_nsec()),
                                    ino: meta.ino(),
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
        let bytes = tree.encode();
        let id = self.id_key.chunk_id(&bytes);
        self.store.put(id, BlobKind::Tree, &bytes, svc)?;
        Ok(id)
    }

    fn unchanged(&self, key: &[u8], m: &Metadata) -> Result<Option<Vec<ChunkRef>>> {
        let Some(c) = self.index.cached_file(key)? else {
            return Ok(None);
        };
        let (s, n) = mtime_of(m);
        let same = c.size == m.len()
            && c.mtime == ns(s, n as i64)
            && c.ctime == ns(m.ctime(), m.ctime_nsec())
            && c.ino == m.ino()
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

/// Read, chunk and store one file.
fn read_file(
    path: &Path,
    svc: usize,
    store: &ChunkStore,
    id_key: &IdKey,
    params: ChunkerParams,
    buf: &mut Vec<u8>,
    progress: &Progress,
) -> Result<Outcome> {
    let loc = || path.display().to_string();
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Vanished),
        Err(e) => return Err(Error::io(loc(), e)),
    };
    let before = f.metadata().map_err(|e| Error::io(loc(), e))?;
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
    let after = f.metadata().map_err(|e| Error::io(loc(), e))?;
    let changed = after.len() != size
        || after.mtime() != before.mtime()
        || after.mtime_nsec() != before.mtime_nsec()
        || after.ctime_nsec() != before.ctime_nsec();
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

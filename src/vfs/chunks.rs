//! Chunk access for the mount: locate (from pack headers, rescanned when a chunk is not found),
//! read, decrypt, check, cache, and prefetch on background threads.

use super::cache::{ChunkCache, Loaded};
use super::table::Entry;
use crate::error::Error;
use crate::format::segment;
use crate::format::tree::{NodeKind, Tree};
use crate::id::ChunkId;
use crate::keyring::KeyRing;
use crate::locator::{ChunkReader, Groups, Locator};
use crate::repository::Repository;
use cairn_fuse::{Errno, Pusher};
use crossbeam_channel::{Receiver, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The shortest time between two scans of the pack headers.
const RESCAN_EVERY: Duration = Duration::from_secs(1);

/// Everything needed to turn a chunk id into checked plaintext.
pub(crate) struct Chunks {
    repo: Repository,
    keys: KeyRing,
    locator: RwLock<Arc<Locator>>,
    last_scan: Mutex<Instant>,
    cache: ChunkCache,
    /// Groups opened lately: the members of one are read one after another.
    groups: Arc<Groups>,
}

/// Work for one prefetch thread (one wake-up for many chunks or files).
pub(crate) enum Prefetch {
    /// Chunks loaded in order, the backup they belong to (for error messages), and whether
    /// they are trees (checked with [`Chunks::check_tree`] before they are read).
    Chunks {
        ids: Vec<ChunkId>,
        backup: Arc<str>,
        trees: bool,
    },
    /// Whole files (inode, entry) loaded and stored into the kernel's page cache through `to`.
    /// A file whose bytes fail any check a read makes is not stored: its reader's own READ
    /// reports the error.
    Push {
        files: Vec<(u64, Arc<Entry>)>,
        to: Arc<dyn Pusher>,
    },
}

impl Chunks {
    /// Scan the pack headers of `repo` and get ready to read with `keys`.
    pub(crate) fn new(repo: Repository, keys: KeyRing, budget: usize) -> crate::Result<Self> {
        let loc = Locator::scan(&repo, None)?;
        for (name, e) in &loc.unreadable {
            tracing::warn!("pack {name} is unreadable ({e}); files needing it will give EIO");
        }
        Ok(Chunks {
            repo,
            keys,
            locator: RwLock::new(Arc::new(loc)),
            last_scan: Mutex::new(Instant::now()),
            cache: ChunkCache::new(budget),
            groups: Arc::default(),
        })
    }

    /// The repository.
    pub(crate) fn repo(&self) -> &Repository {
        &self.repo
    }

    /// Whether the chunk is cached or being loaded (no need to prefetch it).
    pub(crate) fn has(&self, id: &ChunkId) -> bool {
        self.cache.has(id)
    }

    /// Whether the chunk's plaintext is cached (not merely being loaded).
    #[cfg(test)]
    pub(crate) fn cache_holds(&self, id: &ChunkId) -> bool {
        self.cache.holds(id)
    }

    /// The checked plaintext of chunk `id` of backup `backup`: `EIO` if it is damaged or
    /// missing, `EACCES` if the identity cannot decrypt it.
    pub(crate) fn get(&self, id: &ChunkId, backup: &str) -> Loaded {
        self.cache.get_or_load(id, || self.load(id, backup))
    }

    /// `EIO` unless `id` is stored as a tree blob no larger than a tree may be (checked before
    /// it is read, so a lying pack header cannot make the mount decompress a giant blob).
    pub(crate) fn check_tree(&self, id: &ChunkId) -> Result<(), Errno> {
        self.locator().check_tree(id).map_err(|e| {
            tracing::error!("{e}");
            Errno::EIO
        })
    }

    /// Expand the segmented files of a just loaded directory into plain chunk lists (so a read
    /// finds its chunk offsets at once). A file whose segments are damaged stays segmented and
    /// reads give `EIO`; the damage is logged here, and the rest of the directory is unharmed.
    pub(crate) fn expand_segments(&self, tree: &mut Tree, backup: &str) {
        let mut budget = segment::MAX_EXPANDED_CHUNKS;
        for n in &mut tree.nodes {
            let NodeKind::FileSegments { segments } = &n.kind else {
                continue;
            };
            let got = segment::expand(segments, &mut budget, |id| {
                self.locator().check_segment(id)?;
                match self.get(id, backup) {
                    Ok(b) => Ok(b.to_vec()),
                    Err(_) => Err(Error::corrupt(
                        format!("segment {}", id.to_hex()),
                        "unreadable (see the error above)",
                    )),
                }
            });
            match got {
                Ok(chunks) => n.kind = NodeKind::File { chunks },
                Err(e) => tracing::error!(
                    "file {:?} of backup {backup}: {e}",
                    String::from_utf8_lossy(&n.name)
                ),
            }
        }
    }

    /// Bytes `offset..end` of file `e` (`end` at most its size), from checked chunks: `EIO`
    /// if a chunk is damaged or missing or does not hold the bytes the file records for it
    /// (logged naming the file as `describe` does), `EACCES` if the identity cannot decrypt it.
    pub(crate) fn file_bytes(
        &self,
        e: &Entry,
        offset: u64,
        end: u64,
        describe: &dyn Fn() -> String,
    ) -> Result<Vec<u8>, Errno> {
        let NodeKind::File { chunks } = &e.node.kind else {
            return Err(Errno::EIO);
        };
        if end > e.ends.last().copied().unwrap_or(0) {
            return Err(Errno::EIO);
        }
        if offset >= end {
            return Ok(Vec::new());
        }
        let (first, last) = e.chunk_span(offset, end);
        let mut out = Vec::with_capacity((end - offset) as usize);
        for (i, c) in chunks.iter().enumerate().take(last + 1).skip(first) {
            let start = if i == 0 { 0 } else { e.ends[i - 1] };
            let data = self.get(&c.id, &e.backup.id)?;
            if data.len() as u64 != e.ends[i] - start {
                tracing::error!(
                    "{}: chunk {} holds {} bytes, the file says {}",
                    describe(),
                    c.id.to_hex(),
                    data.len(),
                    e.ends[i] - start
                );
                return Err(Errno::EIO);
            }
            let a = (offset.max(start) - start) as usize;
            let b = (end.min(e.ends[i]) - start) as usize;
            out.extend_from_slice(&data[a..b]);
        }
        Ok(out)
    }

    /// Store file `e` (inode `ino`) whole into the kernel's page cache through `to`, if its
    /// bytes pass every check a read makes; a file that fails is not stored, and its reader's
    /// own READ reports the error.
    pub(crate) fn push_file(&self, ino: u64, e: &Entry, to: &dyn Pusher) {
        if !e.chunks_add_up() {
            return;
        }
        let describe = || {
            format!(
                "file {:?} of backup {}",
                String::from_utf8_lossy(&e.node.name),
                e.backup.id
            )
        };
        if let Ok(data) = self.file_bytes(e, 0, e.node.size, &describe) {
            let _ = to.push(ino, &data);
        }
    }

    fn locator(&self) -> Arc<Locator> {
        self.locator
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn load(&self, id: &ChunkId, backup: &str) -> Result<Vec<u8>, Errno> {
        let mut loc = self.locator();
        if loc.place(id).is_none() {
            loc = self.rescan(id).unwrap_or(loc);
        }
        let reader = ChunkReader::sharing(&self.repo, &self.keys, &loc, self.groups.clone());
        reader.read(id, backup).map_err(|e| match e {
            Error::WrongIdentity { .. } => {
                tracing::warn!("{e}");
                Errno::EACCES
            }
            e => {
                tracing::error!("backup {backup}: {e}");
                Errno::EIO
            }
        })
    }

    /// Rescan the pack headers (a backup may have added packs) to find `id`, at most once per
    /// second: a chunk that stays missing costs its reader that wait, never a busy loop.
    fn rescan(&self, id: &ChunkId) -> Option<Arc<Locator>> {
        let mut last = self.last_scan.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.locator();
        if current.place(id).is_some() {
            return Some(current); // another reader rescanned meanwhile
        }
        std::thread::sleep(RESCAN_EVERY.saturating_sub(last.elapsed()));
        *last = Instant::now();
        match Locator::scan(&self.repo, None) {
            Ok(loc) => {
                let loc = Arc::new(loc);
                *self.locator.write().unwrap_or_else(|p| p.into_inner()) = loc.clone();
                Some(loc)
            }
            Err(e) => {
                tracing::error!("rescanning the packs failed: {e}");
                None
            }
        }
    }
}

/// Start `n` prefetch threads; they stop when the returned sender is dropped.
///
/// Pushes share the queue with chunk loads, in the order they come: a listing queues its
/// files' chunk loads first (spread over the threads), and the push comes after them and finds
/// them loaded. Taking pushes first was measured slower (`benches/RESULTS.md`, branch `push`).
pub(crate) fn start_prefetch(chunks: &Arc<Chunks>, n: usize) -> Sender<Prefetch> {
    let (tx, rx) = crossbeam_channel::bounded::<Prefetch>(256);
    for i in 0..n {
        let rx: Receiver<Prefetch> = rx.clone();
        let chunks = chunks.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("cairn-prefetch-{i}"))
            .spawn(move || {
                for p in rx {
                    match p {
                        Prefetch::Chunks { ids, backup, trees } => {
                            for id in &ids {
                                if !chunks.has(id) && (!trees || chunks.check_tree(id).is_ok()) {
                                    let _ = chunks.get(id, &backup);
                                }
                            }
                        }
                        Prefetch::Push { files, to } => {
                            for (ino, e) in &files {
                                chunks.push_file(*ino, e, &*to);
                            }
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("could not start a prefetch thread: {e}");
        }
    }
    tx
}

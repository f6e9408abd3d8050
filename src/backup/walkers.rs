//! The walker threads of one service's walk: directories walked in parallel, a subdirectory per
//! thread, with the same trees as a one-thread walk.
//!
//! A walker that meets a subdirectory hands it to another walker thread only if one is idle at
//! that very moment (a rendezvous: `try_send` on a channel of capacity 0 succeeds only when a
//! thread is waiting in `recv`); otherwise it walks it itself, depth-first, as a one-thread walk
//! does. So no directory waits in a queue: at most one subtree per walker thread is in flight, and
//! memory stays what a depth-first walk holds per thread.
//!
//! A directory's tree is assembled in listing order once its handed-off subdirectories reply, so
//! the trees (and their ids) do not depend on which thread walked what. While it waits for a
//! reply, a walker takes subdirectories handed over by others (up to [`MAX_NEST`] deep on its
//! stack): every wait is for a directory below the waiting one, so walkers cannot wait on each
//! other in a circle. When two entries of a directory fail, the error reported is the first in
//! listing order, as in a one-thread walk; once a directory fails, the other walkers stop at their
//! next entry.

use super::open::Listed;
use super::walk::{node, DirAt, WalkStats, Walker};
use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind};
use crate::id::ChunkId;
use crossbeam_channel::{bounded, select, Receiver, Sender, TrySendError};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How many subtrees taken over from others a waiting walker may stack on its own.
const MAX_NEST: usize = 4;

/// Stack of a walker thread (virtual; only what a deep tree touches becomes resident).
const WALKER_STACK: usize = 16 << 20;

/// The reply of a handed-off subdirectory: its tree id and the totals below it.
type Reply = Result<(ChunkId, WalkStats)>;

/// A subdirectory handed to another walker thread.
pub(super) struct SubWalk {
    fd: Arc<OwnedFd>,
    abs: PathBuf,
    rel: PathBuf,
    key: Vec<u8>,
    reply: Sender<Reply>,
}

/// A subdirectory being walked by another thread; its node once it replies.
pub(super) struct Handed {
    name: Vec<u8>,
    meta: Listed,
    rx: Receiver<Reply>,
}

/// The hand-off point of one service's walker threads.
pub(super) struct Pool {
    svc: usize,
    service: String,
    tx: Sender<SubWalk>,
    rx: Receiver<SubWalk>,
    /// A directory failed: the other walkers stop (the backup fails anyway).
    failed: AtomicBool,
}

/// Why a walker stopped early: another directory of the service failed.
const STOPPED: &str = "the walk stopped because another directory failed";

/// Whether `e` only says that the walk stopped for another directory's failure (which is the
/// one to report).
pub(super) fn is_stopped(e: &Error) -> bool {
    matches!(e, Error::Failed { message, .. } if message == STOPPED)
}

/// What became of a subdirectory offered to the other walkers.
pub(super) enum Offer {
    /// Another walker is walking it.
    Handed(Handed),
    /// No walker was idle: walk it here.
    Kept(SubWalk),
}

impl Pool {
    fn new(svc: usize, service: &str) -> Self {
        let (tx, rx) = bounded(0);
        Pool {
            svc,
            service: service.to_string(),
            tx,
            rx,
            failed: AtomicBool::new(false),
        }
    }

    /// Record that a directory failed with `e`, so that the other walkers stop.
    pub(super) fn fail(&self, e: &Error) {
        if !is_stopped(e) {
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    /// Fail if another directory failed.
    pub(super) fn check(&self) -> Result<()> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(Error::failed(
                STOPPED,
                "see the error of the directory that failed",
            ));
        }
        Ok(())
    }
}

impl Walker<'_> {
    /// Walk the service root `fd` (at `abs`, cache key prefix `key`) with this walker's threads
    /// helping; its tree id.
    pub(super) fn walk_root(
        &self,
        (svc, service): (usize, &str),
        fd: &Arc<OwnedFd>,
        (abs, key): (&std::path::Path, &[u8]),
        stats: &mut WalkStats,
    ) -> Result<ChunkId> {
        let pool = Pool::new(svc, service);
        let (stop_tx, stop_rx) = bounded::<()>(0);
        std::thread::scope(|s| {
            for _ in 0..self.walkers {
                let (pool, stop_rx) = (&pool, &stop_rx);
                let spawned = std::thread::Builder::new()
                    .name("cairn-walk".into())
                    .stack_size(WALKER_STACK)
                    .spawn_scoped(s, move || self.serve(pool, stop_rx));
                if spawned.is_err() {
                    break; // fewer helpers; the walk itself does not need them
                }
            }
            let at = DirAt {
                svc,
                service,
                fd,
                abs,
                rel: std::path::Path::new(""),
                key,
                pool: &pool,
                nest: 0,
            };
            let r = self.walk(&at, stats);
            drop(stop_tx);
            r
        })
    }

    /// A walker thread: take handed-off subdirectories until the walk is over.
    fn serve(&self, pool: &Pool, stop: &Receiver<()>) {
        loop {
            select! {
                recv(pool.rx) -> job => match job {
                    Ok(job) => self.run(pool, job, 1),
                    Err(_) => return,
                },
                recv(stop) -> _ => return,
            }
        }
    }

    /// Walk a handed-off subdirectory and reply with its tree.
    fn run(&self, pool: &Pool, job: SubWalk, nest: usize) {
        #[cfg(test)]
        self.handed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut stats = WalkStats::default();
        let at = DirAt {
            svc: pool.svc,
            service: &pool.service,
            fd: &job.fd,
            abs: &job.abs,
            rel: &job.rel,
            key: &job.key,
            pool,
            nest,
        };
        let r = self.walk(&at, &mut stats).map(|t| (t, stats));
        let _ = job.reply.send(r);
    }

    /// Offer the subdirectory `fd` of `d` (listed as `name`, `meta`) to an idle walker.
    pub(super) fn offer(
        &self,
        d: &DirAt,
        fd: OwnedFd,
        (name, meta): (&[u8], &Listed),
        (abs, rel, key): (PathBuf, PathBuf, Vec<u8>),
    ) -> Offer {
        let (reply, rx) = bounded(1);
        let job = SubWalk {
            fd: Arc::new(fd),
            abs,
            rel,
            key,
            reply,
        };
        match d.pool.tx.try_send(job) {
            Ok(()) => Offer::Handed(Handed {
                name: name.to_vec(),
                meta: *meta,
                rx,
            }),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => Offer::Kept(job),
        }
    }

    /// Walk a subdirectory no other walker took, in this thread.
    pub(super) fn walk_kept(
        &self,
        d: &DirAt,
        job: &SubWalk,
        stats: &mut WalkStats,
    ) -> Result<ChunkId> {
        let at = DirAt {
            svc: d.svc,
            service: d.service,
            fd: &job.fd,
            abs: &job.abs,
            rel: &job.rel,
            key: &job.key,
            pool: d.pool,
            nest: d.nest,
        };
        self.walk(&at, stats)
    }

    /// The node of a handed-off subdirectory once it is walked (its totals added to `stats`);
    /// meanwhile this thread walks subdirectories other walkers hand over.
    pub(super) fn wait(&self, d: &DirAt, h: Handed, stats: &mut WalkStats) -> Result<Node> {
        let r = loop {
            if d.nest >= MAX_NEST {
                break self.read_while_waiting(&h.rx);
            }
            select! {
                recv(h.rx) -> r => break r,
                recv(d.pool.rx) -> job => if let Ok(job) = job {
                    self.run(d.pool, job, d.nest + 1);
                },
                recv(self.queue) -> job => if let Ok(job) = job {
                    self.read_here(job);
                },
            }
        };
        let (tree, sub) = r.map_err(|_| {
            Error::failed(
                "a directory walker thread stopped",
                "see the earlier error; retry the backup",
            )
        })??;
        stats.add(&sub);
        Ok(node(h.name, NodeKind::Dir { tree }, &h.meta, 0))
    }
}

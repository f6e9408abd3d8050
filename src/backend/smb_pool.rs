//! SMB transfers in worker processes: one SMB connection per process, so that transfers run in
//! parallel (pavao serialises every libsmbclient call in a process behind one lock).
//!
//! An [`SmbBackend`](super::SmbBackend) opened in a process that can start workers (the `cairn`
//! binary, [`Workers::of_this_process`]) sends its object writes of at least [`SMALL`] bytes,
//! all its reads, the hashing of what the share holds (the check that a copy landed intact:
//! the worker reads the object back and sends only the digest) and a recovery's copies of packs
//! into local files (the worker writes the file and sends only the digest) to a pool of
//! [`COUNT`] workers (`cairn __smb-worker`, [`super::smb_worker`]),
//! started together at the first such request. Each worker is the leader of its own process
//! group (a Ctrl-C reaches cairn, which stops cleanly, not its workers), learns the share and the
//! password over its standard input (a Unix socket pair, [`super::smb_wire`]), never from its
//! command line or environment, and ends when that stream ends: when the pool is dropped, or
//! cairn dies. A worker that dies or stops answering (past [`stall_limit`]) is killed and
//! replaced; the request it held fails as [`StorageErrorKind::Disconnected`], and what it was
//! writing is never under its final name (the worker writes a temporary name and renames it
//! only once complete, as the in-process backend does; `clean_temp` removes what it left).
//! Where no worker can be started, the request runs in-process.

use super::smb_wire::{self, Reply, Request, ABORT, END};
use super::SmbLocation;
use crate::error::{StorageError, StorageErrorKind};
use std::io::{BufReader, BufWriter, Read};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// How many worker processes (connections) a pool runs: as many as the objects a copy has in
/// flight (`replicate::WORKERS`).
pub const COUNT: usize = 4;

/// Writes smaller than this run in-process (a probe, a manifest: not worth a connection each).
pub const SMALL: u64 = 1 << 20;

/// The hidden subcommand that runs a worker.
pub const SUBCOMMAND: &str = "__smb-worker";

/// How an SMB backend runs its transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workers {
    /// In this process, on its one connection.
    InProcess,
    /// In `count` processes started as `binary __smb-worker`.
    Processes {
        /// The `cairn` binary.
        binary: PathBuf,
        /// How many.
        count: usize,
    },
}

static THIS_BINARY: OnceLock<PathBuf> = OnceLock::new();

/// Say that this process's executable serves `cairn __smb-worker` (the `cairn` binary does, at
/// start-up): SMB backends opened from now on use worker processes. Without it (a library user,
/// the tests) transfers run in-process unless [`Workers::Processes`] is given explicitly.
pub fn enable_workers() {
    if let Ok(exe) = std::env::current_exe() {
        let _ = THIS_BINARY.set(exe);
    }
}

impl Workers {
    /// What [`enable_workers`] said for this process.
    pub fn of_this_process() -> Workers {
        match THIS_BINARY.get() {
            Some(binary) => Workers::Processes {
                binary: binary.clone(),
                count: COUNT,
            },
            None => Workers::InProcess,
        }
    }
}

/// How long a worker may leave a request unanswered (or its bytes unread) before it is killed:
/// past the several SMB requests, each bounded by `timeout`, that one object's write ends with.
pub fn stall_limit(timeout: Duration) -> Duration {
    timeout.saturating_mul(4) + Duration::from_secs(5)
}

/// One worker process and the stream to it.
struct Worker {
    child: Child,
    r: BufReader<UnixStream>,
    w: BufWriter<UnixStream>,
}

impl Worker {
    /// Kill and reap it (it leads its own process group and starts nothing).
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Close its stream (it ends), and reap it; killed if it is not gone within a moment.
    fn close(self) {
        let Worker { mut child, r, w } = self;
        drop((r, w));
        let ended = wait_timeout::ChildExt::wait_timeout(&mut child, Duration::from_secs(2));
        if !matches!(ended, Ok(Some(_))) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct State {
    idle: Vec<Worker>,
    /// Workers alive (idle or lent out).
    live: usize,
    /// No worker can be started here: run in-process.
    unusable: bool,
}

/// The pool of one SMB backend.
pub struct Pool {
    binary: PathBuf,
    count: usize,
    location: SmbLocation,
    username: String,
    password: String,
    timeout: Duration,
    allow_unencrypted: bool,
    state: Mutex<State>,
    freed: Condvar,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("binary", &self.binary)
            .field("count", &self.count)
            .finish()
    }
}

/// A worker lent out by [`Pool::take`]; back to the pool when dropped, unless spent.
struct Lent<'a> {
    pool: &'a Pool,
    worker: Option<Worker>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let mut st = self.pool.lock();
        match self.worker.take() {
            Some(w) => st.idle.push(w),
            None => st.live -= 1,
        }
        self.pool.freed.notify_one();
    }
}

impl Lent<'_> {
    /// The worker (an error once spent: it is never used again).
    fn get(&mut self) -> std::io::Result<&mut Worker> {
        self.worker
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the worker was killed"))
    }

    /// The worker failed (died, stalled, spoke nonsense): kill it and say so.
    fn spend(&mut self, loc: String, e: &std::io::Error) -> StorageError {
        let pid = match self.worker.take() {
            Some(w) => {
                let pid = w.child.id();
                w.kill();
                pid
            }
            None => 0,
        };
        StorageError::new(
            StorageErrorKind::Disconnected,
            loc,
            format!("the SMB worker process {pid} ended or stopped answering ({e}); what it was writing is not stored under its name"),
        )
    }
}

impl Pool {
    /// A pool of `count` workers started as `binary __smb-worker`, connecting as `username`.
    pub fn new(
        binary: PathBuf,
        count: usize,
        location: &SmbLocation,
        username: &str,
        password: &str,
        timeout: Duration,
        allow_unencrypted: bool,
    ) -> Pool {
        Pool {
            binary,
            count: count.max(1),
            location: location.clone(),
            username: username.to_string(),
            password: password.to_string(),
            timeout,
            allow_unencrypted,
            state: Mutex::new(State {
                idle: Vec::new(),
                live: 0,
                unusable: false,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A worker, once one is free; `Ok(None)` when none can be started here (run in-process).
    /// The first call starts them all at once (each connects in parallel).
    fn take(&self) -> Result<Option<Lent<'_>>, StorageError> {
        crate::sys::block_sigpipe_in_this_thread();
        let mut st = self.lock();
        loop {
            if st.unusable {
                return Ok(None);
            }
            if let Some(w) = st.idle.pop() {
                return Ok(Some(Lent {
                    pool: self,
                    worker: Some(w),
                }));
            }
            if st.live < self.count {
                let want = self.count - st.live;
                let started = self.start(want, &mut st)?;
                if started == 0 {
                    st.unusable = true;
                }
                continue;
            }
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Start `want` workers (under the pool's lock) and add them to the idle ones; how many
    /// started. A worker that cannot be spawned counts as none; one that cannot connect fails
    /// with its error (as the in-process backend words it).
    fn start(&self, want: usize, st: &mut State) -> Result<usize, StorageError> {
        let mut pending = Vec::new();
        for _ in 0..want {
            match self.spawn() {
                Ok(w) => pending.push(w),
                Err(e) => {
                    tracing::warn!(
                        "cannot start an SMB worker process ({}): {e}; transfers run in this process",
                        self.binary.display()
                    );
                    break;
                }
            }
        }
        let mut first_err = None;
        let mut started = 0;
        for mut w in pending {
            match smb_wire::recv::<Reply>(&mut w.r) {
                Ok(Reply::Ok) => {
                    st.idle.push(w);
                    st.live += 1;
                    started += 1;
                }
                Ok(Reply::Failed {
                    kind,
                    location,
                    detail,
                }) => {
                    first_err.get_or_insert(StorageError::new(kind, location, detail));
                    w.close();
                }
                Ok(Reply::Data { .. } | Reply::Digest { .. }) | Err(_) => w.kill(),
            }
        }
        match first_err {
            Some(e) if started == 0 => Err(e),
            _ => Ok(started),
        }
    }

    /// Start one worker and send it the share and the password (it answers once connected).
    fn spawn(&self) -> std::io::Result<Worker> {
        let (ours, theirs) = UnixStream::pair()?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg(SUBCOMMAND)
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = crate::child::spawn_in_group(&mut cmd)?;
        let limit = stall_limit(self.timeout);
        ours.set_read_timeout(Some(limit))?;
        ours.set_write_timeout(Some(limit))?;
        let mut w = Worker {
            child,
            r: BufReader::with_capacity(256 * 1024, ours.try_clone()?),
            w: BufWriter::with_capacity(64 * 1024, ours),
        };
        let hello = Request::Hello {
            version: smb_wire::VERSION,
            host: self.location.host.clone(),
            port: self.location.port,
            share: self.location.share.clone(),
            path: self.location.path.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            allow_unencrypted: self.allow_unencrypted,
        };
        if let Err(e) = smb_wire::send(&mut w.w, &hello) {
            w.kill();
            return Err(e);
        }
        Ok(w)
    }

    /// Store `size` bytes from `data` under `name` through a worker; `None` where no worker can
    /// be started (the caller writes in-process). `loc` names the object for messages.
    pub fn write(
        &self,
        name: &str,
        data: &mut dyn Read,
        size: u64,
        loc: String,
    ) -> Option<Result<(), StorageError>> {
        let mut lent = match self.take() {
            Ok(Some(l)) => l,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        Some(Self::write_with(&mut lent, name, data, size, loc))
    }

    fn write_with(
        lent: &mut Lent<'_>,
        name: &str,
        data: &mut dyn Read,
        size: u64,
        loc: String,
    ) -> Result<(), StorageError> {
        let req = Request::Write {
            name: name.to_string(),
            size,
        };
        if let Err(e) = lent.get().and_then(|w| smb_wire::send(&mut w.w, &req)) {
            return Err(lent.spend(loc, &e));
        }
        let mut broken = None;
        let copied = super::copy_exact(data, size, loc.clone(), |block| {
            let len = u32::try_from(block.len()).unwrap_or(ABORT - 1);
            let sent = lent
                .get()
                .and_then(|w| smb_wire::send_frame(&mut w.w, len, block));
            sent.map_err(|e| {
                let err = StorageError::new(StorageErrorKind::Disconnected, loc.clone(), "");
                broken = Some(e);
                err
            })
        });
        if let Some(e) = broken {
            return Err(lent.spend(loc, &e));
        }
        let marker = if copied.is_ok() { END } else { ABORT };
        let answer = lent.get().and_then(|w| {
            smb_wire::send_frame(&mut w.w, marker, b"")?;
            smb_wire::recv::<Reply>(&mut w.r)
        });
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return Err(lent.spend(loc, &e)),
        };
        // the source's own failure first: the worker only saw an abort
        copied?;
        match answer {
            Reply::Ok => Ok(()),
            Reply::Failed {
                kind,
                location,
                detail,
            } => Err(StorageError::new(kind, location, detail)),
            Reply::Data { .. } | Reply::Digest { .. } => {
                Err(lent.spend(loc, &std::io::Error::other("a stray answer")))
            }
        }
    }

    /// Read `len` bytes at `offset` of `name` (`None`: the whole object) through a worker; `None`
    /// where no worker can be started. At most `most` bytes are accepted from the worker.
    pub fn read(
        &self,
        name: &str,
        offset: u64,
        len: Option<u64>,
        most: u64,
        loc: String,
    ) -> Option<Result<Vec<u8>, StorageError>> {
        self.read_with(name, offset, len, most, loc, |r, n| {
            let mut buf = vec![0u8; n];
            r.read_exact(&mut buf).map(|()| buf)
        })
    }

    /// Read `buf.len()` bytes at `offset` of `name` through a worker into `buf`; how many came
    /// (fewer only at the object's end). `None` where no worker can be started.
    pub fn read_into(
        &self,
        name: &str,
        offset: u64,
        buf: &mut [u8],
        loc: String,
    ) -> Option<Result<usize, StorageError>> {
        let len = buf.len() as u64;
        self.read_with(name, offset, Some(len), len, loc, |r, n| {
            r.read_exact(&mut buf[..n]).map(|()| n)
        })
    }

    /// Ask a worker for a read, and have `take` read the `n` bytes of data it answers with
    /// (never more than `most`) from its socket.
    fn read_with<T>(
        &self,
        name: &str,
        offset: u64,
        len: Option<u64>,
        most: u64,
        loc: String,
        take: impl FnOnce(&mut dyn Read, usize) -> std::io::Result<T>,
    ) -> Option<Result<T, StorageError>> {
        let mut lent = match self.take() {
            Ok(Some(l)) => l,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let req = Request::Read {
            name: name.to_string(),
            offset,
            len,
        };
        let answer = lent.get().and_then(|w| {
            smb_wire::send(&mut w.w, &req)?;
            smb_wire::recv::<Reply>(&mut w.r)
        });
        Some(match answer {
            Ok(Reply::Data { len }) if len <= most => {
                let n = usize::try_from(len).unwrap_or(usize::MAX);
                match lent.get().and_then(|w| take(&mut w.r, n)) {
                    Ok(v) => Ok(v),
                    Err(e) => Err(lent.spend(loc, &e)),
                }
            }
            Ok(Reply::Failed {
                kind,
                location,
                detail,
            }) => Err(StorageError::new(kind, location, detail)),
            Ok(_) => Err(lent.spend(loc, &std::io::Error::other("an answer out of bounds"))),
            Err(e) => Err(lent.spend(loc, &e)),
        })
    }

    /// The blake3 and length of `name` as the share holds it, read back and hashed by a worker:
    /// only the digest crosses the socket. `None` where no worker can be started. A length over
    /// `most` is refused.
    pub fn hash(
        &self,
        name: &str,
        most: u64,
        loc: String,
    ) -> Option<Result<(blake3::Hash, u64), StorageError>> {
        let req = Request::Hash {
            name: name.to_string(),
        };
        self.digest(&req, most, loc)
    }

    /// Have a worker copy the first `size` bytes of `name` from the share into the existing
    /// local file `into` (from its start); the blake3 and count of what it wrote (fewer where
    /// the object ends sooner), as it says: the caller checks them against the object's name.
    /// `None` where no worker can be started.
    pub fn fetch(
        &self,
        name: &str,
        size: u64,
        into: &std::path::Path,
        loc: String,
    ) -> Option<Result<(blake3::Hash, u64), StorageError>> {
        let req = Request::Fetch {
            name: name.to_string(),
            size,
            into: into.to_path_buf(),
        };
        self.digest(&req, size, loc)
    }

    /// Send `req` to a worker and take its [`Reply::Digest`] (a length over `most` is refused).
    fn digest(
        &self,
        req: &Request,
        most: u64,
        loc: String,
    ) -> Option<Result<(blake3::Hash, u64), StorageError>> {
        let mut lent = match self.take() {
            Ok(Some(l)) => l,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let answer = lent.get().and_then(|w| {
            smb_wire::send(&mut w.w, req)?;
            smb_wire::recv::<Reply>(&mut w.r)
        });
        let bad = |what: &str| std::io::Error::other(what.to_string());
        Some(match answer {
            Ok(Reply::Digest { blake3, len }) if len <= most => {
                match blake3::Hash::from_hex(blake3.as_bytes()) {
                    Ok(h) => Ok((h, len)),
                    Err(_) => Err(lent.spend(loc, &bad("a malformed digest"))),
                }
            }
            Ok(Reply::Failed {
                kind,
                location,
                detail,
            }) => Err(StorageError::new(kind, location, detail)),
            Ok(_) => Err(lent.spend(loc, &bad("an answer out of bounds"))),
            Err(e) => Err(lent.spend(loc, &e)),
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.lock().idle);
        for w in idle {
            w.close();
        }
    }
}

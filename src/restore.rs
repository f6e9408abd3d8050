//! Restoring a backup (or one service, or one path) into a directory.
//!
//! Every chunk is decrypted, decompressed and checked against its id before a byte is written;
//! a file with a damaged chunk is removed and named, never left with wrong bytes. Files are
//! written by a pool of threads; all-zero chunks become holes (sparse files stay sparse).
//! Names a hostile repository made unsafe are skipped, so nothing is written outside the target.

use crate::error::{Error, Result};
use crate::format::manifest::{Manifest, ServiceRecord};
use crate::format::tree::{safe_name, Node, NodeKind, Tree};
use crate::id::ChunkId;
use crate::keyring::KeyRing;
use crate::locator::{ChunkReader, Locator};
use crate::progress::Progress;
use crate::repository::Repository;
use crossbeam_channel::bounded;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What to restore and where.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Directory to restore into (`TARGET/<service>/…`).
    pub target: PathBuf,
    /// Only this service.
    pub service: Option<String>,
    /// Only this path inside the service(s).
    pub path: Option<String>,
    /// Allow a non-empty target (existing files are replaced).
    pub overwrite: bool,
}

/// What a restore did.
#[derive(Debug, Default, Clone)]
pub struct RestoreReport {
    /// Regular files written.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Entries skipped (unsafe names, ...).
    pub warnings: Vec<String>,
}

struct Ctx<'a> {
    reader: ChunkReader<'a>,
    backup: &'a str,
    progress: &'a Progress,
    report: Mutex<RestoreReport>,
    damaged: Mutex<Vec<String>>,
    dirs: Mutex<Vec<(PathBuf, Node)>>,
    is_root: bool,
}

/// Restore `m` according to `opts`.
pub fn restore(
    repo: &Repository,
    keys: &KeyRing,
    m: &Manifest,
    opts: &RestoreOptions,
    progress: &Progress,
) -> Result<RestoreReport> {
    if !opts.overwrite && !crate::fsutil::dir_is_empty(&opts.target)? {
        return Err(Error::usage(
            format!("target {} is not empty", opts.target.display()),
            "restore into an empty or new directory, or pass --overwrite to replace what is there",
        ));
    }
    keys.session(repo, &m.session, &m.id)?; // a wrong identity fails here, before anything is written
    let services: Vec<&ServiceRecord> = match &opts.service {
        None => m.services.iter().collect(),
        Some(name) => {
            let s = m.services.iter().find(|s| &s.name == name).ok_or_else(|| {
                let names: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
                Error::usage(
                    format!("backup {} has no service {name}", m.id),
                    format!("its services are: {}", names.join(", ")),
                )
            })?;
            vec![s]
        }
    };
    let wanted: HashSet<ChunkId> = m.refs.iter().copied().collect();
    let locator = Locator::scan(repo, Some(&wanted))?;
    progress.total.store(
        services.iter().map(|s| s.bytes).sum(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let ctx = Ctx {
        reader: ChunkReader {
            repo,
            keys,
            locator: &locator,
        },
        backup: &m.id,
        progress,
        report: Mutex::default(),
        damaged: Mutex::default(),
        dirs: Mutex::default(),
        is_root: unsafe { libc::geteuid() } == 0,
    };
    fs::create_dir_all(&opts.target)
        .map_err(|e| Error::io(opts.target.display().to_string(), e))?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4)
        .clamp(2, 16);
    let (tx, rx) = bounded::<(PathBuf, Node)>(1024);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads {
            let rx = rx.clone();
            let ctx = &ctx;
            scope.spawn(move || {
                for (path, node) in rx {
                    ctx.write_file(&path, &node);
                }
            });
        }
        let res = (|| {
            for s in &services {
                let base = opts.target.join(&s.name);
                let root_node = Node {
                    name: s.name.as_bytes().to_vec(),
                    kind: NodeKind::Dir { tree: s.root },
                    mode: s.root_mode,
                    uid: s.root_uid,
                    gid: s.root_gid,
                    mtime_s: s.root_mtime_s,
                    mtime_ns: 0,
                    size: 0,
                };
                match &opts.path {
                    None => ctx.dir(&root_node, &base, &tx)?,
                    Some(p) => {
                        let (node, rel) = ctx.find(&root_node, p)?;
                        let dest = base.join(&rel);
                        if let Some(parent) = dest.parent() {
                            fs::create_dir_all(parent)
                                .map_err(|e| Error::io(parent.display().to_string(), e))?;
                        }
                        ctx.entry(&node, &dest, &tx)?;
                    }
                }
            }
            Ok(())
        })();
        drop(tx);
        res
    })?;
    // directories last (writing into them changed their mtimes), deepest first
    let mut dirs = ctx.dirs.into_inner().unwrap_or_else(|p| p.into_inner());
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    for (path, node) in &dirs {
        apply_meta(path, node, ctx.is_root, false);
    }
    let damaged = ctx.damaged.into_inner().unwrap_or_else(|p| p.into_inner());
    if !damaged.is_empty() {
        return Err(Error::corrupt(
            format!("backup {}", m.id),
            format!(
                "{} file(s) not restored because their stored data is damaged: {}",
                damaged.len(),
                damaged.join("; ")
            ),
        ));
    }
    Ok(ctx.report.into_inner().unwrap_or_else(|p| p.into_inner()))
}

impl Ctx<'_> {
    fn tree(&self, id: &ChunkId) -> Result<Tree> {
        Tree::decode(&self.reader.read(id, self.backup)?)
    }

    /// Find the node at `path` below `root`; returns it and its safe relative path.
    fn find(&self, root: &Node, path: &str) -> Result<(Node, PathBuf)> {
        let mut node = root.clone();
        let mut rel = PathBuf::new();
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let NodeKind::Dir { tree } = &node.kind else {
                return Err(Error::usage(
                    format!("{} is not a directory in the backup", rel.display()),
                    "check the path with `cairn mount` or restore the whole service",
                ));
            };
            let t = self.tree(tree)?;
            node = t
                .nodes
                .into_iter()
                .find(|n| n.name == part.as_bytes() && safe_name(&n.name))
                .ok_or_else(|| {
                    Error::usage(
                        format!("no {path} in the backup"),
                        "paths are relative to the service's root, e.g. --path conf/d5",
                    )
                })?;
            rel.push(part);
        }
        Ok((node, rel))
    }

    fn entry(
        &self,
        node: &Node,
        dest: &Path,
        tx: &crossbeam_channel::Sender<(PathBuf, Node)>,
    ) -> Result<()> {
        match &node.kind {
            NodeKind::Dir { .. } => self.dir(node, dest, tx),
            NodeKind::File { .. } => {
                tx.send((dest.to_path_buf(), node.clone()))
                    .map_err(|_| Error::failed("restore writers stopped", "retry"))?;
                Ok(())
            }
            NodeKind::Symlink { target } => {
                let _ = fs::remove_file(dest);
                std::os::unix::fs::symlink(OsStr::from_bytes(target), dest)
                    .map_err(|e| Error::io(dest.display().to_string(), e))?;
                apply_meta(dest, node, self.is_root, true);
                Ok(())
            }
        }
    }

    fn dir(
        &self,
        node: &Node,
        dest: &Path,
        tx: &crossbeam_channel::Sender<(PathBuf, Node)>,
    ) -> Result<()> {
        let NodeKind::Dir { tree } = &node.kind else {
            return Ok(());
        };
        match fs::create_dir(dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dest.is_dir() => {}
            Err(e) => return Err(Error::io(dest.display().to_string(), e)),
        }
        self.report.lock().unwrap_or_else(|p| p.into_inner()).dirs += 1;
        let t = match self.tree(tree) {
            Ok(t) => t,
            Err(e @ Error::WrongIdentity { .. }) => return Err(e),
            Err(e) => {
                self.damaged
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!("directory {}: {e}", dest.display()));
                return Ok(());
            }
        };
        for n in &t.nodes {
            if !safe_name(&n.name) {
                let w = format!(
                    "skipped an entry with an unsafe name {:?} in {}",
                    String::from_utf8_lossy(&n.name),
                    dest.display()
                );
                tracing::warn!("{w}");
                self.report
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .warnings
                    .push(w);
                continue;
            }
            self.entry(n, &dest.join(OsStr::from_bytes(&n.name)), tx)?;
        }
        self.dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((dest.to_path_buf(), node.clone()));
        Ok(())
    }

    fn write_file(&self, path: &Path, node: &Node) {
        match self.try_write_file(path, node) {
            Ok(()) => {
                let mut r = self.report.lock().unwrap_or_else(|p| p.into_inner());
                r.files += 1;
                r.bytes += node.size;
                self.progress
                    .files
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                let _ = fs::remove_file(path);
                self.damaged
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!("{}: {e}", path.display()));
            }
        }
    }

    fn try_write_file(&self, path: &Path, node: &Node) -> Result<()> {
        let NodeKind::File { chunks } = &node.kind else {
            return Ok(());
        };
        let io = |e| Error::io(path.display().to_string(), e);
        let _ = fs::remove_file(path);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let mut off = 0u64;
        for c in chunks {
            let data = self.reader.read(&c.id, self.backup)?;
            if data.iter().any(|b| *b != 0) {
                f.write_all_at(&data, off).map_err(io)?;
            }
            off += data.len() as u64;
            self.progress.add(data.len() as u64);
        }
        if off != node.size {
            return Err(Error::corrupt(
                path.display().to_string(),
                format!("content is {off} bytes, the tree says {}", node.size),
            ));
        }
        f.set_len(off).map_err(io)?;
        drop(f);
        apply_meta(path, node, self.is_root, false);
        Ok(())
    }
}

/// Set owner (as root), mode and mtime; best effort, as `tar` does.
fn apply_meta(path: &Path, node: &Node, is_root: bool, symlink: bool) {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: c is a valid NUL-terminated path; the calls only read it.
    unsafe {
        if is_root {
            libc::lchown(c.as_ptr(), node.uid, node.gid);
        }
        if !symlink {
            libc::chmod(c.as_ptr(), node.mode as libc::mode_t & 0o7777);
        }
        let t = libc::timespec {
            tv_sec: node.mtime_s as libc::time_t,
            tv_nsec: node.mtime_ns as libc::c_long,
        };
        let times = [t, t];
        let flags = if symlink {
            libc::AT_SYMLINK_NOFOLLOW
        } else {
            0
        };
        libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), flags);
    }
}

//! The `fuser::Filesystem` implementation over a [`ReadOnlyTree`]: read-only, hostile-name
//! filtering, panics and integrity failures turned into errors, large reads.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BsdFileFlags, CopyFileRangeFlags, FileAttr, FileHandle, FileType, Filesystem,
    FopenFlags, Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenAccMode, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::affinity::{allowed_cpus, Pins};
use crate::options::MountOptions;
use crate::stats::{bump, Counters};
use crate::tree::{self, Attr, Kind, ReadOnlyTree, MAX_DIR_COOKIE, ROOT_INO};

/// Entries asked of the tree per `readdir` batch.
const READDIR_BATCH: usize = 256;
/// Batches fetched in one kernel `readdir` call before giving up on a tree whose entries are
/// all hidden (keeps one call bounded).
const READDIR_MAX_BATCHES: usize = 64;
/// Kernel directory offsets 1 and 2 are `.` and `..`; tree cookie `c` is kernel offset `c + 2`.
const DOT_ENTRIES: u64 = 2;
/// Longest symlink target handed to the kernel (it reads at most a page).
const MAX_LINK_LEN: usize = 4095;
/// Directories whose last READDIRPLUS batch awaits the kernel's next request (forgotten all at
/// once beyond this: a reader that stops listing half way leaves its entry behind).
const MAX_HELD: usize = 4096;

/// Serves a [`ReadOnlyTree`] to the kernel.
pub(crate) struct Glue<T: ReadOnlyTree> {
    tree: T,
    opts: MountOptions,
    counters: Arc<Counters>,
    /// Directory → the regular files of the last READDIRPLUS batch sent for it. The kernel
    /// links those inodes when the reader takes the reply, so they are certainly there when it
    /// asks for the next batch: that is when the tree is told ([`ReadOnlyTree::listed`]).
    held: Mutex<HashMap<u64, Vec<u64>>>,
    /// Where each serving thread is pinned on its first call (`None`: nowhere).
    pins: Option<Pins>,
}

impl<T: ReadOnlyTree> Glue<T> {
    pub(crate) fn new(tree: T, opts: MountOptions, counters: Arc<Counters>) -> Self {
        let pins = Pins::new(opts.pin, opts.threads, allowed_cpus());
        Glue {
            tree,
            opts,
            counters,
            held: Mutex::default(),
            pins,
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<u64, Vec<u64>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a tree call, turning a panic into `EIO` so one bad object never takes the mount
    /// down.
    fn call<R>(
        &self,
        what: &str,
        ino: u64,
        f: impl FnOnce(&T) -> Result<R, tree::Errno>,
    ) -> Result<R, fuser::Errno> {
        if let Some(p) = &self.pins {
            p.here();
        }
        match catch_unwind(AssertUnwindSafe(|| f(&self.tree))) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                if e == tree::Errno::EIO {
                    tracing::error!(
                        "{what} of {}: input/output error (integrity failure or unreadable data)",
                        self.tree.describe(ino)
                    );
                } else {
                    tracing::debug!("{what} of {}: {e}", self.tree.describe(ino));
                }
                Err(fuser::Errno::from_i32(e.raw()))
            }
            Err(_) => {
                tracing::error!(
                    "{what} of {}: the tree panicked; answering EIO",
                    self.tree.describe(ino)
                );
                Err(fuser::Errno::EIO)
            }
        }
    }

    fn ttl_for(&self, ino: u64) -> Duration {
        if ino == ROOT_INO {
            self.opts.root_ttl
        } else {
            self.opts.ttl
        }
    }

    fn file_attr(&self, a: &Attr) -> FileAttr {
        let (kind, blksize) = match a.kind {
            Kind::File => (FileType::RegularFile, self.opts.blksize),
            Kind::Dir => (FileType::Directory, 4096),
            Kind::Symlink => (FileType::Symlink, 4096),
        };
        FileAttr {
            ino: INodeNo(a.ino),
            size: a.size,
            blocks: a.size.div_ceil(512),
            atime: a.mtime,
            mtime: a.mtime,
            ctime: a.mtime,
            crtime: a.mtime,
            kind,
            perm: a.perm & 0o7777,
            nlink: a.nlink.max(1),
            uid: a.uid,
            gid: a.gid,
            rdev: 0,
            blksize,
            flags: 0,
        }
    }
}

impl<T: ReadOnlyTree> Glue<T> {
    /// TTL of the names and attributes of the entries of directory `parent`.
    fn entry_ttl(&self, parent: u64) -> Duration {
        if parent == ROOT_INO {
            self.opts.root_ttl
        } else {
            self.opts.ttl
        }
    }

    /// Feeds the entries of `dir` from kernel offset `offset` to `add` (inode, next offset,
    /// kind, name; `.` and `..` are given `dir`'s inode) until it reports a full buffer.
    fn list(
        &self,
        dir: u64,
        offset: u64,
        mut add: impl FnMut(u64, u64, FileType, &OsStr) -> bool,
    ) -> Result<(), fuser::Errno> {
        if offset == 0 && add(dir, 1, FileType::Directory, OsStr::new(".")) {
            return Ok(());
        }
        if offset <= 1 && add(dir, DOT_ENTRIES, FileType::Directory, OsStr::new("..")) {
            return Ok(());
        }
        let mut cookie = offset.saturating_sub(DOT_ENTRIES);
        for _ in 0..READDIR_MAX_BATCHES {
            let batch = self.call("readdir", dir, |t| t.readdir(dir, cookie, READDIR_BATCH))?;
            if batch.is_empty() {
                return Ok(());
            }
            for e in batch {
                if e.next == 0 || e.next > MAX_DIR_COOKIE || e.next == cookie {
                    tracing::error!(
                        "readdir of {}: the tree gave entry {:?} the invalid cookie {}",
                        self.tree.describe(dir),
                        e.name,
                        e.next
                    );
                    return Err(fuser::Errno::EIO);
                }
                cookie = e.next;
                if !tree::is_safe_name(&e.name) || e.ino == 0 || e.ino == dir {
                    tracing::warn!(
                        "readdir of {}: hiding entry with unsafe name {:?}",
                        self.tree.describe(dir),
                        e.name
                    );
                    continue;
                }
                if add(e.ino, e.next + DOT_ENTRIES, file_type(e.kind), &e.name) {
                    return Ok(());
                }
            }
        }
        // Tens of thousands of hidden entries in a row: end the listing here rather than let
        // one call run unbounded (only a hostile tree gets here).
        tracing::warn!(
            "readdir of {}: too many hidden entries; listing cut short",
            self.tree.describe(dir)
        );
        Ok(())
    }
}

fn file_type(k: Kind) -> FileType {
    match k {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
        Kind::Symlink => FileType::Symlink,
    }
}

impl<T: ReadOnlyTree> Filesystem for Glue<T> {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let max_read = self.opts.max_read.clamp(4096, 1 << 20);
        if let Err(nearest) = config.set_max_write(max_read) {
            let _ = config.set_max_write(nearest);
        }
        // The handshake cannot raise readahead past what the kernel offers (its bdi default);
        // take all of it, and raise the bdi's window through sysfs after mounting.
        if let Err(nearest) = config.set_max_readahead(max_read) {
            let _ = config.set_max_readahead(nearest);
        }
        let _ = config.set_max_background(64);
        let _ = config.set_congestion_threshold(48);
        // READDIRPLUS: a listing carries every entry's attributes, so `ls -l` needs no lookup
        // per entry. FUSE_CACHE_SYMLINKS: the kernel keeps a symlink's target for the inode's
        // life, so a path through `latest` costs no READLINK (the tree gives a symlink that
        // moves a new inode, see `ReadOnlyTree`).
        let mut wanted = InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_ASYNC_READ
            | InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_CACHE_SYMLINKS
            // With no OPENDIR (see `opendir`) every listing is cached, the root's too; this makes
            // the kernel check a directory's mtime (re-asked after the TTL) before using its
            // cached listing, so the root lists again once its mtime moves.
            | InitFlags::FUSE_AUTO_INVAL_DATA;
        if self.opts.direct_io {
            // Keep mmap (and so exec) working on direct-I/O files.
            wanted |= InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP;
        }
        let supported = wanted & config.capabilities();
        let _ = config.add_capabilities(supported);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        bump(&self.counters.lookup);
        if !tree::is_safe_name(name) {
            return reply.error(fuser::Errno::ENOENT);
        }
        match self.call("lookup", parent.0, |t| t.lookup(parent.0, name)) {
            Ok(a) if a.ino == 0 || a.ino == ROOT_INO => {
                tracing::error!(
                    "lookup of {name:?} in {}: the tree answered the invalid inode {}",
                    self.tree.describe(parent.0),
                    a.ino
                );
                reply.error(fuser::Errno::EIO)
            }
            Ok(a) => {
                let ttl = if parent.0 == ROOT_INO {
                    self.opts.root_ttl
                } else {
                    self.opts.ttl
                };
                reply.entry_with_ttls(&ttl, &ttl, &self.file_attr(&a), Generation(0))
            }
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        bump(&self.counters.getattr);
        match self.call("getattr", ino.0, |t| t.getattr(ino.0)) {
            Ok(mut a) => {
                a.ino = ino.0;
                reply.attr(&self.ttl_for(ino.0), &self.file_attr(&a))
            }
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        bump(&self.counters.readlink);
        match self.call("readlink", ino.0, |t| t.readlink(ino.0)) {
            Ok(target) if target.len() > MAX_LINK_LEN => reply.error(fuser::Errno::ENAMETOOLONG),
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        bump(&self.counters.open);
        if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
            return reply.error(fuser::Errno::EROFS);
        }
        if !self.opts.direct_io {
            // "Opening needs nothing": from now on the kernel opens files without asking and
            // never sends RELEASE, keeping the page cache across opens (its default for a
            // filesystem without OPEN is FOPEN_KEEP_CACHE). Two round trips less per file read;
            // the mount is read-only for the VFS, so no write open gets here anyway.
            return reply.error(fuser::Errno::ENOSYS);
        }
        match self.call("open", ino.0, |t| t.getattr(ino.0)) {
            Ok(a) if a.kind == Kind::Dir => reply.error(fuser::Errno::EISDIR),
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        bump(&self.counters.release);
        reply.ok()
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        bump(&self.counters.releasedir);
        reply.ok()
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        bump(&self.counters.read);
        match self.call("read", ino.0, |t| t.read(ino.0, offset, size)) {
            Ok(data) => reply.data(&data[..data.len().min(size as usize)]),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        bump(&self.counters.opendir);
        if flags.acc_mode() != OpenAccMode::O_RDONLY {
            return reply.error(fuser::Errno::EROFS);
        }
        if !self.opts.opendir {
            // As for files: from now on the kernel opens directories without asking, never
            // sends RELEASEDIR, and keeps every listing cached (FOPEN_CACHE_DIR), checking the
            // directory's mtime first (FUSE_AUTO_INVAL_DATA). Two round trips less per directory.
            return reply.error(fuser::Errno::ENOSYS);
        }
        // Below the root nothing changes: let the kernel keep listings cached.
        let fl = if ino.0 == ROOT_INO {
            FopenFlags::empty()
        } else {
            FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE
        };
        reply.opened(FileHandle(0), fl)
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        bump(&self.counters.readdir);
        let r = self.list(ino.0, offset, |ino, off, kind, name| {
            reply.add(INodeNo(ino), off, kind, name)
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        bump(&self.counters.readdir);
        if self.opts.pushes() {
            // The reader took the previous batch (it asks for the next one): its files'
            // inodes are in the kernel now, so a push finds them.
            let prev = self.held().remove(&ino.0);
            if let Some(files) = prev.filter(|_| offset > 0) {
                let _ = self.call("listed", ino.0, |t| {
                    t.listed(ino.0, &files);
                    Ok(())
                });
            }
        }
        let dir_attr = match self.call("readdirplus", ino.0, |t| t.getattr(ino.0)) {
            Ok(mut a) => {
                a.ino = ino.0;
                self.file_attr(&a)
            }
            Err(e) => return reply.error(e),
        };
        let ttl = self.entry_ttl(ino.0);
        // the regular files this reply makes known to the kernel (see `held`)
        let mut files = Vec::new();
        let r = self.list(ino.0, offset, |child, off, _kind, name| {
            if child == ino.0 {
                // `.` and `..`: the kernel links no inode for them.
                return reply.add(
                    INodeNo(child),
                    off,
                    name,
                    &Duration::ZERO,
                    &dir_attr,
                    Generation(0),
                );
            }
            match self.call("readdirplus", child, |t| t.getattr(child)) {
                Ok(mut a) => {
                    a.ino = child;
                    let full = reply.add(
                        INodeNo(child),
                        off,
                        name,
                        &ttl,
                        &self.file_attr(&a),
                        Generation(0),
                    );
                    if !full && a.kind == Kind::File {
                        files.push(child);
                    }
                    full
                }
                // Skip what cannot be described; a later lookup reports its error.
                Err(_) => false,
            }
        });
        if let Err(e) = r {
            return reply.error(e);
        }
        // before the reply: the reader's next request may come as soon as it is sent
        if self.opts.pushes() && !files.is_empty() {
            let mut held = self.held();
            if held.len() >= MAX_HELD {
                held.clear();
            }
            held.insert(ino.0, files);
        }
        reply.ok()
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, tree::MAX_NAME_LEN as u32, 4096);
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        if mask.contains(AccessFlags::W_OK) {
            return reply.error(fuser::Errno::EROFS);
        }
        match self.call("access", ino.0, |t| t.getattr(ino.0)) {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    // ---- everything that would modify the tree: EROFS ----

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(fuser::Errno::EROFS)
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(fuser::Errno::EROFS)
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(fuser::Errno::EROFS)
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        reply.error(fuser::Errno::EROFS)
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Nothing to flush on a read-only tree: ENOSYS tells the kernel to send no more.
        bump(&self.counters.flush);
        reply.error(fuser::Errno::ENOSYS)
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok()
    }
}

//! An in-memory tree for mount tests and the throughput example, and a guard that always
//! unmounts.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_fuse::{Attr, DirEntry, Errno, Kind, ReadOnlyTree, ROOT_INO};

/// What a node holds.
enum Body {
    Dir(Vec<(OsString, u64)>),
    File(Arc<Vec<u8>>),
    /// A file whose reads fail with EIO (integrity failure).
    Broken,
    /// A file whose reads panic inside the tree.
    Panics,
    Link(Vec<u8>),
}

struct Node {
    attr: Attr,
    body: Body,
}

/// A tree built in memory; inode `n` is `nodes[n - 1]`.
pub struct MemTree {
    nodes: Vec<Node>,
    index: HashMap<(u64, OsString), u64>,
    /// Number of `read` calls and bytes they returned, to see the request sizes the kernel
    /// sends.
    pub reads: AtomicU64,
    pub read_bytes: AtomicU64,
    /// Number of `lookup` calls the tree answered.
    pub lookups: AtomicU64,
    /// Extra CPU work per read (passes of a checksum over the bytes), to imitate a tree that
    /// decrypts and decompresses.
    pub cpu_passes: u32,
}

pub const MTIME: Duration = Duration::from_secs(1_700_000_000);

impl Default for MemTree {
    fn default() -> Self {
        Self::new()
    }
}

impl MemTree {
    pub fn new() -> MemTree {
        let mut attr = Attr::new(ROOT_INO, Kind::Dir, 0);
        attr.mtime = SystemTime::UNIX_EPOCH + MTIME;
        MemTree {
            nodes: vec![Node {
                attr,
                body: Body::Dir(Vec::new()),
            }],
            index: HashMap::new(),
            reads: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
            cpu_passes: 0,
        }
    }

    fn add(&mut self, parent: u64, name: &[u8], kind: Kind, size: u64, body: Body) -> u64 {
        let ino = self.nodes.len() as u64 + 1;
        let mut attr = Attr::new(ino, kind, size);
        attr.mtime = SystemTime::UNIX_EPOCH + MTIME + Duration::from_secs(ino);
        attr.uid = 1000 + ino as u32;
        attr.gid = 2000 + ino as u32;
        self.nodes.push(Node { attr, body });
        let name = OsStr::from_bytes(name).to_os_string();
        match &mut self.nodes[parent as usize - 1].body {
            Body::Dir(children) => children.push((name.clone(), ino)),
            _ => panic!("parent {parent} is not a directory"),
        }
        self.index.insert((parent, name), ino);
        ino
    }

    pub fn dir(&mut self, parent: u64, name: &str) -> u64 {
        self.add(parent, name.as_bytes(), Kind::Dir, 0, Body::Dir(Vec::new()))
    }

    pub fn file(&mut self, parent: u64, name: &str, data: Vec<u8>) -> u64 {
        let n = data.len() as u64;
        self.add(
            parent,
            name.as_bytes(),
            Kind::File,
            n,
            Body::File(Arc::new(data)),
        )
    }

    pub fn broken_file(&mut self, parent: u64, name: &str, size: u64) -> u64 {
        self.add(parent, name.as_bytes(), Kind::File, size, Body::Broken)
    }

    pub fn panicking_file(&mut self, parent: u64, name: &str, size: u64) -> u64 {
        self.add(parent, name.as_bytes(), Kind::File, size, Body::Panics)
    }

    pub fn symlink(&mut self, parent: u64, name: &str, target: &str) -> u64 {
        let t = target.as_bytes().to_vec();
        self.add(
            parent,
            name.as_bytes(),
            Kind::Symlink,
            t.len() as u64,
            Body::Link(t),
        )
    }

    /// An entry with an arbitrary (possibly hostile) name: a small file.
    pub fn raw_entry(&mut self, parent: u64, name: &[u8]) -> u64 {
        self.add(
            parent,
            name,
            Kind::File,
            4,
            Body::File(Arc::new(b"evil".to_vec())),
        )
    }

    pub fn set_perm(&mut self, ino: u64, perm: u16) {
        self.nodes[ino as usize - 1].attr.perm = perm;
    }

    pub fn attr_of(&self, ino: u64) -> Attr {
        self.nodes[ino as usize - 1].attr
    }

    fn node(&self, ino: u64) -> Result<&Node, Errno> {
        ino.checked_sub(1)
            .and_then(|i| self.nodes.get(i as usize))
            .ok_or(Errno::ENOENT)
    }
}

impl ReadOnlyTree for MemTree {
    fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr, Errno> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        match self.node(parent)?.body {
            Body::Dir(_) => {}
            _ => return Err(Errno::ENOTDIR),
        }
        let ino = self
            .index
            .get(&(parent, name.to_os_string()))
            .ok_or(Errno::ENOENT)?;
        self.getattr(*ino)
    }

    fn getattr(&self, ino: u64) -> Result<Attr, Errno> {
        Ok(self.node(ino)?.attr)
    }

    fn readdir(&self, ino: u64, offset: u64, limit: usize) -> Result<Vec<DirEntry>, Errno> {
        let Body::Dir(children) = &self.node(ino)?.body else {
            return Err(Errno::ENOTDIR);
        };
        Ok(children
            .iter()
            .enumerate()
            .skip(offset as usize)
            .take(limit)
            .map(|(i, (name, child))| DirEntry {
                ino: *child,
                kind: self.nodes[*child as usize - 1].attr.kind,
                name: name.clone(),
                next: i as u64 + 1,
            })
            .collect())
    }

    fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        match &self.node(ino)?.body {
            Body::File(data) => {
                let start = (offset.min(data.len() as u64)) as usize;
                let end = (start + size as usize).min(data.len());
                self.reads.fetch_add(1, Ordering::Relaxed);
                self.read_bytes
                    .fetch_add((end - start) as u64, Ordering::Relaxed);
                for pass in 0..self.cpu_passes {
                    let sum = data[start..end].chunks_exact(8).fold(pass as u64, |a, c| {
                        (a ^ u64::from_le_bytes(c.try_into().unwrap())).rotate_left(5)
                    });
                    std::hint::black_box(sum);
                }
                Ok(data[start..end].to_vec())
            }
            Body::Broken => Err(Errno::EIO),
            Body::Panics => panic!("tree bug while reading inode {ino}"),
            Body::Dir(_) => Err(Errno::EISDIR),
            Body::Link(_) => Err(Errno::EINVAL),
        }
    }

    fn readlink(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        match &self.node(ino)?.body {
            Body::Link(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn describe(&self, ino: u64) -> String {
        format!("memtree inode {ino}")
    }
}

/// A small deterministic generator (xorshift64*) for test data and offsets; its state must not
/// be 0.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut s = self.0;
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        self.0 = s;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Deterministic pseudo-random bytes.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&r.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Fails clearly when this machine cannot run FUSE tests.
pub fn require_fuse() {
    assert!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: these tests mount through the kernel's FUSE; \
         run them where /dev/fuse exists (modprobe fuse, or a container with --device /dev/fuse)"
    );
}

/// Whether `path` is a mount point now.
pub fn is_mount_point(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| Path::new(m) == path))
}

/// An empty temporary mount point whose Drop always lazily unmounts whatever is left on it
/// (even when the test panicked), then removes it.
pub struct MountDir {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl MountDir {
    pub fn new() -> MountDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap();
        MountDir { dir, path }
    }
}

impl Drop for MountDir {
    fn drop(&mut self) {
        for _ in 0..3 {
            if !is_mount_point(&self.path) {
                break;
            }
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.path)
                .status();
        }
    }
}

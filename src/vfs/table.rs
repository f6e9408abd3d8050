//! The inode table: every inode handed to the kernel, allocated on first sight and kept for the
//! mount's life (the kernel may ask about any of them again), with each loaded directory's
//! children.

use super::backups::BackupInfo;
use crate::format::tree::{Node, NodeKind};
use cairn_fuse::{Kind, ROOT_INO};
use std::collections::HashMap;
use std::sync::Arc;

/// A stored entry below a backup's service directory (the service roots included).
#[derive(Debug)]
pub(crate) struct Entry {
    /// The backup it belongs to.
    pub(crate) backup: Arc<BackupInfo>,
    /// The entry as recorded.
    pub(crate) node: Node,
    /// For a file: the end offset of each chunk (prefix sums of their lengths).
    pub(crate) ends: Vec<u64>,
}

impl Entry {
    /// An entry of `backup`, with its chunk offsets computed.
    pub(crate) fn new(backup: Arc<BackupInfo>, node: Node) -> Self {
        let ends = match &node.kind {
            NodeKind::File { chunks } => chunks
                .iter()
                .scan(0u64, |end, c| {
                    // saturating: a sum that does not fit never matches the size (read: EIO)
                    *end = end.saturating_add(u64::from(c.len));
                    Some(*end)
                })
                .collect(),
            _ => Vec::new(),
        };
        Entry { backup, node, ends }
    }

    /// Whether a file's chunks hold exactly the bytes its entry records (else it reads as EIO).
    pub(crate) fn chunks_add_up(&self) -> bool {
        self.ends.last().copied().unwrap_or(0) == self.node.size
    }

    /// The indexes of the first and last chunk holding bytes `offset..end` of a file (`offset`
    /// below `end`, `end` at most the end of its last chunk, which it has).
    pub(crate) fn chunk_span(&self, offset: u64, end: u64) -> (usize, usize) {
        let first = self.ends.partition_point(|&x| x <= offset);
        let last = first + self.ends[first..].partition_point(|&x| x < end);
        (first, last.min(self.ends.len().saturating_sub(1)))
    }

    /// Its kind.
    pub(crate) fn kind(&self) -> Kind {
        match self.node.kind {
            NodeKind::File { .. } | NodeKind::FileSegments { .. } => Kind::File,
            NodeKind::Dir { .. } => Kind::Dir,
            NodeKind::Symlink { .. } => Kind::Symlink,
        }
    }
}

/// What an inode is.
#[derive(Clone, Debug)]
pub(crate) enum What {
    /// The mount's root: one directory per backup, and `latest`.
    Root,
    /// `latest` while it points to this backup: a symlink to its directory. The kernel caches
    /// a symlink's target for the inode's life, so each target gets its own inode.
    Latest(Arc<BackupInfo>),
    /// A backup's directory: one directory per service.
    Backup(Arc<BackupInfo>),
    /// Something stored in a backup.
    Entry(Arc<Entry>),
}

impl What {
    /// Its kind.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            What::Root | What::Backup(_) => Kind::Dir,
            What::Latest(_) => Kind::Symlink,
            What::Entry(e) => e.kind(),
        }
    }
}

/// One inode.
#[derive(Clone, Debug)]
pub(crate) struct Inode {
    /// Its directory's inode (the root's is itself).
    pub(crate) parent: u64,
    /// Its name in that directory.
    pub(crate) name: Arc<[u8]>,
    /// What it is.
    pub(crate) what: What,
}

/// One entry of a loaded directory, sorted by name.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    /// Its name.
    pub(crate) name: Arc<[u8]>,
    /// Its inode.
    pub(crate) ino: u64,
    /// Its kind.
    pub(crate) kind: Kind,
}

/// All inodes, and the children of the directories loaded so far.
pub(crate) struct Table {
    /// Inode `n` is at index `n - 1`.
    inodes: Vec<Inode>,
    children: HashMap<u64, Arc<[Child]>>,
    backup_inos: HashMap<Arc<str>, u64>,
    /// Backup id → the inode of `latest` pointing to it.
    latest_inos: HashMap<Arc<str>, u64>,
}

impl Table {
    /// The root.
    pub(crate) fn new() -> Self {
        let root = Inode {
            parent: ROOT_INO,
            name: Arc::from(&b""[..]),
            what: What::Root,
        };
        Table {
            inodes: vec![root],
            children: HashMap::new(),
            backup_inos: HashMap::new(),
            latest_inos: HashMap::new(),
        }
    }

    /// Inode `ino`, if allocated.
    pub(crate) fn get(&self, ino: u64) -> Option<&Inode> {
        self.inodes.get(usize::try_from(ino.checked_sub(1)?).ok()?)
    }

    /// The loaded children of directory `ino`.
    pub(crate) fn children(&self, ino: u64) -> Option<Arc<[Child]>> {
        self.children.get(&ino).cloned()
    }

    fn alloc(&mut self, inode: Inode) -> u64 {
        self.inodes.push(inode);
        self.inodes.len() as u64
    }

    /// The inode of backup `b`'s directory (the same one every time the id is seen).
    pub(crate) fn backup_ino(&mut self, b: &Arc<BackupInfo>) -> u64 {
        if let Some(ino) = self.backup_inos.get(&b.id) {
            return *ino;
        }
        let ino = self.alloc(Inode {
            parent: ROOT_INO,
            name: Arc::from(b.id.as_bytes()),
            what: What::Backup(b.clone()),
        });
        self.backup_inos.insert(b.id.clone(), ino);
        ino
    }

    /// The inode of `latest` pointing to backup `b` (the same one every time; another for
    /// another backup, so that the kernel's cached target never outlives a move).
    pub(crate) fn latest_ino(&mut self, b: &Arc<BackupInfo>) -> u64 {
        if let Some(ino) = self.latest_inos.get(&b.id) {
            return *ino;
        }
        let ino = self.alloc(Inode {
            parent: ROOT_INO,
            name: Arc::from(&b"latest"[..]),
            what: What::Latest(b.clone()),
        });
        self.latest_inos.insert(b.id.clone(), ino);
        ino
    }

    /// Record the children of directory `dir` (sorted by name, first of duplicates kept),
    /// allocating their inodes, unless another thread did first; returns the children.
    pub(crate) fn load(&mut self, dir: u64, entries: Vec<(Arc<[u8]>, What)>) -> Arc<[Child]> {
        if let Some(c) = self.children.get(&dir) {
            return c.clone();
        }
        let mut entries = entries;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        let mut children = Vec::with_capacity(entries.len());
        for (name, what) in entries {
            let kind = what.kind();
            let ino = self.alloc(Inode {
                parent: dir,
                name: name.clone(),
                what,
            });
            children.push(Child { name, ino, kind });
        }
        let children: Arc<[Child]> = children.into();
        self.children.insert(dir, children.clone());
        children
    }
}

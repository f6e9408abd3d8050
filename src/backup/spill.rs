//! Packs built in an unnamed file instead of memory: a backup's pack is appended blob by blob
//! to an `O_TMPFILE` file next to the repository's local state while its hash (its name) is
//! computed, then linked into the store where it is a local directory on the same file system
//! ([`Backend::adopt`]: no copy), else streamed to it ([`Backend::write_from`]). A backup then
//! holds no pack in memory, whatever the pack size.
//!
//! Where unnamed files are not supported, the backup builds its packs in memory as before.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::format::pack::{self, PackEntry, PackHeader};
use crate::fsutil::unnamed;
use crate::id::{KeyId, PackId};
use crate::index::Index;
use crate::packer::{place, sealed_header, store_pack, PackBuilder};
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// A finished pack, in memory or in its unnamed file.
pub(super) enum Built {
    Memory(Vec<u8>, PackHeader),
    File {
        file: File,
        size: u64,
        id: PackId,
        header: PackHeader,
    },
}

impl Built {
    /// The chunks it holds.
    pub(super) fn ids(&self) -> Vec<crate::id::ChunkId> {
        let header = match self {
            Built::Memory(_, h) | Built::File { header: h, .. } => h,
        };
        header.entries.iter().map(|e| e.id).collect()
    }

    /// Store the pack under its hash, then index it.
    pub(super) fn store(self, store: &dyn Backend, index: &Index) -> Result<()> {
        match self {
            Built::Memory(bytes, header) => store_pack(store, index, &bytes, &header).map(|_| ()),
            Built::File {
                mut file,
                size,
                id,
                header,
            } => {
                // linked into place where the store can (no copy), else streamed
                if !store.adopt(&id.object_name(), &file, size)? {
                    file.rewind().map_err(|e| spill_error(&e))?;
                    store.write_from(&id.object_name(), &mut file, size)?;
                }
                index.add_pack(id, size, &header)
            }
        }
    }
}

/// Bytes of a pack gathered before they are written to its file: one write per blob cost a
/// system call each (and a partial block zeroed by ext4), 3 % of a first backup of `src`'s 53,000
/// small files (benches/RESULTS.md, "Re-reading").
const SPILL_BUFFER: usize = 256 << 10;

/// A pack being built in an unnamed file.
pub(super) struct SpillBuilder {
    dir: PathBuf,
    session: KeyId,
    file: BufWriter<File>,
    hash: blake3::Hasher,
    len: u64,
    entries: Vec<PackEntry>,
}

fn spill_error(e: &std::io::Error) -> Error {
    Error::failed(
        format!("cannot write a pack being built under the local state: {e}"),
        "free space on the file system of REPO/local and retry the backup",
    )
}

impl SpillBuilder {
    /// An empty pack in a new unnamed file in `dir`; an error if `dir` cannot hold one.
    pub(super) fn new(dir: &Path, session: KeyId) -> std::io::Result<Self> {
        let mut b = SpillBuilder {
            dir: dir.to_path_buf(),
            session,
            file: BufWriter::with_capacity(SPILL_BUFFER, unnamed(dir)?),
            hash: blake3::Hasher::new(),
            len: 0,
            entries: Vec::new(),
        };
        b.append(&pack::lead())?;
        Ok(b)
    }

    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.hash.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes so far.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Append a sealed blob (as [`PackBuilder::push`]).
    pub(super) fn push(&mut self, entries: &[PackEntry], sealed: &[u8]) -> Result<()> {
        let mut placed = Vec::with_capacity(entries.len());
        place(&mut placed, entries, self.len, sealed.len())?;
        self.append(sealed).map_err(|e| spill_error(&e))?;
        self.entries.extend(placed);
        Ok(())
    }

    /// The finished pack, or `None` if it holds no blob; the builder starts a new file.
    pub(super) fn finish(&mut self) -> Result<Option<Built>> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        let (header, tail) = sealed_header(self.session, &mut self.entries);
        self.append(&tail).map_err(|e| spill_error(&e))?;
        let next = SpillBuilder::new(&self.dir, self.session).map_err(|e| spill_error(&e))?;
        let done = std::mem::replace(self, next);
        let file = done.file.into_inner().map_err(|e| spill_error(e.error()))?;
        Ok(Some(Built::File {
            id: PackId(*done.hash.finalize().as_bytes()),
            file,
            size: done.len,
            header,
        }))
    }
}

/// A backup's pack being built: in an unnamed file where possible, else in memory.
pub(super) enum Builder {
    Memory(PackBuilder),
    File(Box<SpillBuilder>),
}

impl Builder {
    /// In an unnamed file in `spill` if given and possible.
    pub(super) fn new(spill: Option<&Path>, session: KeyId) -> Builder {
        match spill.map(|d| SpillBuilder::new(d, session)) {
            Some(Ok(b)) => Builder::File(Box::new(b)),
            Some(Err(e)) => {
                tracing::debug!("packs built in memory: no unnamed file in the local state ({e})");
                Builder::Memory(PackBuilder::new(session))
            }
            None => Builder::Memory(PackBuilder::new(session)),
        }
    }

    pub(super) fn len(&self) -> u64 {
        match self {
            Builder::Memory(b) => b.len() as u64,
            Builder::File(b) => b.len(),
        }
    }

    pub(super) fn push(&mut self, entries: &[PackEntry], sealed: &[u8]) -> Result<()> {
        match self {
            Builder::Memory(b) => b.push(entries, sealed),
            Builder::File(b) => b.push(entries, sealed),
        }
    }

    pub(super) fn finish(&mut self) -> Result<Option<Built>> {
        match self {
            Builder::Memory(b) => Ok(b.finish().map(|(bytes, h)| Built::Memory(bytes, h))),
            Builder::File(b) => b.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;
    use crate::format::pack::BlobKind;
    use crate::id::ChunkId;

    /// A pack built in a file is stored byte for byte as the same pack built in memory, under
    /// the same name, and indexed.
    #[test]
    fn a_spilled_pack_is_the_pack_built_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |n: u8| PackEntry {
            id: ChunkId([n; 32]),
            kind: BlobKind::Data,
            offset: 0,
            length: 0,
            raw_len: 7,
            inner: None,
        };
        let mut mem = Builder::new(None, KeyId([3; 32]));
        let mut file = Builder::new(Some(dir.path()), KeyId([3; 32]));
        assert!(
            matches!(file, Builder::File(_)),
            "tmpfs and ext4 hold unnamed files"
        );
        for (n, blob) in [(1u8, vec![1u8; 50]), (2, vec![2u8; 4100])] {
            mem.push(&[entry(n)], &blob).unwrap();
            file.push(&[entry(n)], &blob).unwrap();
        }
        assert_eq!(mem.len(), file.len());
        let (a, b) = (MemoryBackend::new(), MemoryBackend::new());
        let (ia, ib) = (Index::temporary().unwrap(), Index::temporary().unwrap());
        mem.finish().unwrap().unwrap().store(&a, &ia).unwrap();
        file.finish().unwrap().unwrap().store(&b, &ib).unwrap();
        assert!(file.finish().unwrap().is_none(), "empty again");
        let (pa, pb) = (ia.packs().unwrap(), ib.packs().unwrap());
        assert_eq!(pa, pb);
        let name = pa[0].0.object_name();
        assert_eq!(a.read(&name).unwrap(), b.read(&name).unwrap());
        assert_eq!(ib.lookup(&ChunkId([2; 32])).unwrap().unwrap().pack, pb[0].0);
    }

    /// A pack built in an unnamed file next to a local store becomes the stored object itself
    /// (the same inode): its bytes are not copied again.
    #[test]
    fn a_spilled_pack_is_linked_into_a_local_store() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("local")).unwrap();
        let store = crate::backend::LocalBackend::new(dir.path());
        let mut b = Builder::new(Some(&dir.path().join("local")), KeyId([3; 32]));
        let entry = PackEntry {
            id: ChunkId([1; 32]),
            kind: BlobKind::Data,
            offset: 0,
            length: 0,
            raw_len: 7,
            inner: None,
        };
        b.push(&[entry], &[5u8; 5000]).unwrap();
        let built = b.finish().unwrap().unwrap();
        let Built::File { file, .. } = &built else {
            panic!("built in memory")
        };
        let ino = file.metadata().unwrap().ino();
        let index = Index::temporary().unwrap();
        built.store(&store, &index).unwrap();
        let packs = index.packs().unwrap();
        let path = dir.path().join(packs[0].0.object_name());
        assert_eq!(
            std::fs::metadata(&path).unwrap().ino(),
            ino,
            "copied, not linked"
        );
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(*blake3::hash(&bytes).as_bytes(), packs[0].0 .0);
    }
}

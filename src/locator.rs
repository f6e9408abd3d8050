//! Finding and reading chunks without the writer's index: from the pack headers.
//!
//! Readers (restore, mount, deep verify) never open the sled index, which belongs to the job
//! that holds the lease; they scan the pack headers once and keep the locations they need.

use crate::error::{Error, Result};
use crate::format::pack::BlobKind;
use crate::id::{ChunkId, KeyId, PackId};
use crate::index::read_pack_header;
use crate::keyring::KeyRing;
use crate::object::{ObjectKind, ObjectName};
use crate::repository::Repository;
use std::collections::{HashMap, HashSet};

/// A chunk's place, as a reader needs it.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// Index into the locator's pack list.
    pub pack: u32,
    /// Offset of the sealed blob.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Plaintext length.
    pub raw_len: u32,
    /// What it holds.
    pub kind: BlobKind,
}

/// Chunk id → place, for a set of wanted chunks (or all).
#[derive(Default)]
pub struct Locator {
    packs: Vec<(PackId, KeyId)>,
    places: HashMap<ChunkId, Place>,
    /// Packs whose headers could not be read (name, error).
    pub unreadable: Vec<(String, String)>,
}

impl Locator {
    /// Scan every pack header in `repo`, keeping the chunks in `wanted` (all if `None`).
    pub fn scan(repo: &Repository, wanted: Option<&HashSet<ChunkId>>) -> Result<Self> {
        let mut loc = Locator::default();
        for o in repo.store.list(ObjectKind::Pack.prefix())? {
            let Some(pid) = ObjectName::pack(&o.name) else {
                continue;
            };
            let h = match read_pack_header(repo.store.as_ref(), &o.name, o.size) {
                Ok(h) => h,
                Err(e) => {
                    loc.unreadable.push((o.name.clone(), e.to_string()));
                    continue;
                }
            };
            let idx = u32::try_from(loc.packs.len()).map_err(|_| {
                Error::corrupt(repo.store.describe(), "more packs than a locator can hold")
            })?;
            let mut used = false;
            for e in &h.entries {
                if wanted.is_none_or(|w| w.contains(&e.id)) {
                    used = true;
                    loc.places.insert(
                        e.id,
                        Place {
                            pack: idx,
                            offset: e.offset,
                            length: e.length,
                            raw_len: e.raw_len,
                            kind: e.kind,
                        },
                    );
                }
            }
            if used {
                loc.packs.push((pid, h.session));
            }
        }
        Ok(loc)
    }

    /// Where a chunk is.
    pub fn place(&self, id: &ChunkId) -> Option<(Place, PackId, KeyId)> {
        let p = *self.places.get(id)?;
        let (pack, session) = *self.packs.get(p.pack as usize)?;
        Some((p, pack, session))
    }

    /// Damage unless `id`, if located, is stored as a tree blob no larger than a tree may be.
    /// Checked before the blob is read, so a lying pack header cannot make restore or the mount
    /// decompress a giant blob as a directory listing. An unlocated id is left to the read.
    pub fn check_tree(&self, id: &ChunkId) -> Result<()> {
        self.check_meta(id, crate::format::tree::MAX_TREE_LEN, "tree")
    }

    /// As [`Locator::check_tree`], for a segment of a file's chunk list (stored with kind
    /// `Tree`, at most `segment::MAX_SEGMENT_LEN` bytes).
    pub fn check_segment(&self, id: &ChunkId) -> Result<()> {
        self.check_meta(id, crate::format::segment::MAX_SEGMENT_LEN, "segment")
    }

    fn check_meta(&self, id: &ChunkId, max: u32, what: &str) -> Result<()> {
        match self.place(id) {
            Some((p, _, _)) if p.kind != BlobKind::Tree || p.raw_len > max => Err(Error::corrupt(
                format!("{what} {}", id.to_hex()),
                format!("a {:?} blob of {} bytes, not a {what}", p.kind, p.raw_len),
            )),
            _ => Ok(()),
        }
    }

    /// Number of located chunks.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether nothing was located.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }
}

/// Reads, decrypts, decompresses and checks chunks.
pub struct ChunkReader<'a> {
    /// The repository.
    pub repo: &'a Repository,
    /// The unwrapped keys.
    pub keys: &'a KeyRing,
    /// The locations.
    pub locator: &'a Locator,
}

impl ChunkReader<'_> {
    /// The plaintext of a chunk, checked against its id. `backup` names the backup in errors.
    pub fn read(&self, id: &ChunkId, backup: &str) -> Result<Vec<u8>> {
        let (p, pack, session) = self.locator.place(id).ok_or_else(|| {
            Error::corrupt(
                format!("chunk {}", id.to_hex()),
                "missing: no pack holds it",
            )
        })?;
        let length = usize::try_from(p.length).map_err(|_| {
            Error::corrupt(
                pack.object_name(),
                "a blob length this machine cannot address",
            )
        })?;
        let sealed =
            self.repo
                .store
                .read_range(&pack.object_name(), u64::from(p.offset), length)?;
        if sealed.len() != length {
            return Err(Error::corrupt(
                format!("chunk {} in pack {}", id.to_hex(), pack.to_hex()),
                format!(
                    "the pack ends before the blob: {} of {length} bytes at offset {}",
                    sealed.len(),
                    p.offset
                ),
            ));
        }
        self.open(id, &sealed, p.raw_len, &pack, &session, backup)
    }

    /// The whole chunk list of a file stored in `segments`, each segment checked before it is
    /// read ([`Locator::check_segment`]) and against its ref (`format::segment::expand`).
    pub fn expand(
        &self,
        segments: &[crate::format::segment::SegmentRef],
        backup: &str,
    ) -> Result<Vec<crate::format::tree::ChunkRef>> {
        let mut budget = crate::format::segment::MAX_EXPANDED_CHUNKS;
        crate::format::segment::expand(segments, &mut budget, |id| {
            self.locator.check_segment(id)?;
            self.read(id, backup)
        })
    }

    /// Open a sealed blob read from `pack`.
    pub fn open(
        &self,
        id: &ChunkId,
        sealed: &[u8],
        raw_len: u32,
        pack: &PackId,
        session: &KeyId,
        backup: &str,
    ) -> Result<Vec<u8>> {
        let what = || format!("chunk {} in pack {}", id.to_hex(), pack.to_hex());
        let keys = self.keys.session(self.repo, session, backup)?;
        let payload = keys
            .session
            .open(id, sealed)
            .ok_or_else(|| Error::corrupt(what(), "authentication failed (altered bytes)"))?;
        let raw = usize::try_from(raw_len).map_err(|_| {
            Error::corrupt(what(), "a plaintext length this machine cannot address")
        })?;
        let plain = crate::compress::decompress(&payload, raw, &what())?;
        if plain.len() != raw || keys.id_key.chunk_id(&plain) != *id {
            return Err(Error::corrupt(what(), "content does not match its id"));
        }
        Ok(plain)
    }
}

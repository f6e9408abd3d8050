//! The chunk location record: where a chunk's sealed blob sits in which pack, and its 45-byte
//! encoding in the index (pack id, offset, length, plaintext length as little-endian `u32`s, then
//! the blob kind).

use crate::format::pack::{BlobKind, PackEntry};
use crate::id::PackId;

/// Where a chunk is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The pack holding it.
    pub pack: PackId,
    /// Offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Plaintext length.
    pub raw_len: u32,
    /// What it holds.
    pub kind: BlobKind,
}

impl Location {
    pub(super) fn encode(&self) -> [u8; 45] {
        let mut v = [0u8; 45];
        v[..32].copy_from_slice(&self.pack.0);
        v[32..36].copy_from_slice(&self.offset.to_le_bytes());
        v[36..40].copy_from_slice(&self.length.to_le_bytes());
        v[40..44].copy_from_slice(&self.raw_len.to_le_bytes());
        v[44] = match self.kind {
            BlobKind::Data => 0,
            BlobKind::Tree => 1,
            BlobKind::Meta => 2,
        };
        v
    }

    pub(super) fn decode(v: &[u8]) -> Option<Self> {
        if v.len() != 45 {
            return None;
        }
        let u = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
        let kind = match v[44] {
            0 => BlobKind::Data,
            1 => BlobKind::Tree,
            2 => BlobKind::Meta,
            _ => return None,
        };
        Some(Location {
            pack: PackId(v[..32].try_into().ok()?),
            offset: u(32),
            length: u(36),
            raw_len: u(40),
            kind,
        })
    }

    pub(super) fn of(pack: PackId, e: &PackEntry) -> Self {
        Location {
            pack,
            offset: e.offset,
            length: e.length,
            raw_len: e.raw_len,
            kind: e.kind,
        }
    }
}

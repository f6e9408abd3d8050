//! Pack files (`data/<2 hex>/<64 hex>`): sealed chunks followed by a plaintext header.
//!
//! ```text
//! offset 0          "CAIRNPAK" (8) ‖ version u16 LE
//! offset 10         sealed blobs, back to back (each: nonce 24 ‖ ciphertext ‖ tag 16)
//! offset H          header: postcard PackHeader (session key id, entries)
//! offset len-14     header length u32 LE ‖ version u16 LE ‖ "CAIRNEND" (8)
//! ```
//! The header names no secret (chunk ids are keyed hashes), so the index can be rebuilt from
//! pack headers without the identity. A pack's name is the blake3 hash of all its bytes.

use crate::error::{Error, Result};
use crate::id::{ChunkId, KeyId};
use serde::{Deserialize, Serialize};

/// Leading magic.
pub const MAGIC: &[u8; 8] = b"CAIRNPAK";
/// Trailing magic.
pub const END_MAGIC: &[u8; 8] = b"CAIRNEND";
/// Pack layout version.
pub const VERSION: u16 = 1;
/// Bytes before the first blob.
pub const LEAD_LEN: usize = 10;
/// Bytes of the trailer.
pub const TRAILER_LEN: usize = 14;
/// Largest plaintext a blob may claim (trees of huge directories included).
pub const MAX_BLOB_LEN: u32 = 256 << 20;

/// What a blob holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlobKind {
    /// File content.
    Data,
    /// A directory listing (format::tree).
    Tree,
    /// Backup metadata (service definitions).
    Meta,
}

/// One blob's place in its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackEntry {
    /// The chunk's id.
    pub id: ChunkId,
    /// What it holds.
    pub kind: BlobKind,
    /// Offset of the sealed blob from the start of the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_len: u32,
}

/// The header of a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackHeader {
    /// The envelope of the session key that sealed every blob in this pack.
    pub session: KeyId,
    /// The blobs, in file order.
    pub entries: Vec<PackEntry>,
}

impl PackHeader {
    /// Encode header + trailer (to append after the blobs).
    pub fn encode_tail(&self) -> Vec<u8> {
        let mut out = postcard::to_allocvec(self).unwrap_or_default();
        // A header is a few MiB at most (one short entry per blob of a bounded pack).
        let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(END_MAGIC);
        out
    }

    /// Parse the trailer (the last 14 bytes): the header's length.
    pub fn header_len(trailer: &[u8], what: &str) -> Result<u32> {
        if trailer.len() != TRAILER_LEN || &trailer[6..] != END_MAGIC {
            return Err(Error::corrupt(what, "not a cairn pack (bad trailer)"));
        }
        let v = u16::from_le_bytes([trailer[4], trailer[5]]);
        if v != VERSION {
            return Err(Error::corrupt(
                what,
                format!("pack version {v}, this cairn reads {VERSION}"),
            ));
        }
        Ok(u32::from_le_bytes([
            trailer[0], trailer[1], trailer[2], trailer[3],
        ]))
    }

    /// Decode a header whose pack is `pack_len` bytes long, checking every entry's bounds.
    pub fn decode(header: &[u8], pack_len: u64, what: &str) -> Result<Self> {
        let h: PackHeader = super::decode_whole(
            header,
            what,
            "bad pack header",
            "stray bytes after the pack header",
        )?;
        let blobs_end = (header.len() as u64)
            .checked_add(TRAILER_LEN as u64)
            .and_then(|tail| pack_len.checked_sub(tail))
            .ok_or_else(|| Error::corrupt(what, "header longer than the pack"))?;
        let mut next = LEAD_LEN as u64;
        for e in &h.entries {
            let (off, len) = (e.offset as u64, e.length as u64);
            let end = off.checked_add(len);
            if off < next
                || end.is_none_or(|end| end > blobs_end)
                || len < crate::crypto::SEAL_OVERHEAD as u64 + 1
                || e.raw_len > MAX_BLOB_LEN
            {
                return Err(Error::corrupt(
                    what,
                    format!("pack entry for chunk {} out of bounds", e.id.short()),
                ));
            }
            next = end.unwrap_or(u64::MAX);
        }
        Ok(h)
    }

    /// Decode the header of a whole pack file (checking its leading magic too).
    pub fn from_pack(bytes: &[u8], what: &str) -> Result<Self> {
        super::check_header(bytes, MAGIC, VERSION, what)?;
        if bytes.len() < LEAD_LEN + TRAILER_LEN {
            return Err(Error::corrupt(what, "pack too short"));
        }
        let hl = usize::try_from(Self::header_len(&bytes[bytes.len() - TRAILER_LEN..], what)?)
            .map_err(|_| Error::corrupt(what, "header length out of range"))?;
        let end = bytes.len() - TRAILER_LEN;
        let start = end
            .checked_sub(hl)
            .filter(|s| *s >= LEAD_LEN)
            .ok_or_else(|| Error::corrupt(what, "header length out of range"))?;
        Self::decode(&bytes[start..end], bytes.len() as u64, what)
    }
}

/// The lead bytes of every pack.
pub fn lead() -> Vec<u8> {
    let mut v = MAGIC.to_vec();
    v.extend_from_slice(&VERSION.to_le_bytes());
    v
}

/// A well-formed pack for tests: its blobs `(id, kind, sealed length, plaintext length, fill)`
/// stand in as `length` bytes of `fill` each, under the session `session`.
#[cfg(test)]
pub(crate) fn assemble(session: KeyId, blobs: &[(ChunkId, BlobKind, u32, u32, u8)]) -> Vec<u8> {
    let mut p = lead();
    let mut entries = Vec::new();
    for &(id, kind, length, raw_len, fill) in blobs {
        entries.push(PackEntry {
            id,
            kind,
            offset: p.len() as u32,
            length,
            raw_len,
        });
        p.resize(p.len() + length as usize, fill);
    }
    p.extend_from_slice(&PackHeader { session, entries }.encode_tail());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        assemble(
            KeyId([9; 32]),
            &[
                (ChunkId([1; 32]), BlobKind::Data, 50, 9, 7),
                (ChunkId([2; 32]), BlobKind::Tree, 60, 20, 8),
            ],
        )
    }

    #[test]
    fn header_round_trip() {
        let p = sample();
        let h = PackHeader::from_pack(&p, "p").unwrap();
        assert_eq!(h.entries.len(), 2);
        assert_eq!(h.entries[1].kind, BlobKind::Tree);
    }

    #[test]
    fn stray_bytes_after_the_header_are_rejected() {
        let h = PackHeader {
            session: KeyId([9; 32]),
            entries: vec![],
        };
        let mut tail = postcard::to_allocvec(&h).unwrap();
        tail.push(0);
        assert!(PackHeader::decode(&tail, 100, "p").is_err());
    }

    #[test]
    fn damaged_packs_are_rejected() {
        let p = sample();
        assert!(PackHeader::from_pack(&p[..p.len() - 1], "p").is_err());
        assert!(PackHeader::from_pack(&p[3..], "p").is_err());
        let mut lie = p.clone();
        let n = lie.len();
        lie[n - 14..n - 10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(PackHeader::from_pack(&lie, "p").is_err());
        for cut in 0..p.len() {
            let _ = PackHeader::from_pack(&p[..cut], "p");
        }
    }

    #[test]
    fn entries_at_the_end_of_the_offset_range_are_damage_not_overflow() {
        let h = PackHeader {
            session: KeyId([9; 32]),
            entries: vec![PackEntry {
                id: ChunkId([1; 32]),
                kind: BlobKind::Data,
                offset: u32::MAX,
                length: u32::MAX,
                raw_len: 1,
            }],
        };
        let tail = postcard::to_allocvec(&h).unwrap();
        assert!(PackHeader::decode(&tail, u32::MAX as u64 + 100, "p").is_err());
        let _ = PackHeader::decode(&tail, u64::MAX, "p");
        assert!(PackHeader::decode(&tail, 3, "p").is_err());
    }
}

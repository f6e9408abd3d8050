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
//!
//! A blob holds one chunk, or (version 2) a *group*: small chunks concatenated and compressed
//! together, one entry per member, every member's entry naming the same blob and the member's
//! place in the group's plaintext (`inner`). zstd finds far more to share across many small
//! files than inside each one (FORMAT.md section 6).

use crate::error::{Error, Result};
use crate::id::{ChunkId, KeyId};
use serde::{Deserialize, Serialize};

/// Leading magic.
pub const MAGIC: &[u8; 8] = b"CAIRNPAK";
/// Trailing magic.
pub const END_MAGIC: &[u8; 8] = b"CAIRNEND";
/// Pack layout version written: 2 (entries may name a group).
pub const VERSION: u16 = 2;
/// The first pack layout (no groups), still read.
pub const VERSION_1: u16 = 1;
/// Bytes before the first blob.
pub const LEAD_LEN: usize = 10;
/// Bytes of the trailer.
pub const TRAILER_LEN: usize = 14;
/// Largest plaintext a blob may claim (trees of huge directories included).
pub const MAX_BLOB_LEN: u32 = 256 << 20;
/// Largest plaintext a group may have: a member ends at most this far into it.
pub const MAX_GROUP_LEN: u32 = 1 << 20;

/// The associated data a group blob is sealed with (a single chunk's blob is sealed with its
/// chunk id). A group names no one chunk; every member is checked against its own id once
/// opened, and the domain keeps a group from opening as a single chunk's blob or the reverse.
pub fn group_aad() -> ChunkId {
    ChunkId(*blake3::hash(b"cairn pack v2: a group of chunks").as_bytes())
}

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
    /// Length of the plaintext (of this chunk, also when it is a group's member).
    pub raw_len: u32,
    /// `None`: the blob holds this chunk alone. `Some(at)`: the blob is a group and this chunk
    /// is its plaintext's bytes `at .. at + raw_len`.
    pub inner: Option<u32>,
}

impl PackEntry {
    /// The associated data its blob is sealed with.
    pub fn aad(&self) -> ChunkId {
        match self.inner {
            None => self.id,
            Some(_) => group_aad(),
        }
    }
}

/// A version 1 entry (no groups).
#[derive(Deserialize)]
struct EntryV1 {
    id: ChunkId,
    kind: BlobKind,
    offset: u32,
    length: u32,
    raw_len: u32,
}

/// A version 1 header.
#[derive(Deserialize)]
struct HeaderV1 {
    session: KeyId,
    entries: Vec<EntryV1>,
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

    /// Parse the trailer (the last 14 bytes): the header's length and the pack's version.
    pub fn header_len(trailer: &[u8], what: &str) -> Result<(u32, u16)> {
        if trailer.len() != TRAILER_LEN || &trailer[6..] != END_MAGIC {
            return Err(Error::corrupt(what, "not a cairn pack (bad trailer)"));
        }
        let v = u16::from_le_bytes([trailer[4], trailer[5]]);
        if v != VERSION && v != VERSION_1 {
            return Err(Error::corrupt(
                what,
                format!("pack version {v}, this cairn reads {VERSION_1} and {VERSION}: upgrade cairn or check the pack"),
            ));
        }
        let len = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        Ok((len, v))
    }

    /// Decode a header of pack `version` whose pack is `pack_len` bytes long, checking every
    /// entry's bounds: blobs in ascending, non-overlapping order inside the blob area; the
    /// entries of one group side by side, naming the same blob, each member inside
    /// [`MAX_GROUP_LEN`].
    pub fn decode(header: &[u8], pack_len: u64, version: u16, what: &str) -> Result<Self> {
        let (bad, left) = ("bad pack header", "stray bytes after the pack header");
        let h: PackHeader = match version {
            VERSION => super::decode_whole(header, what, bad, left)?,
            VERSION_1 => {
                let v1: HeaderV1 = super::decode_whole(header, what, bad, left)?;
                PackHeader {
                    session: v1.session,
                    entries: v1
                        .entries
                        .into_iter()
                        .map(|e| PackEntry {
                            id: e.id,
                            kind: e.kind,
                            offset: e.offset,
                            length: e.length,
                            raw_len: e.raw_len,
                            inner: None,
                        })
                        .collect(),
                }
            }
            v => return Err(Error::corrupt(what, format!("pack version {v} unknown"))),
        };
        let blobs_end = (header.len() as u64)
            .checked_add(TRAILER_LEN as u64)
            .and_then(|tail| pack_len.checked_sub(tail))
            .ok_or_else(|| Error::corrupt(what, "header longer than the pack"))?;
        let mut next = LEAD_LEN as u64;
        let mut group: Option<(u32, u32)> = None; // the last group blob's offset and length
        for e in &h.entries {
            let out = || {
                Error::corrupt(
                    what,
                    format!("pack entry for chunk {} out of bounds", e.id.short()),
                )
            };
            let member_of_last = e.inner.is_some() && group == Some((e.offset, e.length));
            if let Some(at) = e.inner {
                if at
                    .checked_add(e.raw_len)
                    .is_none_or(|end| end > MAX_GROUP_LEN)
                {
                    return Err(out());
                }
            }
            if member_of_last {
                continue; // the blob was checked with the group's first member
            }
            let (off, len) = (e.offset as u64, e.length as u64);
            let end = off.checked_add(len);
            if off < next
                || end.is_none_or(|end| end > blobs_end)
                || len < crate::crypto::SEAL_OVERHEAD as u64 + 1
                || e.raw_len > MAX_BLOB_LEN
            {
                return Err(out());
            }
            next = end.unwrap_or(u64::MAX);
            group = e.inner.map(|_| (e.offset, e.length));
        }
        Ok(h)
    }

    /// The blobs in file order, each with the entries it holds (one, or a group's members).
    pub fn blobs(&self) -> impl Iterator<Item = &[PackEntry]> {
        self.entries
            .chunk_by(|a, b| a.inner.is_some() && b.inner.is_some() && a.offset == b.offset)
    }

    /// Decode the header of a whole pack file (checking its leading magic too).
    pub fn from_pack(bytes: &[u8], what: &str) -> Result<Self> {
        if bytes.len() < LEAD_LEN + TRAILER_LEN {
            return Err(Error::corrupt(what, "pack too short"));
        }
        let (hl, version) = Self::header_len(&bytes[bytes.len() - TRAILER_LEN..], what)?;
        super::check_header(bytes, MAGIC, version, what)?;
        let hl =
            usize::try_from(hl).map_err(|_| Error::corrupt(what, "header length out of range"))?;
        let end = bytes.len() - TRAILER_LEN;
        let start = end
            .checked_sub(hl)
            .filter(|s| *s >= LEAD_LEN)
            .ok_or_else(|| Error::corrupt(what, "header length out of range"))?;
        Self::decode(&bytes[start..end], bytes.len() as u64, version, what)
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
            inner: None,
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

    /// A header of `entries` (placed by hand) as the tail of a pack of `len` bytes.
    fn decode_entries(entries: Vec<PackEntry>, blobs_end: u64) -> Result<PackHeader> {
        let h = PackHeader {
            session: KeyId([9; 32]),
            entries,
        };
        let header = postcard::to_allocvec(&h).unwrap();
        let len = blobs_end + header.len() as u64 + TRAILER_LEN as u64;
        PackHeader::decode(&header, len, VERSION, "p")
    }

    fn member(n: u8, offset: u32, length: u32, inner: u32, raw_len: u32) -> PackEntry {
        PackEntry {
            id: ChunkId([n; 32]),
            kind: BlobKind::Data,
            offset,
            length,
            raw_len,
            inner: Some(inner),
        }
    }

    #[test]
    fn groups_decode_and_are_told_apart_from_single_blobs() {
        let single = PackEntry {
            inner: None,
            ..member(9, 200, 50, 0, 30)
        };
        let h = decode_entries(
            vec![
                member(1, 10, 100, 0, 40),
                member(2, 10, 100, 40, 60),
                member(3, 110, 60, 0, 5),
                single,
            ],
            300,
        )
        .unwrap();
        let blobs: Vec<Vec<u8>> = h
            .blobs()
            .map(|b| b.iter().map(|e| e.id.0[0]).collect())
            .collect();
        assert_eq!(blobs, vec![vec![1, 2], vec![3], vec![9]]);
        assert_eq!(h.entries[0].aad(), group_aad());
        assert_eq!(
            single.aad(),
            single.id,
            "a single blob is sealed with its id"
        );
    }

    #[test]
    fn hostile_groups_are_rejected() {
        let bad = [
            // a member past the group bound
            vec![member(1, 10, 100, MAX_GROUP_LEN - 5, 6)],
            vec![member(1, 10, 100, u32::MAX, 2)],
            // members of one blob that disagree on its length, or a single entry inside a group
            vec![member(1, 10, 100, 0, 5), member(2, 10, 90, 5, 5)],
            vec![
                member(1, 10, 100, 0, 5),
                PackEntry {
                    inner: None,
                    ..member(2, 10, 100, 5, 5)
                },
            ],
            // a member of an earlier group after another blob
            vec![
                member(1, 10, 100, 0, 5),
                member(2, 110, 50, 0, 5),
                member(3, 10, 100, 5, 5),
            ],
            // a group past the blob area
            vec![member(1, 10, 400, 0, 5)],
        ];
        for (i, entries) in bad.into_iter().enumerate() {
            assert!(decode_entries(entries, 300).is_err(), "case {i} accepted");
        }
    }

    /// Packs written before groups (version 1: no `inner`) still decode, every entry a single
    /// blob.
    #[test]
    fn version_1_packs_still_decode() {
        #[derive(Serialize)]
        struct E1 {
            id: ChunkId,
            kind: BlobKind,
            offset: u32,
            length: u32,
            raw_len: u32,
        }
        #[derive(Serialize)]
        struct H1 {
            session: KeyId,
            entries: Vec<E1>,
        }
        let h1 = H1 {
            session: KeyId([4; 32]),
            entries: vec![E1 {
                id: ChunkId([1; 32]),
                kind: BlobKind::Tree,
                offset: 10,
                length: 50,
                raw_len: 20,
            }],
        };
        let mut p = MAGIC.to_vec();
        p.extend_from_slice(&VERSION_1.to_le_bytes());
        p.resize(60, 0);
        let header = postcard::to_allocvec(&h1).unwrap();
        p.extend_from_slice(&header);
        p.extend_from_slice(&(header.len() as u32).to_le_bytes());
        p.extend_from_slice(&VERSION_1.to_le_bytes());
        p.extend_from_slice(END_MAGIC);
        let h = PackHeader::from_pack(&p, "v1").unwrap();
        assert_eq!(h.session, KeyId([4; 32]));
        assert_eq!((h.entries[0].raw_len, h.entries[0].inner), (20, None));
        // the same bytes read as version 2 do not decode (no `inner`): the version decides
        let n = p.len();
        p[n - 10..n - 8].copy_from_slice(&VERSION.to_le_bytes());
        p[8..10].copy_from_slice(&VERSION.to_le_bytes());
        assert!(PackHeader::from_pack(&p, "v1 as v2").is_err());
        // a lead that disagrees with the trailer is damage
        p[8..10].copy_from_slice(&VERSION_1.to_le_bytes());
        assert!(PackHeader::from_pack(&p, "mixed").is_err());
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
        assert!(PackHeader::decode(&tail, 100, VERSION, "p").is_err());
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
                inner: None,
            }],
        };
        let tail = postcard::to_allocvec(&h).unwrap();
        assert!(PackHeader::decode(&tail, u32::MAX as u64 + 100, VERSION, "p").is_err());
        let _ = PackHeader::decode(&tail, u64::MAX, VERSION, "p");
        assert!(PackHeader::decode(&tail, 3, VERSION, "p").is_err());
    }
}

//! The chunk location record: where a chunk's sealed blob sits in which pack.
//!
//! In the index a location names its pack by the pack's ordinal (a number the index gives each
//! pack it records, see the `pack_ids` tree) and holds its numbers as LEB128 varints: 5 to 21
//! bytes (12 for a typical chunk) where a 32-byte pack id and fixed-width fields took 45. sled stores every value byte
//! about two and a half times, and a repository holds one record per chunk.
//!
//! A member of a group (FORMAT.md section 6) has its kind byte's high bit set and its place in
//! the group's plaintext as one more varint after it.

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
    /// Its place in its group's plaintext, if the blob is a group.
    pub inner: Option<u32>,
}

/// A location as the `chunks` tree stores it: its pack by ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stored {
    pub ordinal: u32,
    pub offset: u32,
    pub length: u32,
    pub raw_len: u32,
    pub kind: BlobKind,
    pub inner: Option<u32>,
}

/// The longest encoding: four 5-byte varints, the kind and a group member's place.
const MAX_LEN: usize = 26;
/// The kind byte's flag for a group member.
const MEMBER: u8 = 0x80;

impl Stored {
    pub(super) fn of(ordinal: u32, e: &PackEntry) -> Self {
        Stored {
            ordinal,
            offset: e.offset,
            length: e.length,
            raw_len: e.raw_len,
            kind: e.kind,
            inner: e.inner,
        }
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(MAX_LEN);
        for n in [self.ordinal, self.offset, self.length, self.raw_len] {
            put_varint(&mut v, n);
        }
        let kind = match self.kind {
            BlobKind::Data => 0,
            BlobKind::Tree => 1,
            BlobKind::Meta => 2,
        };
        match self.inner {
            None => v.push(kind),
            Some(at) => {
                v.push(kind | MEMBER);
                put_varint(&mut v, at);
            }
        }
        v
    }

    /// `None` for anything but exactly one well-formed record.
    pub(super) fn decode(v: &[u8]) -> Option<Self> {
        let mut rest = v;
        let mut n = [0u32; 4];
        for x in &mut n {
            *x = take_varint(&mut rest)?;
        }
        let (&byte, mut rest) = rest.split_first()?;
        let kind = match byte & !MEMBER {
            0 => BlobKind::Data,
            1 => BlobKind::Tree,
            2 => BlobKind::Meta,
            _ => return None,
        };
        let inner = match byte & MEMBER {
            0 => None,
            _ => Some(take_varint(&mut rest)?),
        };
        if !rest.is_empty() {
            return None;
        }
        Some(Stored {
            ordinal: n[0],
            offset: n[1],
            length: n[2],
            raw_len: n[3],
            kind,
            inner,
        })
    }

    pub(super) fn at(&self, pack: PackId) -> Location {
        Location {
            pack,
            offset: self.offset,
            length: self.length,
            raw_len: self.raw_len,
            kind: self.kind,
            inner: self.inner,
        }
    }
}

fn put_varint(v: &mut Vec<u8>, mut n: u32) {
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
}

/// A LEB128 `u32`: at most 5 bytes, no bits beyond 32, no redundant trailing zero byte.
fn take_varint(rest: &mut &[u8]) -> Option<u32> {
    let mut n: u64 = 0;
    for i in 0..5 {
        let (&b, tail) = rest.split_first()?;
        *rest = tail;
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return None;
            }
            return u32::try_from(n).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_the_extremes_and_is_short_for_small_numbers() {
        for (o, off, len, raw) in [(0, 0, 0, 0), (3, 200_000, 70_000, 65_536)] {
            for kind in [BlobKind::Data, BlobKind::Tree, BlobKind::Meta] {
                for inner in [None, Some(0), Some(131_000), Some(u32::MAX)] {
                    let s = Stored {
                        ordinal: o,
                        offset: off,
                        length: len,
                        raw_len: raw,
                        kind,
                        inner,
                    };
                    assert_eq!(Stored::decode(&s.encode()), Some(s));
                }
            }
        }
        let max = Stored {
            ordinal: u32::MAX,
            offset: u32::MAX,
            length: u32::MAX,
            raw_len: u32::MAX,
            kind: BlobKind::Data,
            inner: Some(u32::MAX),
        };
        assert_eq!(max.encode().len(), MAX_LEN);
        assert_eq!(Stored::decode(&max.encode()), Some(max));
        let typical = Stored {
            ordinal: 12,
            offset: 9_000_000,
            length: 40_000,
            raw_len: 60_000,
            kind: BlobKind::Data,
            inner: None,
        };
        assert_eq!(typical.encode().len(), 12);
    }

    #[test]
    fn malformed_records_do_not_decode() {
        let good = Stored {
            ordinal: 1,
            offset: 300,
            length: 2,
            raw_len: 3,
            kind: BlobKind::Tree,
            inner: None,
        }
        .encode();
        for bad in [
            &[][..],
            &good[..good.len() - 1],                            // no kind
            &[good.clone(), vec![0]].concat()[..],              // trailing byte
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0, 0, 0, 0, 0][..], // 6-byte varint
            &[0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0][..],    // beyond u32
            &[0x81, 0x00, 0, 0, 0, 0][..],                      // redundant zero byte
            &[1, 1, 1, 1, 9][..],                               // unknown kind
            &[1, 1, 1, 1, 0x80][..],                            // member without its place
            &[1, 1, 1, 1, 0x80, 5, 0][..],                      // trailing byte after it
            &[1, 1, 1, 1, 0x83, 5][..],                         // unknown kind, member
        ] {
            assert_eq!(Stored::decode(bad), None, "{bad:?}");
        }
    }
}

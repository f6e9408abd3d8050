//! The byte encoding of a directory's files cache record ([`CachedDir`]), FORMAT.md section 10:
//! a version byte, then each file in name order with its numbers as LEB128 varints.
//! The decoder takes only the canonical encoding and never panics on other input.

use super::files::{CachedDir, CachedFile};
use crate::format::tree::ChunkRef;
use crate::id::ChunkId;

/// The record encoding's version (its first byte) without a tree id.
const RECORD_VERSION: u8 = 1;

/// The version of a record that holds its directory's tree id (after the version byte).
const RECORD_VERSION_TREE: u8 = 2;

impl CachedDir {
    /// The record's bytes (files in the order held: [`CachedDir::sort`] them first).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = match &self.tree {
            None => vec![RECORD_VERSION],
            Some(t) => {
                let mut v = Vec::with_capacity(64);
                v.push(RECORD_VERSION_TREE);
                v.extend_from_slice(&t.0);
                v
            }
        };
        put(&mut v, self.files.len() as u128);
        for (name, f) in &self.files {
            put(&mut v, name.len() as u128);
            v.extend_from_slice(name);
            put(&mut v, u128::from(f.size));
            put(&mut v, zigzag(f.mtime));
            put(&mut v, zigzag(f.ctime.wrapping_sub(f.mtime)));
            put(&mut v, u128::from(f.ino));
            put(&mut v, f.chunks.len() as u128);
            for c in &f.chunks {
                v.extend_from_slice(&c.id.0);
                put(&mut v, u128::from(c.len));
            }
        }
        v
    }

    /// A record from its bytes; `None` unless they are exactly one canonical record (known
    /// version, names non-empty and strictly ascending, nothing after the last file).
    pub fn decode(bytes: &[u8]) -> Option<CachedDir> {
        let (&version, mut rest) = bytes.split_first()?;
        let tree = match version {
            RECORD_VERSION => None,
            RECORD_VERSION_TREE => {
                let (id, tail) = rest.split_first_chunk::<32>()?;
                rest = tail;
                Some(ChunkId(*id))
            }
            _ => return None,
        };
        let count = take_u32(&mut rest)? as usize;
        let mut files: Vec<(Vec<u8>, CachedFile)> = Vec::with_capacity(count.min(rest.len()));
        for _ in 0..count {
            let name = take_bytes(&mut rest)?;
            if name.is_empty() || files.last().is_some_and(|(p, _)| p.as_slice() >= name) {
                return None;
            }
            files.push((name.to_vec(), take_file(&mut rest)?));
        }
        rest.is_empty().then_some(CachedDir { files, tree })
    }
}

fn take_file(rest: &mut &[u8]) -> Option<CachedFile> {
    let size = u64::try_from(take(rest, 64)?).ok()?;
    let mtime = unzigzag(take(rest, 128)?);
    let ctime = mtime.wrapping_add(unzigzag(take(rest, 128)?));
    let ino = u64::try_from(take(rest, 64)?).ok()?;
    let n = take_u32(rest)? as usize;
    let mut chunks = Vec::with_capacity(n.min(rest.len() / 33));
    for _ in 0..n {
        let (id, tail) = rest.split_first_chunk::<32>()?;
        *rest = tail;
        chunks.push(ChunkRef {
            id: ChunkId(*id),
            len: take_u32(rest)?,
        });
    }
    Some(CachedFile {
        size,
        mtime,
        ctime,
        ino,
        chunks,
    })
}

fn zigzag(n: i128) -> u128 {
    ((n << 1) ^ (n >> 127)) as u128
}

fn unzigzag(n: u128) -> i128 {
    ((n >> 1) as i128) ^ -((n & 1) as i128)
}

/// A LEB128 varint.
fn put(v: &mut Vec<u8>, mut n: u128) {
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
}

/// A LEB128 varint of at most `bits` bits: no bits beyond them, no redundant trailing zero byte.
fn take(rest: &mut &[u8], bits: u32) -> Option<u128> {
    let mut n: u128 = 0;
    for i in 0..bits.div_ceil(7) {
        let (&b, tail) = rest.split_first()?;
        *rest = tail;
        let part = u128::from(b & 0x7f);
        let shift = 7 * i;
        if shift + 7 > bits && part >> (bits - shift) != 0 {
            return None;
        }
        n |= part << shift;
        if b & 0x80 == 0 {
            return (i == 0 || b != 0).then_some(n);
        }
    }
    None
}

fn take_u32(rest: &mut &[u8]) -> Option<u32> {
    u32::try_from(take(rest, 32)?).ok()
}

fn take_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = take_u32(rest)? as usize;
    if n > rest.len() {
        return None;
    }
    let (b, tail) = rest.split_at(n);
    *rest = tail;
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CachedDir {
        let mut d = CachedDir::default();
        let f = |size, mtime, ctime, ino, n: u8| CachedFile {
            size,
            mtime,
            ctime,
            ino,
            chunks: (0..n)
                .map(|i| ChunkRef {
                    id: ChunkId([i; 32]),
                    len: u32::MAX - u32::from(i),
                })
                .collect(),
        };
        d.push(b"z", f(0, 0, 0, 0, 0));
        d.push(
            b"a.txt",
            f(
                5,
                1_700_000_000_123_456_789,
                1_700_000_001_000_000_000,
                77,
                2,
            ),
        );
        d.push(b"\xff odd", f(u64::MAX, i128::MIN, i128::MAX, u64::MAX, 1));
        d.push(b"m", f(1, -5, i128::MIN, 1, 3));
        d.sort();
        d
    }

    #[test]
    fn round_trips_and_is_compact() {
        let d = sample();
        assert_eq!(CachedDir::decode(&d.encode()), Some(d.clone()));
        assert_eq!(
            CachedDir::decode(&CachedDir::default().encode()),
            Some(CachedDir::default())
        );
        // a typical small file of one chunk: name, 3 + 9 + 1 + 4 bytes of numbers, 1 + 33 + 3
        let mut one = CachedDir::default();
        one.push(b"main.rs", sample().files[0].1.clone());
        one.files[0].1.chunks.truncate(1);
        one.files[0].1.chunks[0].len = 9000;
        one.files[0].1.size = 9000;
        assert!(
            one.encode().len() <= 2 + 8 + 3 + 9 + 5 + 1 + 1 + 32 + 2,
            "{}",
            one.encode().len()
        );
    }

    /// A record with its directory's tree id (version 2) round-trips, is 32 bytes longer than
    /// the same record without (version 1, still read), and rejects a cut id.
    #[test]
    fn a_record_with_its_tree_id_round_trips() {
        let mut d = sample();
        let v1 = d.encode();
        d.tree = Some(ChunkId([9; 32]));
        let v2 = d.encode();
        assert_eq!((v1[0], v2[0]), (1, 2));
        assert_eq!(v2.len(), v1.len() + 32);
        assert_eq!(CachedDir::decode(&v2), Some(d.clone()));
        assert_eq!(CachedDir::decode(&v1).unwrap().tree, None);
        for cut in 1..34 {
            assert_eq!(CachedDir::decode(&v2[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn anything_but_a_canonical_record_is_rejected() {
        let good = sample().encode();
        for cut in 0..good.len() {
            assert_eq!(CachedDir::decode(&good[..cut]), None, "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(CachedDir::decode(&long), None, "trailing byte");
        let mut v3 = good.clone();
        v3[0] = 3;
        assert_eq!(CachedDir::decode(&v3), None, "unknown version");
        let mut unsorted = CachedDir::default();
        unsorted.push(b"b", sample().files[0].1.clone());
        unsorted.push(b"a", sample().files[0].1.clone());
        assert_eq!(
            CachedDir::decode(&unsorted.encode()),
            None,
            "names out of order"
        );
        let mut dup = CachedDir::default();
        dup.push(b"a", sample().files[0].1.clone());
        dup.push(b"a", sample().files[0].1.clone());
        assert_eq!(CachedDir::decode(&dup.encode()), None, "a name twice");
        // a varint with a redundant zero byte, and a count far beyond the bytes present
        assert_eq!(CachedDir::decode(&[1, 0x80, 0x00]), None);
        assert_eq!(CachedDir::decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]), None);
        // a size beyond 64 bits
        let mut big = vec![1, 1, 1, b'a'];
        big.extend_from_slice(&[0xff; 9]);
        big.push(0x03);
        assert_eq!(CachedDir::decode(&big), None);
    }
}

//! The byte encoding of a directory's files cache record ([`CachedDir`]), FORMAT.md section 10:
//! a version byte, then each file in name order with its numbers as LEB128 varints.
//! The writer writes version 3, which codes each file against the one before it in the record
//! (the name's shared prefix, the times' and inode's differences) and leaves the last chunk's
//! length to the size; versions 1 and 2 are still read. The decoder takes only the canonical
//! encoding of its version and never panics on other input.

use super::files::{CachedDir, CachedFile};
use crate::format::tree::ChunkRef;
use crate::id::ChunkId;

/// The first record encoding's version (its first byte): no tree id, every number whole.
const RECORD_VERSION: u8 = 1;

/// The version of a record that holds its directory's tree id (after the version byte).
const RECORD_VERSION_TREE: u8 = 2;

/// The version written: each file coded against the previous one (FORMAT.md section 10).
const RECORD_VERSION_DELTA: u8 = 3;

/// Nanoseconds in a second: a version 3 mtime difference that is a whole number of seconds (as
/// between the mtimes of files extracted from an archive) is stored in seconds.
const NS_PER_S: i128 = 1_000_000_000;

impl CachedDir {
    /// The record's bytes, version 3 (files in the order held: [`CachedDir::sort`] them first).
    /// A file whose chunk lengths are not all positive and summing to its size is left out (no
    /// read ever makes one; it would be read again).
    pub fn encode(&self) -> Vec<u8> {
        let files: Vec<_> = self.files.iter().filter(|(_, f)| consistent(f)).collect();
        let mut v = Vec::with_capacity(48 + 64 * files.len());
        v.push(RECORD_VERSION_DELTA);
        put(
            &mut v,
            (files.len() as u128) << 1 | u128::from(self.tree.is_some()),
        );
        if let Some(t) = &self.tree {
            v.extend_from_slice(&t.0);
        }
        let (mut name0, mut mtime0, mut ino0): (&[u8], i128, u64) = (&[], 0, 0);
        let mut ctime0 = None;
        for (name, f) in files {
            let shared = name0.iter().zip(name).take_while(|(a, b)| a == b).count();
            put(&mut v, shared as u128);
            put(&mut v, (name.len() - shared) as u128);
            v.extend_from_slice(&name[shared..]);
            put(&mut v, u128::from(f.size));
            let dm = f.mtime.wrapping_sub(mtime0);
            let whole = dm % NS_PER_S == 0;
            put(&mut v, (f.chunks.len() as u128) << 1 | u128::from(whole));
            put(&mut v, zigzag(if whole { dm / NS_PER_S } else { dm }));
            put(
                &mut v,
                zigzag(f.ctime.wrapping_sub(ctime0.unwrap_or(f.mtime))),
            );
            put(&mut v, zigzag(i128::from(f.ino.wrapping_sub(ino0) as i64)));
            if let Some((last, rest)) = f.chunks.split_last() {
                for c in rest {
                    v.extend_from_slice(&c.id.0);
                    put(&mut v, u128::from(c.len));
                }
                v.extend_from_slice(&last.id.0);
            }
            (name0, mtime0, ino0) = (name, f.mtime, f.ino);
            ctime0 = Some(f.ctime);
        }
        v
    }

    /// The record in version 2 (version 1 without a tree id), as cairn wrote it before version
    /// 3: for the tests and the fuzz target's check that old records still decode exactly.
    #[doc(hidden)]
    pub fn encode_v2(&self) -> Vec<u8> {
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
    /// version, names non-empty and strictly ascending, each file's chunk lengths positive and
    /// summing to its size, nothing after the last file).
    pub fn decode(bytes: &[u8]) -> Option<CachedDir> {
        let (&version, mut rest) = bytes.split_first()?;
        match version {
            RECORD_VERSION | RECORD_VERSION_TREE => decode_v2(version, rest),
            RECORD_VERSION_DELTA => {
                let head = take(&mut rest, 33)?;
                let count = (head >> 1) as usize;
                let tree = if head & 1 == 1 {
                    let (id, tail) = rest.split_first_chunk::<32>()?;
                    rest = tail;
                    Some(ChunkId(*id))
                } else {
                    None
                };
                let mut files: Vec<(Vec<u8>, CachedFile)> =
                    Vec::with_capacity(count.min(rest.len() / 6));
                for _ in 0..count {
                    let prev = files.last().map(|(n, f)| (n.as_slice(), f));
                    let name = take_name(&mut rest, prev.map_or(&[], |p| p.0))?;
                    let file = take_file_v3(&mut rest, prev.map(|p| p.1))?;
                    files.push((name, file));
                }
                rest.is_empty().then_some(CachedDir { files, tree })
            }
            _ => None,
        }
    }
}

/// Whether a file's chunks can stand in for its content: all of positive length, summing to its
/// size (so none for an empty file). Version 3 records only such files; every decoder checks it.
fn consistent(f: &CachedFile) -> bool {
    f.chunks.iter().all(|c| c.len > 0)
        && f.chunks.iter().map(|c| u128::from(c.len)).sum::<u128>() == u128::from(f.size)
}

/// A version 3 name: the length of the prefix it shares with `prev` (the longest, so the next
/// byte differs), then the rest (never empty). Only a name that sorts after `prev` is taken.
fn take_name(rest: &mut &[u8], prev: &[u8]) -> Option<Vec<u8>> {
    let shared = take_u32(rest)? as usize;
    let tail = take_bytes(rest)?;
    let (&first, _) = tail.split_first()?;
    // the shared prefix is the longest: the first byte after it is past the previous name's end,
    // or greater than the previous name's byte there (equal would be a longer prefix, smaller a
    // name out of order)
    if shared > prev.len() || prev.get(shared).is_some_and(|&p| first <= p) {
        return None;
    }
    let mut name = Vec::with_capacity(shared + tail.len());
    name.extend_from_slice(&prev[..shared]);
    name.extend_from_slice(tail);
    Some(name)
}

/// A version 3 file after its name, coded against the previous file of the record (`prev`).
fn take_file_v3(rest: &mut &[u8], prev: Option<&CachedFile>) -> Option<CachedFile> {
    let size = u64::try_from(take(rest, 64)?).ok()?;
    let shape = take(rest, 33)?;
    let (n, whole) = ((shape >> 1) as usize, shape & 1 == 1);
    let dm = unzigzag(take(rest, 128)?);
    let dm = if whole {
        dm.checked_mul(NS_PER_S)?
    } else if dm % NS_PER_S == 0 {
        return None;
    } else {
        dm
    };
    let mtime = prev.map_or(0, |p| p.mtime).wrapping_add(dm);
    let ctime = prev
        .map_or(mtime, |p| p.ctime)
        .wrapping_add(unzigzag(take(rest, 128)?));
    let dino = i64::try_from(unzigzag(take(rest, 64)?)).ok()?;
    let ino = prev.map_or(0, |p| p.ino).wrapping_add(dino as u64);
    let chunks = take_chunks(rest, n, size, true)?;
    Some(CachedFile {
        size,
        mtime,
        ctime,
        ino,
        chunks,
    })
}

/// A version 1 or 2 record after its version byte.
fn decode_v2(version: u8, mut rest: &[u8]) -> Option<CachedDir> {
    let tree = if version == RECORD_VERSION_TREE {
        let (id, tail) = rest.split_first_chunk::<32>()?;
        rest = tail;
        Some(ChunkId(*id))
    } else {
        None
    };
    let count = take_u32(&mut rest)? as usize;
    let mut files: Vec<(Vec<u8>, CachedFile)> = Vec::with_capacity(count.min(rest.len()));
    for _ in 0..count {
        let name = take_bytes(&mut rest)?;
        if name.is_empty() || files.last().is_some_and(|(p, _)| p.as_slice() >= name) {
            return None;
        }
        let file = take_file_v2(&mut rest)?;
        files.push((name.to_vec(), file));
    }
    rest.is_empty().then_some(CachedDir { files, tree })
}

/// A version 1 or 2 file after its name: every number whole.
fn take_file_v2(rest: &mut &[u8]) -> Option<CachedFile> {
    let size = u64::try_from(take(rest, 64)?).ok()?;
    let mtime = unzigzag(take(rest, 128)?);
    let ctime = mtime.wrapping_add(unzigzag(take(rest, 128)?));
    let ino = u64::try_from(take(rest, 64)?).ok()?;
    let n = take_u32(rest)? as usize;
    let chunks = take_chunks(rest, n, size, false)?;
    Some(CachedFile {
        size,
        mtime,
        ctime,
        ino,
        chunks,
    })
}

/// `n` chunk references, each a chunk id (32) and its length, but the last without its length
/// when `last_implied` (version 3: it is what `size` leaves). Every length is at least 1 and
/// together they are exactly `size`, in every version.
fn take_chunks(rest: &mut &[u8], n: usize, size: u64, last_implied: bool) -> Option<Vec<ChunkRef>> {
    let mut chunks = Vec::with_capacity(n.min(rest.len() / 32));
    let mut left = size;
    for i in 0..n {
        let (id, tail) = rest.split_first_chunk::<32>()?;
        *rest = tail;
        let len = if last_implied && i + 1 == n {
            u32::try_from(left).ok()?
        } else {
            take_u32(rest)?
        };
        left = left.checked_sub(u64::from(len)).filter(|_| len > 0)?;
        chunks.push(ChunkRef {
            id: ChunkId(*id),
            len,
        });
    }
    (left == 0).then_some(chunks)
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

    fn file(size_from: &[u32], mtime: i128, ctime: i128, ino: u64) -> CachedFile {
        CachedFile {
            size: size_from.iter().map(|&l| u64::from(l)).sum(),
            mtime,
            ctime,
            ino,
            chunks: size_from
                .iter()
                .enumerate()
                .map(|(i, &len)| ChunkRef {
                    id: ChunkId([i as u8; 32]),
                    len,
                })
                .collect(),
        }
    }

    /// Files at the edges: no chunks, the widest lengths, times and inodes, odd names.
    fn sample() -> CachedDir {
        let mut d = CachedDir::default();
        d.push(b"z", file(&[], 0, 0, 0));
        d.push(
            b"a.txt",
            file(
                &[3, 2],
                1_700_000_000_123_456_789,
                1_700_000_001_000_000_000,
                77,
            ),
        );
        d.push(b"a.txt~", file(&[1], 1_700_000_000_000_000_000, 5, 76));
        d.push(
            b"\xff odd",
            file(&[u32::MAX, u32::MAX], i128::MIN, i128::MAX, u64::MAX),
        );
        d.push(b"m", file(&[1, u32::MAX, 7], -5, i128::MIN, 1));
        d.push(b"ma", file(&[9], i128::MAX, -1, 0));
        d.sort();
        d.tree = Some(ChunkId([9; 32]));
        d
    }

    /// A file as [`raw`] writes it: shared, rest of name, (size, shape, mtime, ctime, ino)
    /// varints, chunks as id byte and length, if any.
    type RawFile<'a> = (u128, &'a [u8], [u128; 5], &'a [(u8, Option<u128>)]);

    /// A version 3 record's bytes from its fields, as written, for records the writer would not
    /// write: head, then the files.
    fn raw(head: u128, files: &[RawFile]) -> Vec<u8> {
        let mut v = vec![RECORD_VERSION_DELTA];
        put(&mut v, head);
        for (shared, tail, nums, chunks) in files {
            put(&mut v, *shared);
            put(&mut v, tail.len() as u128);
            v.extend_from_slice(tail);
            for n in nums {
                put(&mut v, *n);
            }
            for (id, len) in *chunks {
                v.extend_from_slice(&[*id; 32]);
                if let Some(l) = len {
                    put(&mut v, *l);
                }
            }
        }
        v
    }

    #[test]
    fn round_trips_and_is_compact() {
        let d = sample();
        let bytes = d.encode();
        assert_eq!(bytes[0], 3);
        assert_eq!(CachedDir::decode(&bytes), Some(d.clone()));
        let mut no_tree = d.clone();
        no_tree.tree = None;
        assert_eq!(no_tree.encode().len(), bytes.len() - 32);
        assert_eq!(CachedDir::decode(&no_tree.encode()), Some(no_tree));
        for empty in [CachedDir::default().encode(), vec![3, 0]] {
            assert_eq!(CachedDir::decode(&empty), Some(CachedDir::default()));
        }
        // three source files of one chunk each, extracted from one archive and copied: times
        // in whole seconds apart, ctimes microseconds apart, inodes in sequence
        let mut d = CachedDir::default();
        for (i, name) in [&b"main.rs"[..], b"mod.rs", b"model.rs"].iter().enumerate() {
            let i = i as i128;
            d.push(
                name,
                file(
                    &[9000 + i as u32],
                    1_700_000_000_000_000_000 + 3600 * NS_PER_S * i,
                    1_764_000_000_123_456_789 + 81_234 * i,
                    11_452_754 + i as u64,
                ),
            );
        }
        d.sort();
        d.tree = Some(ChunkId([1; 32]));
        let (v2, v3) = (d.encode_v2(), d.encode());
        assert_eq!(CachedDir::decode(&v3), Some(d));
        // version, head and tree 34; the first file: name 2 + 7, size 2, shape 1, mtime 5 (in
        // seconds), ctime 9 (after the mtime), ino 4, chunk id 32; the others: name 2 + 5 ("m" ‖
        // "od.rs", "mod" ‖ "el.rs"), size 2, shape 1, mtime 2, ctime 3, ino 1, chunk id 32
        assert_eq!(v3.len(), 34 + 62 + 2 * 48, "{}", v3.len());
        assert_eq!(v2.len(), 34 + 3 * 67, "{}", v2.len());
    }

    /// Records written before version 3 still decode, to what they held.
    #[test]
    fn versions_1_and_2_still_decode() {
        let mut d = sample();
        let v2 = d.encode_v2();
        assert_eq!(v2[0], 2);
        assert_eq!(CachedDir::decode(&v2), Some(d.clone()));
        d.tree = None;
        let v1 = d.encode_v2();
        assert_eq!((v1[0], v1.len()), (1, v2.len() - 32));
        assert_eq!(CachedDir::decode(&v1), Some(d.clone()));
        for cut in 0..v2.len() {
            assert_eq!(CachedDir::decode(&v2[..cut]), None, "cut at {cut}");
        }
        // a file whose chunk lengths do not add up to its size is no record in any version
        d.files[1].1.size += 1;
        assert_eq!(CachedDir::decode(&d.encode_v2()), None);
    }

    /// The writer leaves out a file its chunks cannot stand in for; the rest round-trips.
    #[test]
    fn a_file_whose_chunks_miss_its_size_is_left_out() {
        let mut bad = sample();
        bad.push(b"zz", file(&[5], 1, 1, 1));
        bad.files.last_mut().unwrap().1.size = 6;
        bad.push(b"zzz", file(&[0], 1, 1, 1));
        assert_eq!(bad.encode(), sample().encode());
        assert_eq!(CachedDir::decode(&bad.encode()), Some(sample()));
    }

    #[test]
    fn anything_but_a_canonical_record_is_rejected() {
        let good = sample().encode();
        for cut in 0..good.len() {
            assert_eq!(CachedDir::decode(&good[..cut]), None, "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(CachedDir::decode(&long), None, "a byte after the end");
        let mut v4 = good.clone();
        v4[0] = 4;
        assert_eq!(CachedDir::decode(&v4), None, "unknown version");

        // one file "ab" of one chunk of 5 bytes, mtime 1 s, ctime = mtime, inode 1 (zigzag 2)
        let one =
            |nums: [u128; 5], chunks: &[(u8, Option<u128>)]| raw(2, &[(0, b"ab", nums, chunks)]);
        let ok = one([5, 3, 2, 0, 2], &[(7, None)]);
        assert_eq!(CachedDir::decode(&ok).unwrap().encode(), ok);
        let bad: [(&str, Vec<u8>); 11] = [
            ("a redundant zero byte", {
                let mut v = vec![3, 0x82, 0x00];
                v.extend_from_slice(&ok[2..]);
                v
            }),
            (
                "a count beyond the bytes",
                vec![3, 0xfe, 0xff, 0xff, 0xff, 0x1f],
            ),
            (
                "a whole-seconds mtime in ns",
                one([5, 2, 2 * 1_000_000_000, 0, 2], &[(7, None)]),
            ),
            (
                "a whole-seconds mtime too wide",
                one([5, 3, u128::MAX, 0, 2], &[(7, None)]),
            ),
            (
                "the last length given",
                one([5, 3, 2, 0, 2], &[(7, Some(5))]),
            ),
            (
                "the last length implied 0",
                one([5, 5, 2, 0, 2], &[(7, Some(5)), (8, None)]),
            ),
            (
                "lengths beyond the size",
                one([5, 5, 2, 0, 2], &[(7, Some(6)), (8, None)]),
            ),
            (
                "an explicit length of 0",
                one([5, 5, 2, 0, 2], &[(7, Some(0)), (8, None)]),
            ),
            (
                "a last length beyond 32 bits",
                one([1 << 32, 3, 2, 0, 2], &[(7, None)]),
            ),
            (
                "an empty file with a chunk",
                one([0, 3, 2, 0, 2], &[(7, None)]),
            ),
            ("a file without chunks", one([5, 1, 2, 0, 2], &[])),
        ];
        for (what, bytes) in bad {
            assert_eq!(CachedDir::decode(&bytes), None, "{what}");
        }

        // names front-coded against the previous one: "ab", then each of these
        let two = |shared: u128, tail: &[u8]| {
            raw(
                4,
                &[
                    (0, b"ab", [5, 3, 2, 0, 2], &[(7, None)]),
                    (shared, tail, [5, 3, 0, 0, 2], &[(7, None)]),
                ],
            )
        };
        assert_eq!(
            CachedDir::decode(&two(1, b"c")).unwrap().files[1].0,
            b"ac".to_vec()
        );
        assert_eq!(
            CachedDir::decode(&two(2, b"c")).unwrap().files[1].0,
            b"abc".to_vec()
        );
        for (what, shared, tail) in [
            ("a shorter shared prefix than there is", 0, &b"ac"[..]),
            ("a name before the previous", 1, b"a"),
            ("the same name again", 1, b"b"),
            ("a name that is a prefix of the previous", 1, b""),
            ("a shared prefix beyond the previous name", 3, b"c"),
            ("an empty first name", 0, b""),
        ] {
            let bytes = if what == "an empty first name" {
                raw(2, &[(0, tail, [5, 3, 2, 0, 2], &[(7, None)])])
            } else {
                two(shared, tail)
            };
            assert_eq!(CachedDir::decode(&bytes), None, "{what}");
        }
    }
}

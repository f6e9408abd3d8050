//! The byte layout of the sorted block files under `REPO/local` (FORMAT.md sections 10.1 and
//! 10.2): a header, blocks of records sorted by key, and a sparse index of the blocks. One layout,
//! two files, told apart by their key type ([`FileKey`]): the files cache `files-cache` (records
//! by [`DirKey`]) and the chunk index's base `chunks` (records by [`ChunkId`]). Pure encoding and
//! decoding, no I/O ([`super::blockfile`] reads and writes the files). The decoders take only
//! well-formed input and never panic on any other.

use super::files::{CachedDir, DirKey};
use crate::id::ChunkId;
use std::marker::PhantomData;

/// Bytes of the header.
pub const HEADER_LEN: usize = 64;
/// A block is closed once it holds at least this many bytes (a lookup reads one block).
pub const BLOCK_TARGET: usize = 4 << 10;
/// Bytes of a truncated blake3 check.
const CHECK: usize = 16;

/// The key of a sorted block file, and through it the file's magic and version.
pub trait FileKey: Copy + Ord + std::fmt::Debug {
    /// Bytes of a key.
    const LEN: usize;
    /// The file's first bytes.
    const MAGIC: &'static [u8; 8];
    /// The file's layout version.
    const VERSION: u32;
    /// The key's bytes (`LEN` of them; byte order is key order).
    fn bytes(&self) -> &[u8];
    /// A key from exactly `LEN` bytes.
    fn from_bytes(b: &[u8]) -> Option<Self>;
}

impl FileKey for DirKey {
    const LEN: usize = 16;
    const MAGIC: &'static [u8; 8] = b"cairn-fc";
    const VERSION: u32 = 1;
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn from_bytes(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(DirKey)
    }
}

impl FileKey for ChunkId {
    const LEN: usize = 32;
    const MAGIC: &'static [u8; 8] = b"cairn-ci";
    const VERSION: u32 = 1;
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn from_bytes(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(ChunkId)
    }
}

/// Bytes of one sparse index entry of a file keyed by `K`.
pub const fn mark_len<K: FileKey>() -> usize {
    K::LEN + 28
}

/// What makes the chunk ids of a files cache trustworthy: the index instance they were all
/// indexed in, and that index's count of removals when the cache was written. (The chunk index's
/// base file carries the same pair: the instance it belongs to, the removals when it was merged.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    /// The random id of the chunk index instance (new whenever the index is created or rebuilt).
    pub instance: [u8; 16],
    /// How many times chunks left that index.
    pub removals: u64,
}

/// The header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<K> {
    /// The index state the records were written in.
    pub stamp: Stamp,
    /// Where the sparse index starts (the end of the last block).
    pub index_at: u64,
    /// Number of blocks (and of sparse index entries).
    pub blocks: u32,
    /// blake3 of the header's first 48 bytes and the sparse index, truncated.
    pub check: [u8; CHECK],
    key: PhantomData<K>,
}

/// One sparse index entry: a block's first key, place and check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark<K> {
    /// The key of the block's first record.
    pub first: K,
    /// Offset of the block in the file.
    pub at: u64,
    /// Its length.
    pub len: u32,
    /// blake3 of its bytes, truncated.
    pub check: [u8; CHECK],
}

/// A truncated blake3 of `parts`.
pub fn check_of(parts: &[&[u8]]) -> [u8; CHECK] {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p);
    }
    let mut c = [0u8; CHECK];
    c.copy_from_slice(&h.finalize().as_bytes()[..CHECK]);
    c
}

impl<K: FileKey> Header<K> {
    /// The header's first 48 bytes (all but the check).
    pub fn fields(&self) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[..8].copy_from_slice(K::MAGIC);
        b[8..12].copy_from_slice(&K::VERSION.to_le_bytes());
        b[12..28].copy_from_slice(&self.stamp.instance);
        b[28..36].copy_from_slice(&self.stamp.removals.to_le_bytes());
        b[36..44].copy_from_slice(&self.index_at.to_le_bytes());
        b[44..48].copy_from_slice(&self.blocks.to_le_bytes());
        b
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..48].copy_from_slice(&self.fields());
        b[48..].copy_from_slice(&self.check);
        b
    }

    /// A header from its bytes: `None` unless the magic and version are this layout's and the
    /// sparse index starts after the header. (The check is verified with the sparse index,
    /// [`marks`].)
    pub fn decode(b: &[u8]) -> Option<Header<K>> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        if &b[..8] != K::MAGIC || u32::from_le_bytes(b[8..12].try_into().ok()?) != K::VERSION {
            return None;
        }
        let h = Header {
            stamp: Stamp {
                instance: b[12..28].try_into().ok()?,
                removals: u64::from_le_bytes(b[28..36].try_into().ok()?),
            },
            index_at: u64::from_le_bytes(b[36..44].try_into().ok()?),
            blocks: u32::from_le_bytes(b[44..48].try_into().ok()?),
            check: b[48..].try_into().ok()?,
            key: PhantomData,
        };
        (h.index_at >= HEADER_LEN as u64).then_some(h)
    }

    /// The length of a file with this header.
    pub fn file_len(&self) -> Option<u64> {
        self.index_at
            .checked_add(u64::from(self.blocks).checked_mul(mark_len::<K>() as u64)?)
    }
}

impl<K: FileKey> Mark<K> {
    /// The entry's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(mark_len::<K>());
        b.extend_from_slice(self.first.bytes());
        b.extend_from_slice(&self.at.to_le_bytes());
        b.extend_from_slice(&self.len.to_le_bytes());
        b.extend_from_slice(&self.check);
        b
    }

    fn decode(b: &[u8]) -> Option<Mark<K>> {
        let n = K::LEN;
        Some(Mark {
            first: K::from_bytes(b.get(..n)?)?,
            at: u64::from_le_bytes(b.get(n..n + 8)?.try_into().ok()?),
            len: u32::from_le_bytes(b.get(n + 8..n + 12)?.try_into().ok()?),
            check: b.get(n + 12..n + 28)?.try_into().ok()?,
        })
    }
}

/// The sparse index `b` of a file with header `h`: `None` unless it matches the header's check,
/// holds `h.blocks` entries whose first keys strictly ascend, and its blocks are non-empty and
/// follow each other from the header's end to the sparse index.
pub fn marks<K: FileKey>(h: &Header<K>, b: &[u8]) -> Option<Vec<Mark<K>>> {
    if b.len() as u64 != u64::from(h.blocks).checked_mul(mark_len::<K>() as u64)? {
        return None;
    }
    if check_of(&[&h.fields(), b]) != h.check {
        return None;
    }
    let mut out: Vec<Mark<K>> = Vec::with_capacity(h.blocks as usize);
    let mut next = HEADER_LEN as u64;
    for e in b.chunks_exact(mark_len::<K>()) {
        let m = Mark::decode(e)?;
        if m.at != next || m.len == 0 || out.last().is_some_and(|p| p.first >= m.first) {
            return None;
        }
        next = next.checked_add(u64::from(m.len))?;
        out.push(m);
    }
    (next == h.index_at).then_some(out)
}

/// The index of the block that would hold `key`, if any.
pub fn block_of<K: FileKey>(marks: &[Mark<K>], key: &K) -> Option<usize> {
    marks.partition_point(|m| m.first <= *key).checked_sub(1)
}

/// Append one record (`key` ‖ LEB128 length ‖ the record's bytes) to a block.
pub fn put_record<K: FileKey>(block: &mut Vec<u8>, key: &K, record: &[u8]) {
    block.extend_from_slice(key.bytes());
    let mut n = record.len() as u64;
    while n >= 0x80 {
        block.push((n as u8) | 0x80);
        n >>= 7;
    }
    block.push(n as u8);
    block.extend_from_slice(record);
}

/// Lays records out in blocks: [`Builder::push`] each record in ascending key order (a key not
/// above the last one is skipped), write each block it closes, then [`Builder::finish`].
pub struct Builder<K> {
    block: Vec<u8>,
    first: Option<K>,
    last: Option<K>,
    at: u64,
    marks: Vec<u8>,
    records: u64,
}

impl<K> Default for Builder<K> {
    fn default() -> Self {
        Builder {
            block: Vec::new(),
            first: None,
            last: None,
            at: HEADER_LEN as u64,
            marks: Vec::new(),
            records: 0,
        }
    }
}

/// The end of a sorted block file: the last block (if any), the sparse index and the header,
/// which goes at offset 0.
pub struct Tail {
    /// The last block, written after the others.
    pub block: Vec<u8>,
    /// The sparse index, written after it.
    pub marks: Vec<u8>,
    /// The header.
    pub header: [u8; HEADER_LEN],
    /// How many records.
    pub records: u64,
}

impl<K: FileKey> Builder<K> {
    /// Add a record; a block to write next if this closed one. `None` also for a record too
    /// large for a block (over 4 GiB), which is left out.
    pub fn push(&mut self, key: K, record: &[u8]) -> Option<Vec<u8>> {
        if self.last.is_some_and(|l| l >= key) || record.len() > u32::MAX as usize / 2 {
            return None;
        }
        self.last = Some(key);
        self.first.get_or_insert(key);
        put_record(&mut self.block, &key, record);
        self.records += 1;
        (self.block.len() >= BLOCK_TARGET).then(|| self.close())
    }

    fn close(&mut self) -> Vec<u8> {
        let block = std::mem::take(&mut self.block);
        if let Some(first) = self.first.take() {
            let len = block.len() as u32;
            let m = Mark {
                first,
                at: self.at,
                len,
                check: check_of(&[&block]),
            };
            self.marks.extend_from_slice(&m.encode());
            self.at += u64::from(len);
        }
        block
    }

    /// The last block, sparse index and header of a file stamped `stamp`.
    pub fn finish(mut self, stamp: Stamp) -> Tail {
        let block = self.close();
        let mut h = Header::<K> {
            stamp,
            index_at: self.at,
            blocks: (self.marks.len() / mark_len::<K>()) as u32,
            check: [0; CHECK],
            key: PhantomData,
        };
        h.check = check_of(&[&h.fields(), &self.marks]);
        Tail {
            block,
            marks: self.marks,
            header: h.encode(),
            records: self.records,
        }
    }
}

/// A whole file of `records` (ascending keys) in memory (tests, fuzz seeds; a job writes its
/// file block by block).
pub fn encode_raw<K: FileKey, R: AsRef<[u8]>>(stamp: Stamp, records: &[(K, R)]) -> Vec<u8> {
    let mut b = Builder::default();
    let mut out = vec![0u8; HEADER_LEN];
    for (k, r) in records {
        if let Some(block) = b.push(*k, r.as_ref()) {
            out.extend_from_slice(&block);
        }
    }
    let t = b.finish(stamp);
    out.extend_from_slice(&t.block);
    out.extend_from_slice(&t.marks);
    out[..HEADER_LEN].copy_from_slice(&t.header);
    out
}

/// A whole files cache file of `records` (ascending keys) in memory.
pub fn encode_file(stamp: Stamp, records: &[(DirKey, CachedDir)]) -> Vec<u8> {
    let encoded: Vec<(DirKey, Vec<u8>)> = records.iter().map(|(k, d)| (*k, d.encode())).collect();
    encode_raw(stamp, &encoded)
}

/// The records of a block, in order: each `(key, record bytes)`, or `None` for bytes that do
/// not parse (the iteration then ends).
pub fn records<K: FileKey>(block: &[u8]) -> impl Iterator<Item = Option<(K, &[u8])>> {
    let mut rest = block;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let r = take_record(&mut rest);
        if r.is_none() {
            rest = &[];
        }
        Some(r)
    })
}

fn take_record<'a, K: FileKey>(rest: &mut &'a [u8]) -> Option<(K, &'a [u8])> {
    let key = K::from_bytes(rest.get(..K::LEN)?)?;
    let mut n: u64 = 0;
    let mut tail = rest.get(K::LEN..)?;
    for i in 0..5 {
        let (&b, t) = tail.split_first()?;
        tail = t;
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return None;
            }
            let n = usize::try_from(n).ok().filter(|&n| n <= tail.len())?;
            let (record, t) = tail.split_at(n);
            *rest = t;
            return Some((key, record));
        }
    }
    None
}

/// The record bytes of `key` in the block `block` (checked against `mark`): `Ok(None)` if the
/// block holds none, `Err(())` if the block is damaged (its check, order or a record do not hold).
#[allow(clippy::result_unit_err)]
pub fn find<'a, K: FileKey>(
    mark: &Mark<K>,
    block: &'a [u8],
    key: &K,
) -> Result<Option<&'a [u8]>, ()> {
    if check_of(&[block]) != mark.check {
        return Err(());
    }
    find_checked(mark, block, key)
}

/// As [`find`], in a block whose check already held (its order and records are still checked).
#[allow(clippy::result_unit_err)]
pub fn find_checked<'a, K: FileKey>(
    mark: &Mark<K>,
    block: &'a [u8],
    key: &K,
) -> Result<Option<&'a [u8]>, ()> {
    let mut prev: Option<K> = None;
    for r in records::<K>(block) {
        let (k, bytes) = r.ok_or(())?;
        let first_ok = prev.is_some() || k == mark.first;
        if !first_ok || prev.is_some_and(|p| p >= k) {
            return Err(());
        }
        if k == *key {
            return Ok(Some(bytes));
        }
        if k > *key {
            return Ok(None);
        }
        prev = Some(k);
    }
    Ok(None)
}

/// A whole file decoded: its header and its records in key order.
pub type Decoded<K, T> = (Header<K>, Vec<(K, T)>);

/// The header and every record of a whole file held in `bytes`, in key order, each record
/// accepted by `decode`; `None` unless the file is well-formed throughout (header, sparse index,
/// blocks and records, keys ascending). For tests, diagnostics and fuzzing: a job reads one block
/// per lookup, never the whole file.
pub fn decode_with<K: FileKey, T>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Option<T>,
) -> Option<Decoded<K, T>> {
    let h = Header::<K>::decode(bytes)?;
    if h.file_len()? != bytes.len() as u64 {
        return None;
    }
    let marks = marks(&h, bytes.get(usize::try_from(h.index_at).ok()?..)?)?;
    let mut out: Vec<(K, T)> = Vec::new();
    let mut last: Option<K> = None;
    for m in &marks {
        let at = usize::try_from(m.at).ok()?;
        let block = bytes.get(at..at.checked_add(m.len as usize)?)?;
        if check_of(&[block]) != m.check {
            return None;
        }
        for (i, r) in records::<K>(block).enumerate() {
            let (k, rec) = r?;
            if (i == 0 && k != m.first) || last.is_some_and(|p| p >= k) {
                return None;
            }
            last = Some(k);
            out.push((k, decode(rec)?));
        }
    }
    Some((h, out))
}

/// Every record of a whole files cache file held in `bytes` ([`decode_with`]).
pub fn decode_file(bytes: &[u8]) -> Option<Vec<(DirKey, CachedDir)>> {
    decode_with(bytes, CachedDir::decode).map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips_and_an_empty_one_is_valid() {
        let d = |n: u8| {
            let mut d = CachedDir::default();
            d.push(
                &[b'f', n],
                super::super::files::CachedFile {
                    size: 0,
                    mtime: 1,
                    ctime: 2,
                    ino: n.into(),
                    chunks: vec![],
                },
            );
            d
        };
        let recs: Vec<_> = (0..=255u8).map(|i| (DirKey([i; 16]), d(i))).collect();
        let bytes = encode_file(Stamp::default(), &recs);
        assert_eq!(decode_file(&bytes).unwrap(), recs);
        let empty = encode_file(Stamp::default(), &[]);
        assert_eq!(empty.len(), HEADER_LEN);
        assert_eq!(decode_file(&empty).unwrap(), vec![]);
    }

    #[test]
    fn a_record_round_trips_and_a_bad_length_does_not_parse() {
        let mut b = Vec::new();
        put_record(&mut b, &DirKey([1; 16]), &[9; 200]);
        put_record(&mut b, &DirKey([2; 16]), &[]);
        let got: Vec<_> = records::<DirKey>(&b).collect();
        assert_eq!(
            got,
            [
                Some((DirKey([1; 16]), &[9u8; 200][..])),
                Some((DirKey([2; 16]), &[][..]))
            ]
        );
        let mut short = b.clone();
        short.truncate(100);
        assert_eq!(records::<DirKey>(&short).last(), Some(None));
        // a redundant zero byte ending the length is not canonical
        let mut odd = vec![3u8; 16];
        odd.extend_from_slice(&[0x81, 0x00, 7]);
        assert_eq!(records::<DirKey>(&odd).next(), Some(None));
    }
}

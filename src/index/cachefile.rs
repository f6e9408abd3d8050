//! The byte layout of the files cache file `REPO/local/files-cache` (FORMAT.md section 10.1):
//! a header, blocks of directory records sorted by [`DirKey`], and a sparse index of the blocks.
//! Pure encoding and decoding, no I/O ([`super::files`] reads and writes the file). The decoders
//! take only well-formed input and never panic on any other.

use super::files::{CachedDir, DirKey};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"cairn-fc";
/// The layout described in FORMAT.md section 10.1.
pub const FILE_VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 64;
/// Bytes of one sparse index entry.
pub const MARK_LEN: usize = 44;
/// A block is closed once it holds at least this many bytes (a lookup reads one block).
pub const BLOCK_TARGET: usize = 4 << 10;
/// Bytes of a truncated blake3 check.
const CHECK: usize = 16;

/// What makes the chunk ids of a files cache trustworthy: the index instance they were all
/// indexed in, and that index's count of removals when the cache was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    /// The random id of the chunk index instance (new whenever the index is created or rebuilt).
    pub instance: [u8; 16],
    /// How many times chunks left that index.
    pub removals: u64,
}

/// The header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The index state the records' chunk ids were all indexed in.
    pub stamp: Stamp,
    /// Where the sparse index starts (the end of the last block).
    pub index_at: u64,
    /// Number of blocks (and of sparse index entries).
    pub blocks: u32,
    /// blake3 of the header's first 48 bytes and the sparse index, truncated.
    pub check: [u8; CHECK],
}

/// One sparse index entry: a block's first key, place and check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The key of the block's first record.
    pub first: DirKey,
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

impl Header {
    /// The header's first 48 bytes (all but the check).
    pub fn fields(&self) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FILE_VERSION.to_le_bytes());
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
    pub fn decode(b: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        if &b[..8] != MAGIC || u32::from_le_bytes(b[8..12].try_into().ok()?) != FILE_VERSION {
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
        };
        (h.index_at >= HEADER_LEN as u64).then_some(h)
    }

    /// The length of a file with this header.
    pub fn file_len(&self) -> Option<u64> {
        self.index_at
            .checked_add(u64::from(self.blocks).checked_mul(MARK_LEN as u64)?)
    }
}

impl Mark {
    /// The entry's bytes.
    pub fn encode(&self) -> [u8; MARK_LEN] {
        let mut b = [0u8; MARK_LEN];
        b[..16].copy_from_slice(&self.first.0);
        b[16..24].copy_from_slice(&self.at.to_le_bytes());
        b[24..28].copy_from_slice(&self.len.to_le_bytes());
        b[28..].copy_from_slice(&self.check);
        b
    }

    fn decode(b: &[u8]) -> Option<Mark> {
        Some(Mark {
            first: DirKey(b.get(..16)?.try_into().ok()?),
            at: u64::from_le_bytes(b.get(16..24)?.try_into().ok()?),
            len: u32::from_le_bytes(b.get(24..28)?.try_into().ok()?),
            check: b.get(28..MARK_LEN)?.try_into().ok()?,
        })
    }
}

/// The sparse index `b` of a file with header `h`: `None` unless it matches the header's check,
/// holds `h.blocks` entries whose first keys strictly ascend, and its blocks are non-empty and
/// follow each other from the header's end to the sparse index.
pub fn marks(h: &Header, b: &[u8]) -> Option<Vec<Mark>> {
    if b.len() as u64 != u64::from(h.blocks).checked_mul(MARK_LEN as u64)? {
        return None;
    }
    if check_of(&[&h.fields(), b]) != h.check {
        return None;
    }
    let mut out: Vec<Mark> = Vec::with_capacity(h.blocks as usize);
    let mut next = HEADER_LEN as u64;
    for e in b.chunks_exact(MARK_LEN) {
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
pub fn block_of(marks: &[Mark], key: &DirKey) -> Option<usize> {
    marks.partition_point(|m| m.first <= *key).checked_sub(1)
}

/// Append one record (`key` ‖ LEB128 length ‖ the record's bytes) to a block.
pub fn put_record(block: &mut Vec<u8>, key: &DirKey, record: &[u8]) {
    block.extend_from_slice(&key.0);
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
pub struct Builder {
    block: Vec<u8>,
    first: Option<DirKey>,
    last: Option<DirKey>,
    at: u64,
    marks: Vec<u8>,
    records: u64,
}

impl Default for Builder {
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

/// The end of a files cache file: the last block (if any), the sparse index and the header,
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

impl Builder {
    /// Add a record; a block to write next if this closed one. `None` also for a record too
    /// large for a block (over 4 GiB), which is left out.
    pub fn push(&mut self, key: DirKey, record: &[u8]) -> Option<Vec<u8>> {
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
        let mut h = Header {
            stamp,
            index_at: self.at,
            blocks: (self.marks.len() / MARK_LEN) as u32,
            check: [0; CHECK],
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

/// A whole files cache file of `records` (ascending keys) in memory (tests, fuzz seeds; a backup
/// writes its file block by block).
pub fn encode_file(stamp: Stamp, records: &[(DirKey, CachedDir)]) -> Vec<u8> {
    let mut b = Builder::default();
    let mut out = vec![0u8; HEADER_LEN];
    for (k, d) in records {
        if let Some(block) = b.push(*k, &d.encode()) {
            out.extend_from_slice(&block);
        }
    }
    let t = b.finish(stamp);
    out.extend_from_slice(&t.block);
    out.extend_from_slice(&t.marks);
    out[..HEADER_LEN].copy_from_slice(&t.header);
    out
}

/// The records of a block, in order: each `(key, record bytes)`, or `None` for bytes that do
/// not parse (the iteration then ends).
pub fn records(block: &[u8]) -> impl Iterator<Item = Option<(DirKey, &[u8])>> {
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

fn take_record<'a>(rest: &mut &'a [u8]) -> Option<(DirKey, &'a [u8])> {
    let (key, tail) = rest.split_first_chunk::<16>()?;
    let mut n: u64 = 0;
    let mut tail = tail;
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
            return Some((DirKey(*key), record));
        }
    }
    None
}

/// The record of `key` in the block `block` (checked against `mark`): `Ok(None)` if the block
/// holds none, `Err(())` if the block is damaged (its check, order or a record do not hold).
#[allow(clippy::result_unit_err)]
pub fn find(mark: &Mark, block: &[u8], key: &DirKey) -> Result<Option<CachedDir>, ()> {
    if check_of(&[block]) != mark.check {
        return Err(());
    }
    let mut prev: Option<DirKey> = None;
    for r in records(block) {
        let (k, bytes) = r.ok_or(())?;
        let first_ok = prev.is_some() || k == mark.first;
        if !first_ok || prev.is_some_and(|p| p >= k) {
            return Err(());
        }
        if k == *key {
            return CachedDir::decode(bytes).map(Some).ok_or(());
        }
        if k > *key {
            return Ok(None);
        }
        prev = Some(k);
    }
    Ok(None)
}

/// Every record of a whole files cache file held in `bytes`, in key order; `None` unless the
/// file is well-formed throughout (header, sparse index, blocks and records, keys ascending).
/// For tests, diagnostics and fuzzing: a backup reads one block per lookup, never the whole file.
pub fn decode_file(bytes: &[u8]) -> Option<Vec<(DirKey, CachedDir)>> {
    let h = Header::decode(bytes)?;
    if h.file_len()? != bytes.len() as u64 {
        return None;
    }
    let marks = marks(&h, bytes.get(usize::try_from(h.index_at).ok()?..)?)?;
    let mut out: Vec<(DirKey, CachedDir)> = Vec::new();
    for m in &marks {
        let at = usize::try_from(m.at).ok()?;
        let block = bytes.get(at..at.checked_add(m.len as usize)?)?;
        if check_of(&[block]) != m.check {
            return None;
        }
        for (i, r) in records(block).enumerate() {
            let (k, rec) = r?;
            if (i == 0 && k != m.first) || out.last().is_some_and(|(p, _)| *p >= k) {
                return None;
            }
            out.push((k, CachedDir::decode(rec)?));
        }
    }
    Some(out)
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
                    size: n.into(),
                    mtime: 1,
                    ctime: 2,
                    ino: 3,
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
        let got: Vec<_> = records(&b).collect();
        assert_eq!(
            got,
            [
                Some((DirKey([1; 16]), &[9u8; 200][..])),
                Some((DirKey([2; 16]), &[][..]))
            ]
        );
        let mut short = b.clone();
        short.truncate(100);
        assert_eq!(records(&short).last(), Some(None));
        // a redundant zero byte ending the length is not canonical
        let mut odd = vec![3u8; 16];
        odd.extend_from_slice(&[0x81, 0x00, 7]);
        assert_eq!(records(&odd).next(), Some(None));
    }
}

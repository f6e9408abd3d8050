//! Reading and writing the sorted block files of [`cachefile`] (the files cache, the chunk
//! index's base): open one by its header and sparse index, look a key up with one positioned
//! read of one block, read its blocks in order, write a new one and put it in place.

use super::cachefile::{self, FileKey, Header, Mark, Stamp, HEADER_LEN};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A sorted block file open for lookups: its header and sparse index in memory.
pub(super) struct BlockFile<K> {
    file: File,
    header: Header<K>,
    marks: Vec<Mark<K>>,
    /// The whole file, every block checked, when it is held in memory ([`BlockFile::held`]).
    whole: Option<Vec<u8>>,
}

impl<K: FileKey> BlockFile<K> {
    /// The file `file`, if its header and sparse index are well-formed and it has their length.
    pub fn open(file: File) -> Option<Self> {
        let mut h = [0u8; HEADER_LEN];
        file.read_exact_at(&mut h, 0).ok()?;
        let header = Header::<K>::decode(&h)?;
        if file.metadata().ok()?.len() != header.file_len()? {
            return None;
        }
        let mut index = vec![0u8; usize::try_from(header.file_len()? - header.index_at).ok()?];
        file.read_exact_at(&mut index, header.index_at).ok()?;
        let marks = cachefile::marks(&header, &index)?;
        Some(BlockFile {
            file,
            header,
            marks,
            whole: None,
        })
    }

    /// The same, read whole into memory with one read if it is at most `most` bytes and every
    /// block's check holds: its lookups then read no block from the file and check none again.
    /// (Otherwise, or if the read fails, as it was: a block read and checked per lookup.)
    pub fn held(mut self, most: u64) -> Self {
        let Ok(len) = usize::try_from(self.header.index_at) else {
            return self;
        };
        if self.header.index_at > most {
            return self;
        }
        let mut whole = vec![0u8; len];
        if self.file.read_exact_at(&mut whole, 0).is_err() {
            return self;
        }
        let checked = self
            .marks
            .iter()
            .all(|m| block_in(&whole, m).is_some_and(|b| cachefile::check_of(&[b]) == m.check));
        if checked {
            self.whole = Some(whole);
        }
        self
    }

    /// Whether it is held in memory ([`BlockFile::held`]).
    #[cfg(test)]
    pub fn is_held(&self) -> bool {
        self.whole.is_some()
    }

    /// The stamp in its header.
    pub fn stamp(&self) -> Stamp {
        self.header.stamp
    }

    /// Its header's check (which covers the sparse index, and through it every block).
    pub fn check(&self) -> [u8; 16] {
        self.header.check
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// `f` of the record bytes of `key`: `Ok(None)` if it holds none, `Err(())` if the one block
    /// that would hold it cannot be read or is damaged. The block is read into a buffer the
    /// thread keeps for its next lookup (no allocation per lookup).
    pub fn get_with<T>(&self, key: &K, f: impl FnOnce(&[u8]) -> T) -> Result<Option<T>, ()> {
        let Some(m) = cachefile::block_of(&self.marks, key).and_then(|i| self.marks.get(i)) else {
            return Ok(None);
        };
        if let Some(whole) = &self.whole {
            let block = block_in(whole, m).ok_or(())?;
            return Ok(cachefile::find_checked(m, block, key)?.map(f));
        }
        thread_local! {
            /// The block last read by this thread.
            static BLOCK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BLOCK.with(|cell| {
            // (a lookup inside `f` on the same thread gets a fresh buffer)
            let (mut held, mut fresh) = (cell.try_borrow_mut(), Vec::new());
            let block = held.as_deref_mut().unwrap_or(&mut fresh);
            block.resize(m.len as usize, 0);
            self.file.read_exact_at(block, m.at).map_err(|_| ())?;
            Ok(cachefile::find(m, block, key)?.map(f))
        })
    }

    fn read(&self, m: &Mark<K>) -> Result<Vec<u8>, ()> {
        let mut block = vec![0u8; m.len as usize];
        self.file.read_exact_at(&mut block, m.at).map_err(|_| ())?;
        Ok(block)
    }

    /// Every block, in key order, each checked (`Err(())` for one that cannot be read or whose
    /// check does not hold).
    pub fn blocks(&self) -> impl Iterator<Item = Result<Vec<u8>, ()>> + '_ {
        self.marks.iter().map(|m| {
            let b = self.read(m)?;
            if cachefile::check_of(&[&b]) == m.check {
                Ok(b)
            } else {
                Err(())
            }
        })
    }
}

/// The bytes of the block `m` in the whole file `whole`, if it holds them.
fn block_in<'a, K>(whole: &'a [u8], m: &Mark<K>) -> Option<&'a [u8]> {
    let at = usize::try_from(m.at).ok()?;
    whole.get(at..at.checked_add(m.len as usize)?)
}

/// Write a sorted block file at `path` from `records` (ascending keys; a key not above the last
/// is skipped): header, blocks, sparse index; synced. `err` names the file in an I/O error.
/// Returns the number of records and the header's check.
pub(super) fn write<K: FileKey>(
    path: &Path,
    stamp: Stamp,
    records: impl Iterator<Item = Result<(K, Vec<u8>)>>,
    err: impl Fn(std::io::Error) -> Error,
) -> Result<(u64, [u8; 16])> {
    let file = File::create(path).map_err(&err)?;
    let mut w = std::io::BufWriter::with_capacity(64 << 10, &file);
    w.write_all(&[0u8; HEADER_LEN]).map_err(&err)?;
    let mut b = cachefile::Builder::<K>::default();
    for r in records {
        let (key, bytes) = r?;
        if let Some(block) = b.push(key, &bytes) {
            w.write_all(&block).map_err(&err)?;
        }
    }
    let t = b.finish(stamp);
    w.write_all(&t.block).map_err(&err)?;
    w.write_all(&t.marks).map_err(&err)?;
    w.flush().map_err(&err)?;
    drop(w);
    file.write_all_at(&t.header, 0).map_err(&err)?;
    file.sync_all().map_err(&err)?;
    let mut check = [0u8; 16];
    check.copy_from_slice(&t.header[48..]);
    Ok((t.records, check))
}

/// Rename the written file `tmp` over `path` and sync their directory.
pub(super) fn put_in_place(
    tmp: &Path,
    path: &Path,
    err: impl Fn(std::io::Error) -> Error,
) -> Result<()> {
    std::fs::rename(tmp, path).map_err(&err)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(&err)?;
    }
    Ok(())
}
